/**
 * The conformance suite every DaemonStore implementation passes (memory, SQLite, PostgreSQL): state,
 * ticks recorded once by id with their runs in one step, run keys used at most once per schedule or
 * sensor, the run queue and the lease.
 */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import type { DaemonStore, QueuedRun, TickRecord } from "./DaemonStore.ts"

const tick = (tickId: string, extra: Partial<TickRecord> = {}): TickRecord => ({
  tickId,
  kind: "sensor",
  name: "files",
  tickAt: 1000,
  evaluatedAt: 1000,
  status: "requested",
  runIds: [],
  ...extra
})

const queued = (id: string, tickId: string, runKey?: string, extra: Partial<QueuedRun> = {}): QueuedRun => ({
  id,
  tickId,
  kind: "sensor",
  name: "files",
  request: { select: ["orders"], ...(runKey === undefined ? {} : { runKey }) },
  status: "queued",
  enqueuedAt: 1000,
  ...extra
})

export const daemonStoreSuite = (name: string, make: () => Promise<DaemonStore>) =>
  describe(`DaemonStore conformance: ${name}`, () => {
    const withStore = async <A>(f: (store: DaemonStore) => Effect.Effect<A, unknown>): Promise<A> => {
      const store = await make()
      try {
        return await Effect.runPromise(f(store))
      } finally {
        await Effect.runPromise(store.close())
      }
    }

    it("keeps the state of schedules and sensors", () =>
      withStore((store) =>
        Effect.gen(function* () {
          expect(yield* store.state("schedule", "nightly")).toBeUndefined()
          yield* store.setState({ kind: "schedule", name: "nightly", status: "running", startedAt: 5 })
          yield* store.setState({
            kind: "sensor",
            name: "files",
            status: "stopped",
            cursor: "c",
            lastTickAt: 7
          })
          yield* store.setState({
            kind: "schedule",
            name: "nightly",
            status: "running",
            startedAt: 5,
            lastTickAt: 9
          })
          expect(yield* store.state("schedule", "nightly")).toEqual({
            kind: "schedule",
            name: "nightly",
            status: "running",
            startedAt: 5,
            lastTickAt: 9
          })
          expect((yield* store.states()).map((s) => `${s.kind}:${s.name}`)).toEqual([
            "schedule:nightly",
            "sensor:files"
          ])
        })
      ))

    it("records a tick, its runs and the state together, once per tick id", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const state = {
            kind: "sensor",
            name: "files",
            status: "running",
            lastTickAt: 1000,
            cursor: "a"
          } as const
          const first = yield* store.commitTick({
            tick: tick("t1", { runIds: ["r1"], cursor: "a" }),
            runs: [queued("r1", "t1")],
            state
          })
          expect(first).toMatchObject({ committed: true, droppedRunKeys: [] })
          const again = yield* store.commitTick({
            tick: tick("t1", { runIds: ["r2"] }),
            runs: [queued("r2", "t1")],
            state: { ...state, cursor: "b" }
          })
          expect(again).toMatchObject({ committed: false, droppedRunKeys: [] })
          expect((yield* store.runs()).map((r) => r.id)).toEqual(["r1"])
          expect((yield* store.state("sensor", "files"))?.cursor).toBe("a")
          expect(yield* store.ticks()).toEqual([tick("t1", { runIds: ["r1"], cursor: "a" })])
        })
      ))

    it("initState stores a first state only when none is stored: a stop that landed first stays", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const first = { kind: "schedule", name: "nightly", status: "running", startedAt: 100 } as const
          expect(yield* store.initState(first)).toBe(true)
          expect(yield* store.state("schedule", "nightly")).toEqual(first)
          expect(yield* store.initState({ ...first, startedAt: 200 })).toBe(false)
          expect((yield* store.state("schedule", "nightly"))?.startedAt).toBe(100)
          // The daemon saw no state, a stop landed, then the daemon records when it first saw it.
          yield* store.setState({ kind: "sensor", name: "files", status: "stopped" })
          expect(
            yield* store.initState({ kind: "sensor", name: "files", status: "running", startedAt: 5 })
          ).toBe(false)
          expect(yield* store.state("sensor", "files")).toEqual({
            kind: "sensor",
            name: "files",
            status: "stopped"
          })
        })
      ))

    it("a tick commits only what it owns: a stop between the daemon's read and its commit stays", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const running = {
            kind: "schedule",
            name: "nightly",
            status: "running",
            startedAt: 100,
            lastTickAt: 500
          } as const
          yield* store.setState(running)
          // The daemon reads the state, a stop lands, then the daemon commits its tick.
          const read = (yield* store.state("schedule", "nightly"))!
          yield* store.setState({ ...read, status: "stopped" })
          yield* store.commitTick({
            tick: tick("s1", { kind: "schedule", name: "nightly", status: "skipped" }),
            runs: [],
            state: { ...read, lastTickAt: 1000, cursor: "c1" }
          })
          expect(yield* store.state("schedule", "nightly")).toEqual({
            ...running,
            status: "stopped",
            lastTickAt: 1000,
            cursor: "c1"
          })
          // Restarted meanwhile: the new start time stays too.
          yield* store.setState({ ...running, startedAt: 2000 })
          yield* store.commitTick({
            tick: tick("s2", { kind: "schedule", name: "nightly", status: "skipped" }),
            runs: [],
            state: { ...read, lastTickAt: 3000 }
          })
          expect(yield* store.state("schedule", "nightly")).toEqual({
            ...running,
            startedAt: 2000,
            lastTickAt: 3000
          })
          // Nothing stored yet (running by default): the tick's state is stored as it is.
          yield* store.commitTick({
            tick: tick("f1"),
            runs: [],
            state: { kind: "sensor", name: "files", status: "running", lastTickAt: 1000, cursor: "a" }
          })
          expect(yield* store.state("sensor", "files")).toEqual({
            kind: "sensor",
            name: "files",
            status: "running",
            lastTickAt: 1000,
            cursor: "a"
          })
        })
      ))

    it("launches a run key once per sensor, and tells which were dropped", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const state = { kind: "sensor", name: "files", status: "running" } as const
          yield* store.commitTick({
            tick: tick("t1", { runIds: ["r1", "r2"] }),
            runs: [queued("r1", "t1", "a.csv"), queued("r2", "t1", "b.csv")],
            state
          })
          const second = yield* store.commitTick({
            tick: tick("t2", { runIds: ["r3", "r4", "r5"] }),
            runs: [queued("r3", "t2", "b.csv"), queued("r4", "t2", "c.csv"), queued("r5", "t2", "c.csv")],
            state
          })
          expect(second).toMatchObject({ committed: true, droppedRunKeys: ["b.csv", "c.csv"] })
          expect(second.tick.runIds).toEqual(["r4"])
          expect((yield* store.runs()).map((r) => r.id)).toEqual(["r1", "r2", "r4"])
          const [t2] = yield* store.ticks({ limit: 1 })
          expect(t2?.runIds).toEqual(["r4"])
          expect(t2?.skipReason).toBe("run keys already launched: b.csv, c.csv")
          const third = yield* store.commitTick({
            tick: tick("t3", { runIds: ["r6"] }),
            runs: [queued("r6", "t3", "a.csv")],
            state
          })
          expect(third.droppedRunKeys).toEqual(["a.csv"])
          const [t3] = yield* store.ticks({ limit: 1 })
          expect(t3?.status).toBe("skipped")
          expect(t3?.runIds).toEqual([])
          // Another sensor may use the same run key.
          yield* store.commitTick({
            tick: tick("o1", { name: "other", runIds: ["o1"] }),
            runs: [queued("o1", "o1", "a.csv", { name: "other" })],
            state: { ...state, name: "other" }
          })
          expect((yield* store.runs({ tickId: "o1" })).map((r) => r.id)).toEqual(["o1"])
        })
      ))

    it("lists ticks newest first by kind and name, with a limit", () =>
      withStore((store) =>
        Effect.gen(function* () {
          for (const [id, kind, name] of [
            ["a", "schedule", "s"],
            ["b", "sensor", "files"],
            ["c", "schedule", "s"],
            ["d", "schedule", "t"]
          ] as const)
            yield* store.commitTick({
              tick: tick(id, { kind, name, status: "skipped", skipReason: "nothing", reason: `why ${id}` }),
              runs: [],
              state: { kind, name, status: "running" }
            })
          expect((yield* store.ticks()).map((t) => t.tickId)).toEqual(["d", "c", "b", "a"])
          expect((yield* store.ticks({ kind: "schedule", name: "s" })).map((t) => t.tickId)).toEqual([
            "c",
            "a"
          ])
          expect((yield* store.ticks({ kind: "schedule", limit: 2 })).map((t) => t.tickId)).toEqual([
            "d",
            "c"
          ])
          expect((yield* store.ticks({ name: "files" }))[0]).toMatchObject({
            skipReason: "nothing",
            reason: "why b"
          })
        })
      ))

    it("keeps the queue in order and updates runs", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.commitTick({
            tick: tick("t1", { runIds: ["r1", "r2", "r3"] }),
            runs: [queued("r1", "t1"), queued("r2", "t1"), queued("r3", "t1")],
            state: { kind: "sensor", name: "files", status: "running" }
          })
          const launched = {
            status: "launched",
            launchedAt: 2000,
            host: "h1",
            leaseOwner: "h1:9:abc"
          } as const
          yield* store.updateRun("r2", launched)
          yield* store.updateRun("r2", { pid: 42 })
          yield* store.updateRun("r1", { status: "succeeded", endedAt: 3000, runId: "run-1" })
          expect((yield* store.runs({ status: ["queued"] })).map((r) => r.id)).toEqual(["r3"])
          expect(yield* store.runs({ status: ["launched", "succeeded"] })).toEqual([
            queued("r1", "t1", undefined, { status: "succeeded", endedAt: 3000, runId: "run-1" }),
            queued("r2", "t1", undefined, { ...launched, pid: 42 })
          ])
          // Queued with where it runs (a retry knows its host up front): kept as given.
          yield* store.commitTick({
            tick: tick("t2", { runIds: ["r4"] }),
            runs: [queued("r4", "t2", undefined, { host: "h2", leaseOwner: "h2:1:def", runId: "m4" })],
            state: { kind: "sensor", name: "files", status: "running" }
          })
          expect(yield* store.runs({ tickId: "t2" })).toEqual([
            queued("r4", "t2", undefined, { host: "h2", leaseOwner: "h2:1:def", runId: "m4" })
          ])
          const missing = yield* Effect.flip(store.updateRun("nope", { status: "failed" }))
          expect(missing.message).toContain("no queued run nope")
        })
      ))

    it("prunes ticks, ended runs and run keys older than the retention, never active runs", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const state = { kind: "sensor", name: "files", status: "running" } as const
          yield* store.commitTick({
            tick: tick("old", { evaluatedAt: 1000, runIds: ["r1", "r2", "r3"] }),
            runs: [queued("r1", "old", "a.csv"), queued("r2", "old"), queued("r3", "old")],
            state
          })
          yield* store.commitTick({
            tick: tick("new", { evaluatedAt: 5000, runIds: ["r4"] }),
            runs: [queued("r4", "new", "b.csv")],
            state
          })
          yield* store.updateRun("r1", { status: "succeeded", endedAt: 2000 })
          yield* store.updateRun("r2", { status: "launched", launchedAt: 2000 })
          yield* store.updateRun("r4", { status: "failed", endedAt: 6000 })
          const pruned = yield* store.prune(3000)
          expect(pruned).toEqual({ ticks: 1, runIds: ["r1"], runKeys: 1 })
          expect((yield* store.ticks()).map((t) => t.tickId)).toEqual(["new"])
          expect((yield* store.runs()).map((r) => r.id)).toEqual(["r2", "r3", "r4"])
          // The pruned run key may be launched again; the kept one may not.
          const again = yield* store.commitTick({
            tick: tick("later", { evaluatedAt: 7000, runIds: ["r5", "r6"] }),
            runs: [queued("r5", "later", "a.csv"), queued("r6", "later", "b.csv")],
            state
          })
          expect(again.droppedRunKeys).toEqual(["b.csv"])
        })
      ))

    it("gives the lease to one owner until it expires or is released", () =>
      withStore((store) =>
        Effect.gen(function* () {
          expect(yield* store.lease()).toBeUndefined()
          expect(yield* store.acquireLease("a", 1000, 10_000)).toEqual({ acquired: true })
          expect(yield* store.lease()).toEqual({ holder: "a", expiresAt: 11_000 })
          expect(yield* store.acquireLease("b", 2000, 10_000)).toEqual({
            acquired: false,
            holder: "a",
            expiresAt: 11_000
          })
          // The holder renews (its heartbeat).
          expect(yield* store.acquireLease("a", 9000, 10_000)).toEqual({ acquired: true })
          expect(yield* store.acquireLease("b", 12_000, 10_000)).toMatchObject({
            acquired: false,
            expiresAt: 19_000
          })
          expect(yield* store.lease()).toEqual({ holder: "a", expiresAt: 19_000 })
          // Expired: the next one takes it.
          expect(yield* store.acquireLease("b", 19_000, 10_000)).toEqual({ acquired: true })
          expect(yield* store.lease()).toEqual({ holder: "b", expiresAt: 29_000 })
          expect(yield* store.acquireLease("a", 20_000, 10_000)).toMatchObject({
            acquired: false,
            holder: "b"
          })
          yield* store.releaseLease("a")
          expect(yield* store.acquireLease("a", 20_000, 10_000)).toMatchObject({ acquired: false })
          yield* store.releaseLease("b")
          expect(yield* store.lease()).toBeUndefined()
          expect(yield* store.acquireLease("a", 20_000, 10_000)).toEqual({ acquired: true })
          // A holder known to be dead is replaced before its lease expires; a live one is not.
          expect(yield* store.acquireLease("c", 21_000, 10_000, "b")).toMatchObject({
            acquired: false,
            holder: "a"
          })
          expect(yield* store.acquireLease("c", 21_000, 10_000, "a")).toEqual({ acquired: true })
        })
      ))
  })
