import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { tableFromArrays } from "apache-arrow"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { afterAll, describe, expect, it } from "vitest"
import { asset } from "./Asset.ts"
import { check } from "./Check.ts"
import { resolveStore } from "./Launch.ts"
import { materialize } from "./Materialize.ts"
import { dailyPartitions } from "./Partitions.ts"
import { defineProject } from "./Project.ts"
import { gc, RetentionPolicyError } from "./Retention.ts"

const root = mkdtempSync(join(tmpdir(), "materia-gc-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const valueFolder = (location: string) => join(root, ".materia", "storage", ...location.split("/"))

describe("gc", () => {
  let scale = 1
  const orders = asset("orders", { format: "parquet" }, () =>
    tableFromArrays({ amount: Float64Array.from([scale]) })
  )
  const days = asset(
    "days",
    { partitions: dailyPartitions({ start: "2026-01-01", end: "2026-01-03" }), format: "parquet" },
    (_, ctx) => tableFromArrays({ day: [ctx.partition.key], amount: Float64Array.from([scale]) })
  )
  const project = defineProject({ name: "gc", assets: [orders, days], root })

  it("keeps the newest values of each asset and partition and never the current one; deletes old runs", async () => {
    const locations: Array<string> = []
    for (let i = 0; i < 4; i++) {
      scale = i + 1
      const result = await materialize(project, ["orders", "days"], { force: true })
      locations.push(result.steps.find((s) => s.key === "orders")!.handle!.location)
    }
    const store = await Effect.runPromise(resolveStore("local", root))
    const dry = await Effect.runPromise(gc(project, store, { values: 2 }, { dryRun: true }))
    // orders: 2 of 4 superseded; days: 2 partitions × 2 superseded each.
    expect(dry.values.filter((v) => v.key === "orders").map((v) => v.handle.location)).toEqual([
      locations[1],
      locations[0]
    ])
    expect(dry.values.filter((v) => v.key === "days").length).toBe(4)
    expect(existsSync(valueFolder(locations[0]!))).toBe(true)

    const done = await Effect.runPromise(gc(project, store, { values: 2 }))
    expect(done.failures).toEqual([])
    expect(existsSync(valueFolder(locations[0]!))).toBe(false)
    expect(existsSync(valueFolder(locations[3]!))).toBe(true)
    expect(existsSync(valueFolder(locations[2]!))).toBe(true)

    // Runs older than a day (by the clock): every run; their values go too, except the current ones.
    const later = await Effect.runPromise(
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.now() + 2 * 86_400_000)
        return yield* gc(project, store, { runs: "1 day" })
      }).pipe(Effect.provide(TestClock.layer()))
    )
    expect(later.runs.length).toBe(4)
    expect(existsSync(valueFolder(locations[2]!))).toBe(false)
    expect(existsSync(valueFolder(locations[3]!))).toBe(true)
    expect(await Effect.runPromise(store.storage.runs("gc"))).toEqual([])
    // The current values still load and nothing is stale.
    const again = await materialize(project, ["orders", "days"])
    expect(again.steps).toEqual([])
  })

  it("refuses a policy it cannot read", async () => {
    const store = await Effect.runPromise(resolveStore("local", root))
    const error = await Effect.runPromise(Effect.flip(gc(project, store, { values: 0 })))
    expect(error).toBeInstanceOf(RetentionPolicyError)
    const duration = await Effect.runPromise(Effect.flip(gc(project, store, { runs: "soon" })))
    expect(duration.message).toContain('"soon" is not a duration')
  })
})

describe("gc of rejected staged values", () => {
  it("deletes a value a blocking check rejected once its run is past the runs policy", async () => {
    const dir = mkdtempSync(join(tmpdir(), "materia-gc-rejected-"))
    try {
      const sales = asset("sales", { format: "parquet" }, () =>
        tableFromArrays({ amount: Float64Array.from([-1]) })
      )
      const positive = check(
        sales,
        "positive",
        { blocking: true },
        (table) => table.getChild("amount")!.get(0)! > 0
      )
      const project = defineProject({ name: "rejected", assets: [sales], checks: [positive], root: dir })
      const failed = await materialize(project, ["sales"], { raiseOnError: false })
      expect(failed.status).toBe("failed")
      const store = await Effect.runPromise(resolveStore("local", dir))
      const [staged] = await Effect.runPromise(store.storage.eventsByTag("rejected", ["CheckEvaluated"]))
      const location = staged!.event._tag === "CheckEvaluated" ? staged!.event.location! : ""
      const folder = join(dir, ".materia", "storage", ...location.split("/"))
      expect(existsSync(folder)).toBe(true)
      // Kept while its run is kept (for inspection).
      expect((await Effect.runPromise(gc(project, store, { runs: "1 day" }))).values).toEqual([])
      const later = await Effect.runPromise(
        Effect.gen(function* () {
          yield* TestClock.setTime(Date.now() + 2 * 86_400_000)
          return yield* gc(project, store, { runs: "1 day" })
        }).pipe(Effect.provide(TestClock.layer()))
      )
      expect(later.values.map((v) => [v.why, v.handle.location])).toEqual([["rejected", location]])
      expect(existsSync(folder)).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
