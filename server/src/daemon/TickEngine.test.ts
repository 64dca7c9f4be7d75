import { type Alert, AlertSummary, automate, eager, missing, schedule, sensor } from "@materia/assets"
import { AssetGraph, type AssetSpec, noRetry, type PartitionsSpec, timeWindowPartitions } from "@materia/core"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { type DaemonStore, makeMemoryDaemonStore } from "./DaemonStore.ts"
import {
  type AssetObservation,
  type Definitions,
  runTick,
  setStatus,
  type TickOptions
} from "./TickEngine.ts"

const at = (iso: string): number => Date.parse(iso)
const spec = (key: string, partitions?: PartitionsSpec): AssetSpec => ({
  key,
  kind: "asset",
  inputs: [],
  deps: [],
  group: "default",
  tags: {},
  owners: [],
  metadata: {},
  codeVersion: "v1",
  codeVersionSource: "user",
  pool: "default",
  retry: noRetry,
  ioManager: "memory",
  hasConfig: false,
  ...(partitions === undefined ? {} : { partitions })
})
const graph = AssetGraph.make([
  spec("orders"),
  spec("daily_orders", timeWindowPartitions({ cadence: "daily", start: "2026-01-01" }).spec)
])

const test = <A, E>(f: (store: DaemonStore) => Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provide(f(makeMemoryDaemonStore()), TestClock.layer()))

let ids = 0
const options: TickOptions = { newId: () => `run-${++ids}` }
const tickAt = (defs: Definitions, store: DaemonStore, iso: string, extra: TickOptions = {}) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(at(iso))
    return yield* runTick(defs, store, { ...options, ...extra })
  })

