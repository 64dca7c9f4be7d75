/**
 * Partitions: planning a backfill of 50 assets × 365 days × 20 regions (365,000 steps) against
 * planning the same number of unpartitioned steps (a 365,000-asset layered graph) in the same
 * rounds; and one status page of an asset with 100,000 hourly partitions in a SQLite store.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { asset, defineProject, hourlyPartitions, memoryStore, partitionStatusPage } from "@materia/assets"
import {
  AssetGraph,
  type AssetSpec,
  makePartitionUniverse,
  multiPartitions,
  noRetry,
  type PartitionsSpec,
  plan,
  type RunEvent,
  resolveSelection,
  staticPartitions,
  timeWindowPartitions
} from "@materia/core"
import { makeSqliteStorage } from "@materia/core/sqlite"
import * as Effect from "effect/Effect"
import { layeredGraph, layeredSpecs } from "./LayeredGraph.ts"
import {
  count,
  figure,
  type Goal,
  ms,
  pairedRatio,
  RUNS,
  type Section,
  sampleAsync,
  sampleRounds,
  times,
  WARMUP_ROUNDS
} from "./Measure.ts"

const ASSETS = 50
const DAYS = 365
const REGIONS = 20
const STEPS = ASSETS * DAYS * REGIONS
const PLAN_GOAL = 3
const STATUS_PARTITIONS = 100_000

const regions = Array.from({ length: REGIONS }, (_, i) => `r${String(i).padStart(2, "0")}`)
const grid = multiPartitions({
  date: timeWindowPartitions({ cadence: "daily", start: "2025-01-01", end: "2026-01-01" }),
  region: staticPartitions(regions)
})

/** 50 assets in layers of 5, each reading 1–2 assets of the previous layer, all partitioned by date × region. */
const partitionedSpecs = (): ReadonlyArray<AssetSpec> => {
  const specs: Array<AssetSpec> = []
  const width = 5
  for (let i = 0; i < ASSETS; i++) {
    const layer = Math.floor(i / width)
    const parents =
      layer === 0 ? [] : [(layer - 1) * width + (i % width), (layer - 1) * width + ((i + 2) % width)]
    const key = `p${String(i).padStart(2, "0")}`
    const inputs = [...new Set(parents)].map((p) => ({
      name: `in${p}`,
      key: `p${String(p).padStart(2, "0")}`
    }))
    specs.push({
      key,
      kind: "asset",
      inputs,
      deps: [],
      group: "bench",
      tags: {},
      owners: [],
      metadata: {},
      codeVersion: "v1",
      codeVersionSource: "user",
      pool: "default",
      retry: noRetry,
      ioManager: "default",
      hasConfig: false,
      partitions: grid.spec as PartitionsSpec
    })
  }
  return specs
}

const planBackfill = (): Section["tables"][number] & { readonly goal: Goal } => {
  const partitionedGraph = AssetGraph.make(partitionedSpecs())
  const flatGraph = AssetGraph.make(layeredSpecs(layeredGraph(STEPS)))
  const now = Date.UTC(2026, 0, 2)
  let partitionedSteps = 0
  let flatSteps = 0
  const samples = sampleRounds(RUNS, {
    flat: () => {
      flatSteps = plan(flatGraph, resolveSelection(flatGraph, "*"), new Map()).steps.length
    },
    partitioned: () => {
      const universe = makePartitionUniverse(partitionedGraph, { now })
      partitionedSteps = plan(partitionedGraph, resolveSelection(partitionedGraph, "*"), new Map(), {
        partitions: { universe, states: new Map() }
      }).steps.length
    }
  })
  if (partitionedSteps !== STEPS)
    throw new Error(`the partitioned plan has ${partitionedSteps} steps, expected ${STEPS}`)
  if (flatSteps !== STEPS) throw new Error(`the flat plan has ${flatSteps} steps, expected ${STEPS}`)
  const flat = figure(samples.flat)
  const partitioned = figure(samples.partitioned)
  const ratio = pairedRatio(samples.partitioned, samples.flat)
  return {
    header: ["plan", "steps", "wall ms", "CPU ms", "over unpartitioned (wall / CPU)"],
    rows: [
      [
        "50 assets × 365 days × 20 regions",
        count(STEPS),
        ms(partitioned.wall),
        ms(partitioned.cpu),
        `${times(ratio.wall)} / ${times(ratio.cpu)}`
      ],
      [`${count(STEPS)} unpartitioned assets`, count(STEPS), ms(flat.wall), ms(flat.cpu), "1.00×"]
    ],
    goal: {
      name: `planning a backfill of ${count(STEPS)} (asset × partition) steps vs ${count(STEPS)} unpartitioned steps`,
      target: `≤ ${PLAN_GOAL}×`,
      actual: `${ms(partitioned.wall)} ms vs ${ms(flat.wall)} ms, ratio ${times(ratio.wall)} (CPU ${times(ratio.cpu)})`,
      met: ratio.wall <= PLAN_GOAL
    }
  }
}

