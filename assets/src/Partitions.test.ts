import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { InvalidPartitionMapping, type PartitionedInput } from "@materia/core"
import { tableFromArrays } from "apache-arrow"
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, expectTypeOf, it } from "vitest"
import { asset } from "./Asset.ts"
import { queueBackfill, resumeBackfill } from "./Backfill.ts"
import { addDynamicPartitions, deleteDynamicPartitions } from "./DynamicPartitions.ts"
import { explore } from "./Explore.ts"
import { materialize, materializeEffect, reexecute } from "./Materialize.ts"
import { PartitionRequestError } from "./PartitionRequest.ts"
import {
  dailyPartitions,
  dynamicPartitions,
  mapped,
  monthlyPartitions,
  multiPartitions,
  offsetMapping,
  partitionsOf,
  staticPartitions,
  type TimeWindowPartition
} from "./Partitions.ts"
import { defineProject } from "./Project.ts"
import { memoryStore } from "./Store.ts"

const days = dailyPartitions({ start: "2026-01-01", end: "2026-01-06" })
const regions = staticPartitions(["eu", "us"])

describe("partitioned assets", () => {
  const seen: Array<string> = []
  const events = asset("events", { partitions: days }, (_, ctx) => {
    expectTypeOf(ctx.partition).toExtend<TimeWindowPartition>()
    expectTypeOf(ctx.partition.start).toEqualTypeOf<Date>()
    seen.push(ctx.partition.key)
    return {
      day: ctx.partition.key,
      hours: (ctx.partition.end.getTime() - ctx.partition.start.getTime()) / 3.6e6,
      made: seen.length
    }
  })
  const daily_total = asset("daily_total", { partitions: days, ins: { events } }, ({ events }, ctx) => {
    expectTypeOf(events).toEqualTypeOf<{ day: string; hours: number; made: number }>()
    return `${ctx.partition.key}:${events.hours}`
  })
  const yesterday = asset(
    "delta",
    { partitions: days, ins: { prev: mapped(events, offsetMapping(-1)), today: events } },
    ({ prev, today }) => `${prev?.day ?? "none"}→${today.day}`
  )
  const month = asset(
    "month",
    {
      partitions: monthlyPartitions({ start: "2026-01", end: "2026-02" }),
      ins: { days: partitionsOf(events) }
    },
    async ({ days }) => {
      expectTypeOf(days).toEqualTypeOf<PartitionedInput<{ day: string; hours: number; made: number }>>()
      const all = await days.toMap()
      return [...all.keys()]
    }
  )
  const summary = asset("summary", { ins: { events } }, async ({ events }) => {
    expectTypeOf(events).toEqualTypeOf<PartitionedInput<{ day: string; hours: number; made: number }>>()
    const out: Array<string> = []
    for await (const [key] of events) out.push(key)
    return out
  })
  const project = defineProject({
    name: "partitions",
    assets: [events, daily_total, yesterday, month, summary]
  })

  it("runs one step per partition with a typed ctx.partition, and only stale partitions again", async () => {
    const store = memoryStore()
    const first = await materialize(project, ["daily_total"], {
      storage: store,
      partitions: "2026-01-02...2026-01-03"
    })
    expect(first.steps.map((s) => `${s.key}[${s.partition}]`)).toEqual([
      "events[2026-01-02]",
      "events[2026-01-03]",
      "daily_total[2026-01-02]",
      "daily_total[2026-01-03]"
    ])
    expect(seen).toEqual(["2026-01-02", "2026-01-03"])
    const again = await materialize(project, ["daily_total"], {
      storage: store,
      partitions: "2026-01-02...2026-01-03"
    })
    expect(again.steps).toEqual([])
    const wider = await materialize(project, ["daily_total"], {
      storage: store,
      partitions: "2026-01-01...2026-01-04"
    })
    expect(wider.steps.map((s) => s.partition)).toEqual([
      "2026-01-01",
      "2026-01-04",
      "2026-01-01",
      "2026-01-04"
    ])
    const forced = await materialize(project, ["events"], {
      storage: store,
      partitions: "2026-01-02",
      force: true
    })
    expect(forced.steps.map((s) => s.partition)).toEqual(["2026-01-02"])
    // The memory IO manager versions plain objects logically (code + inputs): re-making a day with
    // the same code gives the same version, so nothing downstream is stale.
    const follow = await materialize(project, ["daily_total"], {
      storage: store,
      partitions: "2026-01-01...2026-01-04"
    })
    expect(follow.steps).toEqual([])
  })

  it("offset, time-window and all-partitions mappings hand bodies the right partitions", async () => {
    const store = memoryStore()
    await materialize(project, ["delta"], { storage: store, partitions: "2026-01-01...2026-01-02" })
    const monthRun = await materialize(project, ["month"], { storage: store, partitions: "2026-01" })
    expect(await monthRun.value(month)).toEqual([
      "2026-01-01",
      "2026-01-02",
      "2026-01-03",
      "2026-01-04",
      "2026-01-05"
    ])
    const summaryRun = await materialize(project, ["summary"], { storage: store })
    expect(await summaryRun.value(summary)).toEqual([
      "2026-01-01",
      "2026-01-02",
      "2026-01-03",
      "2026-01-04",
      "2026-01-05"
    ])
  })

  it("a bad partition request fails before anything runs, naming the asset and the valid range", async () => {
    const store = memoryStore()
    const error = await Effect.runPromise(
      Effect.flip(materializeEffect(project, ["daily_total"], { storage: store, partitions: "2026-02-01" }))
    )
    expect(error).toBeInstanceOf(PartitionRequestError)
    expect(error.message).toContain('asset "daily_total"')
    expect(error.message).toMatch(/2026-01-01/)
    const plain = asset("plain", {}, () => 1)
    const p2 = defineProject({ name: "p2", assets: [plain] })
    const e2 = await Effect.runPromise(
      Effect.flip(materializeEffect(p2, ["plain"], { storage: "memory", partitions: "2026-01-01" }))
    )
    expect(e2.message).toContain("no selected asset is partitioned")
  })

  it("a mapping that cannot work is a definition-time error naming both assets", () => {
    const byRegion = asset("by_region", { partitions: regions }, () => 1)
    expect(() =>
      asset("per_day", { partitions: days, ins: { byRegion } }, ({ byRegion }) => byRegion)
    ).toThrow(InvalidPartitionMapping)
    expect(() =>
      asset("month2", { partitions: monthlyPartitions({ start: "2026-01" }), ins: { events } }, () => 1)
    ).toThrow(/partitionsOf/)
  })
})