describe("schedules", () => {
  const hourly = schedule("hourly", { cron: "0 * * * *", select: "orders", defaultStatus: "running" })
  const defs: Definitions = { graph, schedules: [hourly], sensors: [] }

  it("a running schedule ticks once per scheduled time, from when it was first seen", () =>
    test((store) =>
      Effect.gen(function* () {
        expect((yield* tickAt(defs, store, "2026-02-10T10:30:00Z")).ticks).toEqual([])
        expect((yield* tickAt(defs, store, "2026-02-10T10:59:59Z")).ticks).toEqual([])
        const report = yield* tickAt(defs, store, "2026-02-10T11:00:00.250Z")
        expect(report.ticks).toHaveLength(1)
        expect(report.ticks[0]).toMatchObject({
          tickId: "schedule:hourly@2026-02-10T11:00:00.000Z",
          status: "requested",
          tickAt: at("2026-02-10T11:00:00Z"),
          evaluatedAt: at("2026-02-10T11:00:00.250Z")
        })
        expect((yield* tickAt(defs, store, "2026-02-10T11:00:01Z")).ticks).toEqual([])
        const runs = yield* store.runs()
        expect(runs).toHaveLength(1)
        expect(runs[0]).toMatchObject({
          status: "queued",
          request: { select: ["orders"], runKey: "hourly@2026-02-10T11:00:00.000Z" }
        })
      })
    ))

  it("a tick is recorded once by its id, even when the state is behind (a daemon that crashed)", () =>
    test((store) =>
      Effect.gen(function* () {
        yield* tickAt(defs, store, "2026-02-10T10:30:00Z")
        yield* tickAt(defs, store, "2026-02-10T11:00:05Z")
        const state = (yield* store.state("schedule", "hourly"))!
        yield* store.setState({ ...state, lastTickAt: undefined })
        expect((yield* tickAt(defs, store, "2026-02-10T11:00:06Z")).ticks).toEqual([])
        expect(yield* store.runs()).toHaveLength(1)
        expect(yield* store.ticks()).toHaveLength(1)
      })
    ))

  it("after downtime, catch-up `latest` runs the last missed tick and `all` up to a limit", () =>
    test((store) =>
      Effect.gen(function* () {
        yield* tickAt(defs, store, "2026-02-10T10:30:00Z")
        const latest = yield* tickAt(defs, store, "2026-02-10T14:10:00Z")
        expect(latest.ticks.map((t) => t.tickId)).toEqual(["schedule:hourly@2026-02-10T14:00:00.000Z"])
        const all = yield* tickAt(defs, store, "2026-02-10T18:10:00Z", {
          catchUp: { policy: "all", limit: 3 }
        })
        expect(all.ticks.map((t) => t.tickId)).toEqual([
          "schedule:hourly@2026-02-10T16:00:00.000Z",
          "schedule:hourly@2026-02-10T17:00:00.000Z",
          "schedule:hourly@2026-02-10T18:00:00.000Z"
        ])
      })
    ))

  it("a cache of next due times kept across ticks changes nothing but the cost", () =>
    test((store) =>
      Effect.gen(function* () {
        const cache = new Map()
        const withCache = { cache }
        yield* tickAt(defs, store, "2026-02-10T10:30:00Z", withCache)
        expect((yield* tickAt(defs, store, "2026-02-10T10:45:00Z", withCache)).ticks).toEqual([])
        expect(cache.get("hourly")).toEqual({
          after: at("2026-02-10T10:30:00Z"),
          next: at("2026-02-10T11:00:00Z")
        })
        expect((yield* tickAt(defs, store, "2026-02-10T11:00:00Z", withCache)).ticks).toHaveLength(1)
        expect((yield* tickAt(defs, store, "2026-02-10T11:30:00Z", withCache)).ticks).toEqual([])
        // Restarted (stopped and started) while cached: the new start time invalidates the entry.
        yield* setStatus(store, "schedule", "hourly", "stopped", at("2026-02-10T11:40:00Z"))
        yield* setStatus(store, "schedule", "hourly", "running", at("2026-02-10T12:30:00Z"))
        expect((yield* tickAt(defs, store, "2026-02-10T12:45:00Z", withCache)).ticks).toEqual([])
        const after = yield* tickAt(defs, store, "2026-02-10T14:05:00Z", withCache)
        expect(after.ticks.map((t) => t.tickId)).toEqual(["schedule:hourly@2026-02-10T14:00:00.000Z"])
      })
    ))

  it("a stopped schedule does not tick; started, it ticks from then on", () =>
    test((store) =>
      Effect.gen(function* () {
        const stopped = schedule("s", { cron: "0 * * * *", select: "orders" })
        const d: Definitions = { graph, schedules: [stopped], sensors: [] }
        expect((yield* tickAt(d, store, "2026-02-10T11:00:00Z")).ticks).toEqual([])
        yield* setStatus(store, "schedule", "s", "running", at("2026-02-10T11:30:00Z"))
        expect((yield* tickAt(d, store, "2026-02-10T11:45:00Z")).ticks).toEqual([])
        expect((yield* tickAt(d, store, "2026-02-10T12:00:00Z")).ticks).toHaveLength(1)
        yield* setStatus(store, "schedule", "s", "stopped", at("2026-02-10T12:10:00Z"))
        expect((yield* tickAt(d, store, "2026-02-10T13:00:00Z")).ticks).toEqual([])
      })
    ))

  it("a stop landing between a tick's read of the state and its commit stays: no tick after it", () =>
    test((inner) =>
      Effect.gen(function* () {
        let stopDuringCommit = false
        // The stop lands after runTick read the states, just before the tick's commit.
        const store: DaemonStore = {
          ...inner,
          commitTick: (input) =>
            Effect.andThen(
              stopDuringCommit
                ? setStatus(inner, "schedule", "hourly", "stopped", at("2026-02-10T11:00:00Z"))
                : Effect.void,
              inner.commitTick(input)
            )
        }
        yield* tickAt(defs, store, "2026-02-10T10:30:00Z")
        stopDuringCommit = true
        expect((yield* tickAt(defs, store, "2026-02-10T11:00:00Z")).ticks).toHaveLength(1)
        stopDuringCommit = false
        expect(yield* store.state("schedule", "hourly")).toMatchObject({
          status: "stopped",
          lastTickAt: at("2026-02-10T11:00:00Z")
        })
        expect((yield* tickAt(defs, store, "2026-02-10T12:00:00Z")).ticks).toEqual([])
        expect(yield* store.ticks()).toHaveLength(1)
      })
    ))

  it("a schedule on a daily-partitioned asset launches yesterday", () =>
    test((store) =>
      Effect.gen(function* () {
        const nightly = schedule("nightly", {
          cron: "0 1 * * *",
          select: "daily_orders",
          defaultStatus: "running"
        })
        const d: Definitions = { graph, schedules: [nightly], sensors: [] }
        yield* tickAt(d, store, "2026-02-09T12:00:00Z")
        const report = yield* tickAt(d, store, "2026-02-10T01:00:00Z")
        const [run] = yield* store.runs({ tickId: report.ticks[0]!.tickId })
        expect(run?.request.partitions).toEqual(["2026-02-09"])
      })
    ))

  it("a schedule whose partitions function throws records a failed tick", () =>
    test((store) =>
      Effect.gen(function* () {
        const broken = schedule("broken", {
          cron: "0 * * * *",
          select: "orders",
          defaultStatus: "running",
          partitions: () => {
            throw new Error("no calendar")
          }
        })
        const d: Definitions = { graph, schedules: [broken], sensors: [] }
        yield* tickAt(d, store, "2026-02-10T10:30:00Z")
        const report = yield* tickAt(d, store, "2026-02-10T11:00:00Z")
        expect(report.ticks[0]).toMatchObject({ status: "failed", error: "no calendar", runIds: [] })
      })
    ))
})

