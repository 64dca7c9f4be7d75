import { describe, expect, it } from "vitest"
import { AssetGraph } from "../graph/AssetGraph.ts"
import type { PartitionMappingSpec } from "../graph/AssetSpec.ts"
import { InvalidPartitionMapping } from "../partition/PartitionMapping.ts"
import {
  multiPartitions,
  type PartitionsSpec,
  staticPartitions,
  timeWindowPartitions
} from "../partition/PartitionsDefinition.ts"
import { makePartitionUniverse } from "../partition/PartitionUniverse.ts"
import { testSpec } from "../testing/TestRuntime.ts"
import { formatReason, plan, stepLabel } from "./Planner.ts"
import type { AssetState, PartitionSnapshot } from "./Snapshot.ts"

const NOW = Date.UTC(2026, 0, 6) // 2026-01-06T00:00Z: days 01..05 are closed
const daily = timeWindowPartitions({ cadence: "daily", start: "2026-01-01" }).spec
const monthly = timeWindowPartitions({ cadence: "monthly", start: "2025-12-01" }).spec
const regions = staticPartitions(["eu", "us"]).spec
const dailyByRegion = multiPartitions({
  date: timeWindowPartitions({ cadence: "daily", start: "2026-01-01" }),
  region: staticPartitions(["eu", "us"])
}).spec

interface Node {
  readonly key: string
  readonly inputs?: ReadonlyArray<string | { readonly key: string; readonly mapping: PartitionMappingSpec }>
  readonly partitions?: PartitionsSpec
  readonly single?: boolean
}

const graphOf = (nodes: ReadonlyArray<Node>) =>
  AssetGraph.make(
    nodes.map((node) => {
      const inputs = (node.inputs ?? []).map((i) =>
        typeof i === "string" ? { name: i, key: i } : { name: i.key, key: i.key, mapping: i.mapping }
      )
      return {
        ...testSpec(node.key),
        inputs,
        ...(node.partitions === undefined ? {} : { partitions: node.partitions }),
        ...(node.single === true ? { singleRunBackfill: true } : {})
      }
    })
  )

const fresh = (version: string, inputVersions: Record<string, string> = {}): AssetState => ({
  lastFailed: false,
  latest: { dataVersion: version, codeVersion: "v1", inputVersions }
})

const planWith = (
  graph: AssetGraph,
  targets: ReadonlyArray<string>,
  states: PartitionSnapshot = new Map(),
  requested?: Record<string, ReadonlyArray<string>>,
  extra: { force?: boolean; unpartitioned?: Map<string, AssetState> } = {}
) => {
  const universe = makePartitionUniverse(graph, { now: NOW })
  return plan(
    graph,
    targets.map((t) => graph.indexOf(t)),
    extra.unpartitioned ?? new Map(),
    {
      force: extra.force,
      partitions: {
        universe,
        states,
        requested:
          requested === undefined
            ? undefined
            : new Map(Object.entries(requested).map(([k, v]) => [graph.indexOf(k), v]))
      }
    }
  )
}