describe("partitioned values on disk", () => {
  const root = mkdtempSync(join(tmpdir(), "materia-partitions-"))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const grid = multiPartitions({ date: days, region: regions })
  const sales = asset("sales", { partitions: grid, format: "parquet" }, (_, ctx) =>
    tableFromArrays({ region: [ctx.partition.dimensions.region], amount: Float64Array.from([1.5]) })
  )
  const project = defineProject({ name: "hive", assets: [sales], root })

  it("stores each partition under hive folders (date=…/region=…) and records it", async () => {
    const result = await materialize(project, ["sales"], { partitions: "date=2026-01-02;region=eu,us" })
    expect(result.steps.map((s) => s.partition)).toEqual(["2026-01-02|eu", "2026-01-02|us"])
    const dir = join(root, ".materia", "storage", "sales", "date=2026-01-02")
    expect(readdirSync(dir).sort()).toEqual(["region=eu", "region=us"])
  })

  it("explores a partitioned asset as one view with its partition columns (Parquet and Arrow values)", async () => {
    const arrowSales = asset("arrow_sales", { partitions: regions, format: "arrow" }, (_, ctx) =>
      tableFromArrays({ amount: Float64Array.from([ctx.partition.key === "eu" ? 1 : 2]) })
    )
    const both = defineProject({ name: "hive", assets: [sales, arrowSales], root })
    await materialize(both, ["sales"], { partitions: "date=2026-01-03;region=eu" })
    await materialize(both, ["arrow_sales"])
    const explorer = await explore(both)
    try {
      const rows = await explorer.query("SELECT date, region, amount FROM sales ORDER BY date, region")
      expect(rows.rows).toEqual([
        { date: "2026-01-02", region: "eu", amount: 1.5 },
        { date: "2026-01-02", region: "us", amount: 1.5 },
        { date: "2026-01-03", region: "eu", amount: 1.5 }
      ])
      const arrow = await explorer.query("SELECT partition, amount FROM arrow_sales ORDER BY partition")
      expect(arrow.rows).toEqual([
        { partition: "eu", amount: 1 },
        { partition: "us", amount: 2 }
      ])
    } finally {
      explorer.close()
    }
  })
})

describe("re-executing a partitioned run", () => {
  it("--from-failure runs only the failed partitions again", async () => {
    const broken = new Set(["2026-01-02"])
    const made: Array<string> = []
    const flaky = asset("flaky", { partitions: days }, (_, ctx) => {
      if (broken.has(ctx.partition.key)) throw new Error(`broken ${ctx.partition.key}`)
      made.push(ctx.partition.key)
      return ctx.partition.key
    })
    const project = defineProject({ name: "reexec", assets: [flaky] })
    const store = memoryStore()
    const failed = await materialize(project, ["flaky"], {
      storage: store,
      partitions: "2026-01-01...2026-01-03",
      raiseOnError: false
    })
    expect(failed.status).toBe("failed")
    broken.clear()
    made.length = 0
    const again = await reexecute(project, { storage: store, fromFailure: failed.runId })
    expect(again.steps.map((s) => s.partition)).toEqual(["2026-01-02"])
    expect(made).toEqual(["2026-01-02"])
  })
})