describe("sensors", () => {
  it("evaluates every interval with the cursor, launching each run key once", () =>
    test((store) =>
      Effect.gen(function* () {
        const files = ["a.csv"]
        const seen: Array<unknown> = []
        const s = sensor("files", {
          interval: "30 seconds",
          defaultStatus: "running",
          evaluate: ({ cursor, lastTickAt }) => {
            seen.push({ cursor, lastTickAt })
            return {
              runRequests: files.map((f) => ({ select: "orders", runKey: f })),
              cursor: String(files.length)
            }
          }
        })
        const d: Definitions = { graph, schedules: [], sensors: [s] }
        const first = yield* tickAt(d, store, "2026-02-10T10:00:00Z")
        expect(first.ticks[0]).toMatchObject({ status: "requested", cursor: "1" })
        expect((yield* tickAt(d, store, "2026-02-10T10:00:29Z")).ticks).toEqual([])
        files.push("b.csv")
        const second = yield* tickAt(d, store, "2026-02-10T10:00:30Z")
        expect(second.ticks[0]).toMatchObject({ status: "requested", cursor: "2" })
        const third = yield* tickAt(d, store, "2026-02-10T10:01:00Z")
        expect(third.ticks[0]).toMatchObject({
          status: "skipped",
          skipReason: "run keys already launched: a.csv, b.csv"
        })
        expect((yield* store.runs()).map((r) => r.request.runKey)).toEqual(["a.csv", "b.csv"])
        expect(seen).toEqual([
          { cursor: undefined, lastTickAt: undefined },
          { cursor: "1", lastTickAt: at("2026-02-10T10:00:00Z") },
          { cursor: "2", lastTickAt: at("2026-02-10T10:00:30Z") }
        ])
      })
    ))

  it("a schedule running by default, stopped just as the daemon first sees it, stays stopped", () =>
    test((store) =>
      Effect.gen(function* () {
        const s = schedule("hourly", { cron: "0 * * * *", select: "orders", defaultStatus: "running" })
        const d: Definitions = { graph, schedules: [s], sensors: [] }
        // `materia schedules stop hourly` lands between the daemon's read (nothing stored) and its write.
        const racing: typeof store = {
          ...store,
          initState: (state) =>
            Effect.andThen(
              setStatus(store, "schedule", "hourly", "stopped", at("2026-02-10T10:00:00Z")),
              store.initState(state)
            )
        }
        expect((yield* tickAt(d, racing, "2026-02-10T10:00:00Z")).ticks).toEqual([])
        expect((yield* store.state("schedule", "hourly"))?.status).toBe("stopped")
        expect((yield* tickAt(d, store, "2026-02-10T12:30:00Z")).ticks).toEqual([])
      })
    ))

  it("a sensor stopped while it evaluates is not evaluated again", () =>
    test((store) =>
      Effect.gen(function* () {
        let evaluations = 0
        const s = sensor("files", {
          interval: "30 seconds",
          defaultStatus: "running",
          evaluate: () => {
            evaluations++
            // `materia sensors stop files` lands while the evaluation runs.
            Effect.runSync(setStatus(store, "sensor", "files", "stopped", at("2026-02-10T10:00:00Z")))
            return { skipReason: "nothing new", cursor: "c1" }
          }
        })
        const d: Definitions = { graph, schedules: [], sensors: [s] }
        expect((yield* tickAt(d, store, "2026-02-10T10:00:00Z")).ticks).toHaveLength(1)
        expect(yield* store.state("sensor", "files")).toMatchObject({ status: "stopped", cursor: "c1" })
        expect((yield* tickAt(d, store, "2026-02-10T10:01:00Z")).ticks).toEqual([])
        expect(evaluations).toBe(1)
      })
    ))

  it("a sensor that throws records a failed tick and the others still tick", () =>
    test((store) =>
      Effect.gen(function* () {
        const bad = sensor("bad", {
          interval: 1000,
          defaultStatus: "running",
          evaluate: () => {
            throw new Error("boom")
          }
        })
        const unknown = sensor("unknown", {
          interval: 1000,
          defaultStatus: "running",
          evaluate: () => ({ runRequests: [{ select: "ordrs" }] })
        })
        const good = sensor("good", {
          interval: 1000,
          defaultStatus: "running",
          evaluate: () => ({ cursor: "x" })
        })
        const d: Definitions = { graph, schedules: [], sensors: [bad, unknown, good] }
        const report = yield* tickAt(d, store, "2026-02-10T10:00:00Z")
        const byName = Object.fromEntries(report.ticks.map((t) => [t.name, t]))
        expect(byName.bad).toMatchObject({
          status: "failed",
          error: 'sensor "bad" failed: evaluate threw Error: boom'
        })
        expect(byName.unknown?.status).toBe("failed")
        expect(byName.unknown?.error).toMatch(/run request 0: selection "ordrs".*orders/)
        expect(byName.good).toMatchObject({ status: "skipped", cursor: "x" })
        expect(yield* store.runs()).toEqual([])
      })
    ))

  it("a hanging sensor times out on the clock; the tick records it", () =>
    test((store) =>
      Effect.gen(function* () {
        const hangs = sensor("hangs", {
          interval: 1000,
          timeout: "10 seconds",
          defaultStatus: "running",
          evaluate: () => new Promise(() => {})
        })
        const d: Definitions = { graph, schedules: [], sensors: [hangs] }
        yield* TestClock.setTime(at("2026-02-10T10:00:00Z"))
        const fiber = yield* Effect.forkChild(runTick(d, store, options))
        yield* TestClock.adjust("10 seconds")
        const report = yield* Fiber.join(fiber)
        expect(report.ticks[0]).toMatchObject({
          status: "failed",
          error: 'sensor "hangs" failed: evaluate did not finish within 10s; it was interrupted'
        })
      })
    ))

  it("adds the dynamic partitions a sensor asks for before recording its runs", () =>
    test((store) =>
      Effect.gen(function* () {
        const added: Array<unknown> = []
        const s = sensor("customers", {
          interval: 1000,
          defaultStatus: "running",
          evaluate: () => ({
            addPartitions: [{ definition: "customers", keys: ["acme"] }],
            runRequests: [{ select: "orders", partitions: ["acme"], runKey: "acme" }]
          })
        })
        const d: Definitions = { graph, schedules: [], sensors: [s] }
        yield* tickAt(d, store, "2026-02-10T10:00:00Z", {
          addPartitions: (add) =>
            Effect.sync(() => {
              added.push(...add)
            })
        })
        expect(added).toEqual([{ definition: "customers", keys: ["acme"] }])
        expect(yield* store.runs()).toHaveLength(1)
      })
    ))
})