describe("planning partitions", () => {
  it("plans one step per missing partition, upstream before downstream, with identity mapping", () => {
    const graph = graphOf([
      { key: "raw", partitions: daily },
      { key: "clean", inputs: ["raw"], partitions: daily }
    ])
    const p = planWith(graph, ["clean"], new Map(), { clean: ["2026-01-02", "2026-01-03"] })
    expect(p.steps.map(stepLabel)).toEqual([
      "raw[2026-01-02]",
      "raw[2026-01-03]",
      "clean[2026-01-02]",
      "clean[2026-01-03]"
    ])
    expect(p.steps[2]!.upstream).toEqual([0])
    expect(p.steps[3]!.upstream).toEqual([1])
    expect(p.steps[2]!.inputPartitions).toEqual([["2026-01-02"]])
  })

  it("all closed partitions when none are requested; only the stale ones", () => {
    const graph = graphOf([{ key: "raw", partitions: daily }])
    const states = new Map([
      [
        "raw",
        new Map([
          ["2026-01-01", fresh("r1")],
          ["2026-01-03", fresh("r3")]
        ])
      ]
    ])
    const p = planWith(graph, ["raw"], states)
    expect(p.steps.map((s) => s.partition)).toEqual(["2026-01-02", "2026-01-04", "2026-01-05"])
    expect(p.steps.every((s) => formatReason(s.reasons[0]!) === "missing")).toBe(true)
  })

  it("a changed upstream partition makes only its own downstream partition stale", () => {
    const graph = graphOf([
      { key: "raw", partitions: daily },
      { key: "clean", inputs: ["raw"], partitions: daily }
    ])
    const days = ["2026-01-01", "2026-01-02"]
    const states = new Map([
      ["raw", new Map(days.map((d) => [d, fresh(`raw-${d}-new`)]))],
      [
        "clean",
        new Map([
          ["2026-01-01", fresh("c1", { raw: "raw-2026-01-01-new" })],
          ["2026-01-02", fresh("c2", { raw: "raw-2026-01-02-old" })]
        ])
      ]
    ])
    const p = planWith(graph, ["clean"], states, { clean: days })
    expect(p.steps.map(stepLabel)).toEqual(["clean[2026-01-02]"])
    expect(formatReason(p.steps[0]!.reasons[0]!)).toBe("upstream data changed: raw")
  })

  it("a month depends on its days (time-window mapping) and a day on the previous day (offset)", () => {
    const fromNovember = timeWindowPartitions({ cadence: "daily", start: "2025-11-29" }).spec
    const graph = graphOf([
      { key: "events", partitions: fromNovember },
      { key: "monthly_report", inputs: ["events"], partitions: monthly },
      {
        key: "delta",
        inputs: [{ key: "events", mapping: { kind: "offset", offset: -1 } }],
        partitions: fromNovember
      }
    ])
    const p = planWith(graph, ["monthly_report"], new Map(), { monthly_report: ["2025-12"] })
    const report = p.steps.find((s) => s.key === "monthly_report")!
    const december = Array.from({ length: 31 }, (_, i) => `2025-12-${String(i + 1).padStart(2, "0")}`)
    expect(report.inputPartitions).toEqual([december])
    expect(report.upstream.length).toBe(31)
    expect(p.steps.length).toBe(32)
    const q = planWith(graph, ["delta"], new Map(), { delta: ["2026-01-03"] })
    expect(q.steps.map(stepLabel)).toEqual(["events[2026-01-02]", "delta[2026-01-03]"])
    const first = planWith(graph, ["delta"], new Map(), { delta: ["2025-11-29"] })
    expect(first.steps.map(stepLabel)).toEqual(["delta[2025-11-29]"])
  })

  it("multi-dimensional partitions depend on one dimension of a single-dimension upstream", () => {
    const graph = graphOf([
      { key: "regional_config", partitions: regions },
      { key: "sales", inputs: ["regional_config"], partitions: dailyByRegion }
    ])
    const p = planWith(graph, ["sales"], new Map(), {
      sales: ["2026-01-02|eu", "2026-01-02|us", "2026-01-03|eu"]
    })
    expect(p.steps.map(stepLabel)).toEqual([
      "regional_config[eu]",
      "regional_config[us]",
      "sales[2026-01-02|eu]",
      "sales[2026-01-02|us]",
      "sales[2026-01-03|eu]"
    ])
    expect(p.steps[4]!.upstream).toEqual([0])
  })

  it("an unpartitioned downstream reads all upstream partitions and is stale when any changes", () => {
    const graph = graphOf([
      { key: "raw", partitions: regions },
      { key: "summary", inputs: ["raw"] }
    ])
    const states = new Map([
      [
        "raw",
        new Map([
          ["eu", fresh("eu1")],
          ["us", fresh("us1")]
        ])
      ]
    ])
    const first = planWith(graph, ["summary"], states)
    expect(first.steps.map(stepLabel)).toEqual(["summary"])
    expect(first.steps[0]!.inputPartitions).toEqual([["eu", "us"]])
    expect(first.loaded).toEqual(["raw"])
  })

  it("a single-run backfill asset gets one step for its whole stale range", () => {
    const graph = graphOf([
      { key: "raw", partitions: daily },
      { key: "sql_model", inputs: ["raw"], partitions: daily, single: true }
    ])
    const p = planWith(graph, ["sql_model"], new Map(), {
      sql_model: ["2026-01-01", "2026-01-02", "2026-01-03"]
    })
    const last = p.steps[p.steps.length - 1]!
    expect(stepLabel(last)).toBe("sql_model[2026-01-01...2026-01-03]")
    expect(last.partitions).toEqual(["2026-01-01", "2026-01-02", "2026-01-03"])
    expect(last.upstream).toEqual([0, 1, 2])
  })

  it("a mapping that cannot work names both assets", () => {
    const graph = graphOf([
      { key: "raw", partitions: regions },
      { key: "daily_sum", inputs: ["raw"], partitions: daily }
    ])
    expect(() => planWith(graph, ["daily_sum"], new Map(), { daily_sum: ["2026-01-01"] })).toThrow(
      InvalidPartitionMapping
    )
    try {
      planWith(graph, ["daily_sum"], new Map(), { daily_sum: ["2026-01-01"] })
    } catch (error) {
      expect(String((error as Error).message)).toContain('"daily_sum" cannot depend on "raw"')
    }
  })

  it("force re-plans only the requested partitions of the targets", () => {
    const graph = graphOf([{ key: "raw", partitions: daily }])
    const states = new Map([
      [
        "raw",
        new Map([
          ["2026-01-01", fresh("a")],
          ["2026-01-02", fresh("b")]
        ])
      ]
    ])
    const p = planWith(graph, ["raw"], states, { raw: ["2026-01-02"] }, { force: true })
    expect(p.steps.map(stepLabel)).toEqual(["raw[2026-01-02]"])
  })
})

describe("force with partitions", () => {
  it("re-makes the requested partitions of a target, not the ones it is only upstream of", () => {
    const graph = graphOf([
      { key: "raw", partitions: daily },
      { key: "clean", inputs: ["raw"], partitions: daily }
    ])
    const states = new Map([
      [
        "raw",
        new Map([
          ["2026-01-02", fresh("r2")],
          ["2026-01-03", fresh("r3")]
        ])
      ],
      ["clean", new Map([["2026-01-02", fresh("c2", { raw: "r2" })]])]
    ])
    // raw is a target for 01-02 only; clean needs raw[01-03], which is fresh: not forced.
    const p = planWith(
      graph,
      ["raw", "clean"],
      states,
      { raw: ["2026-01-02"], clean: ["2026-01-03"] },
      { force: true }
    )
    expect(p.steps.map(stepLabel)).toEqual(["raw[2026-01-02]", "clean[2026-01-03]"])
  })
})