const statusPage = async (): Promise<Section["tables"][number] & { readonly notes: string }> => {
  const dir = mkdtempSync(join(tmpdir(), "materia-partition-bench-"))
  try {
    const storage = await Effect.runPromise(makeSqliteStorage({ path: join(dir, "materia.db") }))
    const hours = hourlyPartitions({ start: "2015-01-01" })
    const keys = hours.keys({ now: Date.UTC(2026, 5, 1) }).slice(0, STATUS_PARTITIONS)
    const end = hours.window(keys[keys.length - 1]!).end
    const definition = hourlyPartitions({
      start: "2015-01-01",
      end: new Date(end).toISOString().slice(0, 13)
    })
    const readings = asset("readings", { partitions: definition }, () => 1)
    const project = defineProject({ name: "bench", assets: [readings] })
    // Record a materialization of every partition, in batches (as runs would).
    const batch = 5000
    for (let start = 0; start < keys.length; start += batch) {
      const events: Array<RunEvent> = []
      const runId = `r${start}`
      events.push({
        _tag: "RunStarted",
        runId,
        at: start,
        project: "bench",
        targets: ["readings"],
        steps: []
      })
      for (const partition of keys.slice(start, start + batch))
        events.push({
          _tag: "Materialization",
          runId,
          at: start + 1,
          key: "readings",
          partition,
          attempt: 1,
          dataVersion: `v-${partition}`,
          codeVersion: readings.spec.codeVersion,
          inputVersions: {},
          handle: null,
          metadata: {},
          durationMillis: 1
        })
      await Effect.runPromise(storage.append("bench", events))
    }
    const store = { ...memoryStore(), storage }
    const middle = keys[Math.floor(keys.length / 2)]!
    let items = 0
    const first = await sampleAsync(RUNS, async () => {
      const page = await Effect.runPromise(partitionStatusPage(project, store, "readings", { limit: 100 }))
      items = page.items.length
    })
    const deep = await sampleAsync(RUNS, async () => {
      await Effect.runPromise(partitionStatusPage(project, store, "readings", { after: middle, limit: 100 }))
    })
    if (items !== 100) throw new Error(`a status page held ${items} items, expected 100`)
    await Effect.runPromise(storage.close)
    const f = figure(first)
    const d = figure(deep)
    return {
      header: ["status page (100 partitions)", "partitions", "wall ms", "CPU ms"],
      rows: [
        ["first page", count(keys.length), ms(f.wall), ms(f.cpu)],
        [`page after ${middle}`, count(keys.length), ms(d.wall), ms(d.cpu)]
      ],
      notes: `The page lists the definition's keys (hourly from 2015-01-01, ${count(keys.length)} of them), reads the page's rows from SQLite by key, and the materialized/failed counts over all partitions.`
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs the partition benchmark. */
export const partitionBench = async (): Promise<Section> => {
  const planning = planBackfill()
  const status = await statusPage()
  return {
    title: "Partitions: backfill planning and paged status",
    summary:
      `Planning: \`makePartitionUniverse\` + selection \`*\` + \`plan()\` with no stored state (every step missing) over ` +
      `50 assets (layers of 5, 1–2 parents each) partitioned by date (365 days) × region (20), against selection + \`plan()\` ` +
      `of a ${count(STEPS)}-asset layered graph, in the same rounds (medians of ${RUNS} rounds after ${WARMUP_ROUNDS} warm-ups). ` +
      "Status: `partitionStatusPage` of one asset in a real SQLite store holding a materialization of every partition.",
    tables: [planning, status],
    goals: [planning.goal],
    notes: [status.notes]
  }
}