describe("automation conditions", () => {
  const withEdges = AssetGraph.make([
    spec("orders"),
    { ...spec("features"), inputs: [{ name: "orders", key: "orders" }] }
  ])
  const defs: Definitions = {
    graph: withEdges,
    schedules: [],
    sensors: [],
    automations: [automate("features", eager()), automate("orders", missing())]
  }

  it("never queues a second run of an asset while its automation run is queued or running", () =>
    test((store) =>
      Effect.gen(function* () {
        const observing: TickOptions = {
          observeAssets: (keys) => Effect.succeed(new Map(keys.map((k) => [k, {}])))
        }
        const first = yield* tickAt(defs, store, "2026-02-10T10:00:00Z", observing)
        expect(first.ticks.find((t) => t.name === "orders")?.status).toBe("requested")
        const second = yield* tickAt(defs, store, "2026-02-10T10:00:30Z", observing)
        expect(second.ticks.find((t) => t.name === "orders")).toMatchObject({
          status: "skipped",
          reason: "missing: orders was never materialized",
          skipReason: "a run of orders requested by its automation is already queued or running"
        })
      })
    ))

  it("evaluates every interval, records why it did or did not request a run, and waits for runs in progress", () =>
    test((store) =>
      Effect.gen(function* () {
        const seen = new Map<string, AssetObservation>([
          ["orders", { materializedAt: at("2026-02-10T09:00:00Z") }]
        ])
        const observing: TickOptions = {
          observeAssets: (keys) => Effect.succeed(new Map(keys.map((k) => [k, seen.get(k) ?? {}])))
        }
        const first = yield* tickAt(defs, store, "2026-02-10T10:00:00Z", observing)
        const byName = Object.fromEntries(first.ticks.map((t) => [t.name, t]))
        expect(byName.features).toMatchObject({
          status: "requested",
          reason: "eager: features was never materialized"
        })
        expect(byName.orders).toMatchObject({
          status: "skipped",
          reason: "missing: orders exists (materialized 2026-02-10T09:00:00.000Z)"
        })
        const [run] = yield* store.runs()
        expect(run?.request).toEqual({ select: ["features"], tags: { "materia/automation": "features" } })
        expect((yield* tickAt(defs, store, "2026-02-10T10:00:20Z", observing)).ticks).toEqual([])
        const second = yield* tickAt(defs, store, "2026-02-10T10:00:30Z", observing)
        expect(second.ticks.find((t) => t.name === "features")).toMatchObject({
          status: "skipped",
          skipReason: "a run of features is already in progress"
        })
        yield* store.updateRun(run!.id, { status: "succeeded" })
        seen.set("features", { materializedAt: at("2026-02-10T10:00:10Z") })
        const third = yield* tickAt(defs, store, "2026-02-10T10:01:00Z", observing)
        expect(third.ticks.find((t) => t.name === "features")?.status).toBe("skipped")
        seen.set("orders", { materializedAt: at("2026-02-10T10:01:10Z") })
        const fourth = yield* tickAt(defs, store, "2026-02-10T10:01:30Z", observing)
        expect(fourth.ticks.find((t) => t.name === "features")).toMatchObject({
          status: "requested",
          reason: "eager: upstream orders updated since 2026-02-10T10:00:10.000Z"
        })
      })
    ))

  it("a failing observation records failed ticks; without an observer nothing is evaluated", () =>
    test((store) =>
      Effect.gen(function* () {
        expect((yield* tickAt(defs, store, "2026-02-10T10:00:00Z")).ticks).toEqual([])
        const report = yield* tickAt(defs, store, "2026-02-10T10:00:01Z", {
          observeAssets: () => Effect.fail(new Error("database locked"))
        })
        expect(report.ticks.map((t) => t.status)).toEqual(["failed", "failed"])
        expect(report.ticks[0]?.error).toBe("reading the assets' state failed: database locked")
      })
    ))
})