describe("single-run backfills", () => {
  it("one step receives the whole stale range as ctx.partitionRange; each partition is recorded", async () => {
    const ranges: Array<{ from: string; to: string; keys: number; hours: number }> = []
    const warehouse = asset("warehouse", { partitions: days, backfill: "single-run" }, (_, ctx) => {
      const range = ctx.partitionRange!
      ranges.push({
        from: range.from,
        to: range.to,
        keys: range.keys.length,
        hours: (range.end!.getTime() - range.start!.getTime()) / 3.6e6
      })
      return undefined
    })
    const project = defineProject({ name: "single", assets: [warehouse] })
    const store = memoryStore()
    const first = await materialize(project, ["warehouse"], {
      storage: store,
      partitions: "2026-01-02...2026-01-04"
    })
    expect(first.steps.map((s) => s.partition)).toEqual(["2026-01-02...2026-01-04"])
    expect(ranges).toEqual([{ from: "2026-01-02", to: "2026-01-04", keys: 3, hours: 72 }])
    const stored = await Effect.runPromise(store.storage.partitions("single", "warehouse"))
    expect(stored.map((s) => s.partition)).toEqual(["2026-01-02", "2026-01-03", "2026-01-04"])
    // The next run covers only what is still missing: one step per contiguous range.
    const next = await materialize(project, ["warehouse"], { storage: store })
    expect(next.steps.map((s) => s.partition)).toEqual(["2026-01-01", "2026-01-05"])
    expect(ranges.slice(1).map((r) => r.keys)).toEqual([1, 1])
  })
})

describe("dynamic partitions from code", () => {
  it("adds keys that the next materialize plans, and refuses bad keys and unknown definitions", async () => {
    const customers = dynamicPartitions("customers")
    const report = asset("report", { partitions: customers }, (_, ctx) => `report ${ctx.partition.key}`)
    const project = defineProject({ name: "dyn", assets: [report] })
    const store = memoryStore()
    expect(
      await Effect.runPromise(
        addDynamicPartitions(project, "customers", ["acme", "globex"], { storage: store })
      )
    ).toBe(2)
    const run = await materialize(project, ["report"], { storage: store })
    expect(run.steps.map((s) => s.partition)).toEqual(["acme", "globex"])
    await Effect.runPromise(deleteDynamicPartitions(project, "customers", ["globex"], { storage: store }))
    const bad = await Effect.runPromise(
      Effect.flip(addDynamicPartitions(project, "customers", ["a/b"], { storage: store }))
    )
    expect(bad).toBeInstanceOf(PartitionRequestError)
    const unknown = await Effect.runPromise(
      Effect.flip(addDynamicPartitions(project, "nope", ["x"], { storage: store }))
    )
    expect(unknown.message).toContain('dynamic partitions "nope"')
  })
})

describe("explore before any run", () => {
  it("opens with no views instead of failing on a missing storage folder", async () => {
    const fresh = mkdtempSync(join(tmpdir(), "materia-explore-fresh-"))
    try {
      const plain = asset("plain", {}, () => 1)
      const explorer = await explore(defineProject({ name: "fresh", assets: [plain], root: fresh }))
      expect(explorer.views).toEqual([])
      explorer.close()
    } finally {
      rmSync(fresh, { recursive: true, force: true })
    }
  })
})

describe("queued backfills", () => {
  it("are recorded without running, then resumed by whoever drives them (the daemon)", async () => {
    const made: Array<string> = []
    const daily = asset("daily", { partitions: days }, (_, ctx) => {
      made.push(ctx.partition.key)
      return ctx.partition.key
    })
    const project = defineProject({ name: "queued", assets: [daily] })
    const store = memoryStore()
    const record = await Effect.runPromise(
      queueBackfill(project, store, { select: "daily", partitions: "2026-01-01...2026-01-02" })
    )
    expect(record.status).toBe("queued")
    expect(record.progress.total).toBe(2)
    expect(made).toEqual([])
    const bad = await Effect.runPromise(
      Effect.flip(queueBackfill(project, store, { select: "daily", partitions: "2027-01-01" }))
    )
    expect(bad.message).toContain('asset "daily"')
    const done = await Effect.runPromise(resumeBackfill(project, store, record.backfillId))
    expect(done.record.status).toBe("succeeded")
    expect(made).toEqual(["2026-01-01", "2026-01-02"])
  })
})