describe("freshness policies", () => {
  const hour = 3_600_000
  const withPolicy = AssetGraph.make([{ ...spec("report"), freshnessMillis: hour }, spec("orders")])
  const defs: Definitions = { graph: withPolicy, schedules: [], sensors: [] }

  it("records fresh or overdue every interval and alerts once per time an asset becomes overdue, launching nothing", () =>
    test((store) =>
      Effect.gen(function* () {
        const sent: Array<AlertSummary> = []
        const alert: Alert = {
          name: "collect",
          send: (summary) =>
            Effect.sync(() => {
              sent.push(summary)
              return { ok: true, attempts: 1, durationMillis: 0 }
            })
        }
        const seen = new Map<string, AssetObservation>([
          ["report", { materializedAt: at("2026-02-10T09:30:00Z"), runId: "run-a" }]
        ])
        const observed: Array<ReadonlyArray<string>> = []
        const watching: TickOptions = {
          project: "shop",
          alerts: [alert],
          observeAssets: (keys) =>
            Effect.sync(() => {
              observed.push(keys)
              return new Map(keys.map((k) => [k, seen.get(k) ?? {}]))
            })
        }
        const first = yield* tickAt(defs, store, "2026-02-10T10:00:00Z", watching)
        expect(first.ticks).toEqual([
          {
            tickId: "freshness:report@2026-02-10T10:00:00.000Z",
            kind: "freshness",
            name: "report",
            tickAt: at("2026-02-10T10:00:00Z"),
            evaluatedAt: at("2026-02-10T10:00:00Z"),
            status: "fresh",
            runIds: [],
            reason:
              "report was materialized 2026-02-10T09:30:00.000Z, 30 min ago: within its freshness policy's 1 h",
            cursor: "fresh"
          }
        ])
        // Only assets with a policy are read.
        expect(observed).toEqual([["report"]])
        expect((yield* tickAt(defs, store, "2026-02-10T10:00:20Z", watching)).ticks).toEqual([])

        const overdue = yield* tickAt(defs, store, "2026-02-10T10:31:00Z", watching)
        expect(overdue.ticks[0]).toMatchObject({
          status: "overdue",
          reason:
            "report was materialized 2026-02-10T09:30:00.000Z, 1 h 1 min ago: older than its freshness policy's 1 h; alerted 1 alert"
        })
        expect(sent).toHaveLength(1)
        expect(Schema.decodeUnknownSync(AlertSummary)(sent[0])).toEqual({
          version: 1,
          kind: "freshness",
          project: "shop",
          runId: "run-a",
          status: "failed",
          assetKey: "report",
          error: {
            tag: "FreshnessOverdue",
            message:
              "report was materialized 2026-02-10T09:30:00.000Z, 1 h 1 min ago: older than its freshness policy's 1 h"
          },
          at: at("2026-02-10T10:31:00Z")
        })
        // Still overdue: recorded, not alerted again.
        const still = yield* tickAt(defs, store, "2026-02-10T10:32:00Z", watching)
        expect(still.ticks[0]?.status).toBe("overdue")
        expect(still.ticks[0]?.reason).not.toContain("alerted")
        expect(sent).toHaveLength(1)

        seen.set("report", { materializedAt: at("2026-02-10T10:32:30Z"), runId: "run-b" })
        expect((yield* tickAt(defs, store, "2026-02-10T10:33:00Z", watching)).ticks[0]?.status).toBe("fresh")
        expect(sent).toHaveLength(1)
        const again = yield* tickAt(defs, store, "2026-02-10T11:40:00Z", watching)
        expect(again.ticks[0]?.status).toBe("overdue")
        expect(sent.map((s) => s.runId)).toEqual(["run-a", "run-b"])

        expect(yield* store.runs()).toEqual([])
        expect((yield* store.ticks({ kind: "freshness", name: "report" })).map((t) => t.status)).toEqual([
          "overdue",
          "fresh",
          "overdue",
          "overdue",
          "fresh"
        ])
      })
    ))

  it("an asset never materialized is overdue; a failed read records a failed tick and keeps the verdict", () =>
    test((store) =>
      Effect.gen(function* () {
        const first = yield* tickAt(defs, store, "2026-02-10T10:00:00Z", {
          observeAssets: (keys) => Effect.succeed(new Map(keys.map((k) => [k, {}])))
        })
        expect(first.ticks[0]).toMatchObject({
          status: "overdue",
          reason:
            "report was never materialized (freshness policy: at most 1 h old); the project has no alerts to send"
        })
        const failed = yield* tickAt(defs, store, "2026-02-10T10:00:30Z", {
          observeAssets: () => Effect.fail(new Error("database locked"))
        })
        expect(failed.ticks[0]).toMatchObject({
          status: "failed",
          error: "reading the assets' state failed: database locked",
          cursor: "overdue"
        })
        expect((yield* store.state("freshness", "report"))?.cursor).toBe("overdue")
      })
    ))
})
