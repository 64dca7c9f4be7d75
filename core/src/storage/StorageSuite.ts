/**
 * The conformance suite every StorageApi implementation passes (memory, SQLite, PostgreSQL): call
 * `storageSuite(name, makeStorage)` from the backend's test file. Each test gets a fresh, empty store.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { BackfillRecord } from "../backfill/BackfillRecord.ts"
import type { ErrorInfo, MaterializationEvent, RunEvent } from "../events/RunEvent.ts"
import type { ValueHandle } from "../io/IOManager.ts"
import { type StorageApi, StorageError, type StoredAssetState } from "./Storage.ts"

/** A fresh store for one test, and how to dispose of it. */
export interface StorageFixture {
  readonly storage: StorageApi
  readonly cleanup: () => Promise<void>
}

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

const handle = (location: string): ValueHandle => ({ ioManager: "fs", location, format: "parquet" })

const started = (runId: string, at: number, project = "p"): RunEvent => ({
  _tag: "RunStarted",
  runId,
  at,
  project,
  targets: ["a"],
  steps: [{ key: "a", reasons: ["missing"] }]
})

const finished = (runId: string, at: number, status: "succeeded" | "failed" | "canceled"): RunEvent => ({
  _tag: "RunFinished",
  runId,
  at,
  status,
  durationMillis: at
})

const stepStarted = (runId: string, key: string, at: number): RunEvent => ({
  _tag: "StepStarted",
  runId,
  at,
  key,
  attempt: 1
})

const log = (runId: string, message: string, at = 0): RunEvent => ({
  _tag: "StepLog",
  runId,
  at,
  key: "a",
  level: "info",
  message
})

const materialized = (
  runId: string,
  key: string,
  at: number,
  overrides: Partial<Omit<MaterializationEvent, "_tag">> = {}
): MaterializationEvent => ({
  _tag: "Materialization",
  runId,
  at,
  key,
  attempt: 1,
  dataVersion: `data-${key}-${at}`,
  codeVersion: "v1",
  inputVersions: {},
  handle: handle(`/store/${key}/${at}`),
  metadata: {},
  durationMillis: 5,
  ...overrides
})

const failedStep = (runId: string, key: string, at: number, error: ErrorInfo): RunEvent => ({
  _tag: "StepFailed",
  runId,
  at,
  key,
  attempt: 1,
  durationMillis: 3,
  error
})

const observed = (runId: string, key: string, at: number, dataVersion: string): RunEvent => ({
  _tag: "SourceObserved",
  runId,
  at,
  key,
  dataVersion
})

/** What the snapshot holds for a materialization event. */
const latestOf = (event: MaterializationEvent) => ({
  key: event.key,
  runId: event.runId,
  at: event.at,
  dataVersion: event.dataVersion,
  codeVersion: event.codeVersion,
  inputVersions: event.inputVersions,
  handle: event.handle,
  metadata: event.metadata
})

/** Registers the conformance tests of one StorageApi implementation. */
export const storageSuite = (name: string, makeStorage: () => Promise<StorageFixture>): void => {
  describe(`${name} (storage conformance)`, () => {
    let fixture: StorageFixture
    let storage: StorageApi

    beforeEach(async () => {
      fixture = await makeStorage()
      storage = fixture.storage
    })
    afterEach(async () => {
      await fixture.cleanup()
    })

    describe("events", () => {
      it("keeps a run's events in append order with seq 1, 2, ... across batches", async () => {
        const first = [started("r1", 1), stepStarted("r1", "a", 2), log("r1", "hello", 3)]
        const second = [materialized("r1", "a", 4), finished("r1", 5, "succeeded")]
        await run(storage.append("p", first))
        await run(storage.append("p", second))

        const stored = await run(storage.events("r1"))
        expect(stored.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
        expect(stored.map((e) => e.event)).toEqual([...first, ...second])
      })

      it("numbers each run on its own when one batch interleaves runs", async () => {
        await run(
          storage.append("p", [
            started("r1", 1),
            started("r2", 2),
            log("r1", "x"),
            log("r2", "y"),
            log("r1", "z")
          ])
        )
        const r1 = await run(storage.events("r1"))
        const r2 = await run(storage.events("r2"))
        expect(r1.map((e) => [e.seq, e.event._tag])).toEqual([
          [1, "RunStarted"],
          [2, "StepLog"],
          [3, "StepLog"]
        ])
        expect(r2.map((e) => [e.seq, e.event._tag])).toEqual([
          [1, "RunStarted"],
          [2, "StepLog"]
        ])
      })

      it("pages with afterSeq (exclusive) and limit", async () => {
        await run(
          storage.append("p", [started("r1", 0), ...[1, 2, 3, 4, 5, 6].map((i) => log("r1", `m${i}`, i))])
        )
        const seqs = async (options: { afterSeq?: number; limit?: number }) =>
          (await run(storage.events("r1", options))).map((e) => e.seq)

        expect(await seqs({ afterSeq: 4 })).toEqual([5, 6, 7])
        expect(await seqs({ limit: 2 })).toEqual([1, 2])
        expect(await seqs({ afterSeq: 2, limit: 3 })).toEqual([3, 4, 5])
        expect(await seqs({ afterSeq: 7 })).toEqual([])
        expect(await seqs({ limit: 0 })).toEqual([])

        // Paging through the whole log yields it exactly once.
        const paged: Array<number> = []
        let after = 0
        for (;;) {
          const page = await run(storage.events("r1", { afterSeq: after, limit: 3 }))
          if (page.length === 0) break
          paged.push(...page.map((e) => e.seq))
          after = page[page.length - 1]!.seq
        }
        expect(paged).toEqual([1, 2, 3, 4, 5, 6, 7])
      })

      it("has no events for an unknown run", async () => {
        expect(await run(storage.events("nope"))).toEqual([])
      })

      it("round-trips every event exactly: error infos, JSON metadata, null handles", async () => {
        const events: Array<RunEvent> = [
          {
            _tag: "RunStarted",
            runId: "r1",
            at: 1_767_225_600_000,
            project: "p",
            targets: ["model", "report"],
            steps: [
              { key: "features", reasons: ["upstream data changed: orders"] },
              { key: "model", reasons: ["missing", "code version changed"] }
            ]
          },
          observed("r1", "orders", 1.5, "sha256:abc"),
          stepStarted("r1", "features", 2),
          {
            _tag: "StepRetrying",
            runId: "r1",
            at: 3,
            key: "features",
            attempt: 1,
            delayMillis: 250,
            error: {
              tag: "UserCodeError",
              message: "boom",
              stack: "Error: boom\n    at body (x.ts:1:1)",
              retryable: true
            }
          },
          {
            _tag: "StepLog",
            runId: "r1",
            at: 4,
            key: "features",
            level: "warn",
            message: 'ünïcödé ✓ "quotes" \n newline'
          },
          materialized("r1", "features", 5, {
            attempt: 2,
            inputVersions: { orders: "sha256:abc", "ml/raw": "v-9" },
            metadata: {
              rows: 1234,
              ratio: 0.1 + 0.2,
              negative: -7.25,
              ok: true,
              nothing: null,
              tags: ["a", "b", 3, false, null],
              nested: { deep: { list: [{ x: 1 }, []], empty: {} } },
              text: "line1\nline2"
            }
          }),
          materialized("r1", "sink", 6, { handle: null }),
          {
            _tag: "StepSucceeded",
            runId: "r1",
            at: 7,
            key: "features",
            attempt: 2,
            durationMillis: 12.5,
            outcome: "unchanged"
          },
          failedStep("r1", "model", 8, { tag: "TimeoutError", message: "step timed out after 30 minutes" }),
          failedStep("r1", "model2", 8.5, {
            tag: "UserCodeError",
            message: "bad",
            stack: "at model2",
            retryable: false
          }),
          { _tag: "StepSkipped", runId: "r1", at: 9, key: "report", reason: "upstream model failed" },
          { _tag: "StepCanceled", runId: "r1", at: 10, key: "deploy" },
          finished("r1", 11, "failed")
        ]
        await run(storage.append("p", events))
        const stored = await run(storage.events("r1"))
        expect(stored.map((e) => e.event)).toStrictEqual(events)
        expect(stored.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
      })
    })

    describe("runs", () => {
      it("projects a run's status from RunStarted and RunFinished", async () => {
        await run(storage.append("p", [started("r1", 100)]))
        expect(await run(storage.runs("p"))).toEqual([
          { runId: "r1", project: "p", status: "running", startedAt: 100 }
        ])
        await run(storage.append("p", [stepStarted("r1", "a", 101), finished("r1", 150, "failed")]))
        expect(await run(storage.runs("p"))).toEqual([
          { runId: "r1", project: "p", status: "failed", startedAt: 100, endedAt: 150 }
        ])
      })

      it("fences an ended run: refuses its later batches whole, names the run, keeps accepting alerts", async () => {
        await run(storage.append("p", [started("r1", 1), materialized("r1", "a", 2)]))
        // Another process (the dead-run monitor) ends the run while its driver still works.
        await run(storage.append("p", [finished("r1", 3, "failed")]))
        const error = await run(
          Effect.flip(storage.append("p", [materialized("r1", "b", 4), log("r1", "late"), started("r2", 4)]))
        )
        expect(error).toBeInstanceOf(StorageError)
        expect(error.reason).toBe("Conflict")
        expect(error.retryable).toBe(false)
        expect(error.message).toContain('run "r1" has already ended (failed)')
        expect(error.message).toContain("Materialization")
        expect(error.message).toContain("--from-failure r1")
        // Nothing of that batch, not even the other run's event.
        expect((await run(storage.events("r1"))).map((e) => e.event._tag)).toEqual([
          "RunStarted",
          "Materialization",
          "RunFinished"
        ])
        expect(await run(storage.events("r2"))).toEqual([])
        expect((await run(storage.snapshot("p"))).has("b")).toBe(false)
        // A second end (the lost driver finishing "succeeded") is refused too; the status stays.
        await run(Effect.flip(storage.append("p", [finished("r1", 5, "succeeded")])))
        expect((await run(storage.runs("p")))[0]?.status).toBe("failed")
        // Alerts about an ended run are still recorded.
        await run(
          storage.append("p", [
            { _tag: "AlertSent", runId: "r1", at: 6, alert: "ops", ok: true, attempts: 1, durationMillis: 1 }
          ])
        )
        expect((await run(storage.events("r1"))).at(-1)?.event._tag).toBe("AlertSent")
      })

      it("fences within one batch: nothing after the run's RunFinished but alerts", async () => {
        await run(storage.append("p", [started("r1", 1)]))
        const error = await run(
          Effect.flip(storage.append("p", [finished("r1", 2, "failed"), materialized("r1", "a", 3)]))
        )
        expect(error.reason).toBe("Conflict")
        expect((await run(storage.runs("p")))[0]?.status).toBe("running")
        expect((await run(storage.events("r1"))).length).toBe(1)
      })

      it("fences attempts: only the newest attempt started commits, once per step of a run", async () => {
        const attempt = (key: string, n: number, partition?: string): RunEvent => ({
          _tag: "StepStarted",
          runId: "r1",
          at: n,
          key,
          attempt: n,
          ...(partition === undefined ? {} : { partition })
        })
        await run(storage.append("p", [started("r1", 0), attempt("a", 1), attempt("a", 2)]))
        // Attempt 1 lost its lease and attempt 2 started: attempt 1's commit is refused, whole batch.
        const stale = await run(
          Effect.flip(
            storage.append("p", [log("r1", "from attempt 1"), materialized("r1", "a", 3, { attempt: 1 })])
          )
        )
        expect(stale).toBeInstanceOf(StorageError)
        expect(stale.reason).toBe("Conflict")
        expect(stale.retryable).toBe(false)
        expect(stale.message).toContain('attempt 1 of step "a" of run "r1" can no longer commit: attempt 2')
        expect((await run(storage.events("r1"))).length).toBe(3)
        expect((await run(storage.snapshot("p"))).has("a")).toBe(false)
        // The newest attempt commits, once.
        await run(storage.append("p", [materialized("r1", "a", 4, { attempt: 2 })]))
        const twice = await run(
          Effect.flip(storage.append("p", [materialized("r1", "a", 5, { attempt: 2 })]))
        )
        expect(twice.message).toContain(
          'step "a" of run "r1" already committed a materialization (attempt 2)'
        )
        expect((await run(storage.snapshot("p"))).get("a")?.latest?.at).toBe(4)
        // Within one batch too; and partitions are steps of their own.
        const inBatch = await run(
          Effect.flip(
            storage.append("p", [
              attempt("b", 1),
              attempt("b", 2),
              materialized("r1", "b", 6, { attempt: 1 })
            ])
          )
        )
        expect(inBatch.message).toContain('attempt 1 of step "b"')
        await run(
          storage.append("p", [
            attempt("c", 1, "eu"),
            attempt("c", 1, "us"),
            materialized("r1", "c", 7, { partition: "eu" }),
            materialized("r1", "c", 7, { partition: "us" })
          ])
        )
        const again = await run(
          Effect.flip(storage.append("p", [materialized("r1", "c", 8, { partition: "eu" })]))
        )
        expect(again.message).toContain('step "c[eu]" of run "r1" already committed')
        // Another run of the same step is another step.
        await run(storage.append("p", [started("r2", 9), materialized("r2", "a", 9)]))
        expect((await run(storage.snapshot("p"))).get("a")?.latest?.runId).toBe("r2")
      })

      it("lists runs newest first, at most limit", async () => {
        await run(storage.append("p", [started("r1", 1)]))
        await run(storage.append("p", [started("r2", 2), finished("r2", 3, "succeeded")]))
        await run(storage.append("p", [started("r3", 4)]))
        await run(storage.append("p", [finished("r1", 5, "canceled")]))

        const all = await run(storage.runs("p"))
        expect(all.map((r) => [r.runId, r.status])).toEqual([
          ["r3", "running"],
          ["r2", "succeeded"],
          ["r1", "canceled"]
        ])
        expect((await run(storage.runs("p", { limit: 2 }))).map((r) => r.runId)).toEqual(["r3", "r2"])
        expect(await run(storage.runs("p", { limit: 0 }))).toEqual([])
        expect(await run(storage.runs("empty-project"))).toEqual([])
      })
    })

    describe("latest materializations", () => {
      it("records the latest materialization per key with its handle and versions", async () => {
        const a = materialized("r1", "a", 10, { inputVersions: { up: "u1" }, codeVersion: "c7" })
        const b = materialized("r1", "b", 11, { handle: null })
        await run(storage.append("p", [started("r1", 1), a, b]))

        const snapshot = await run(storage.snapshot("p"))
        expect(snapshot).toEqual(
          new Map<string, StoredAssetState>([
            ["a", { lastFailed: false, latest: latestOf(a) }],
            ["b", { lastFailed: false, latest: latestOf(b) }]
          ])
        )
        expect(snapshot.get("b")?.latest?.handle).toBeNull()
      })

      it("returns only the asked keys that are recorded", async () => {
        const a = materialized("r1", "a", 10)
        await run(storage.append("p", [a, materialized("r1", "b", 11)]))
        expect(await run(storage.snapshot("p", ["a", "missing"]))).toEqual(
          new Map([["a", { lastFailed: false, latest: latestOf(a) }]])
        )
        expect((await run(storage.snapshot("p", []))).size).toBe(0)
        expect((await run(storage.snapshot("other"))).size).toBe(0)
      })

      it("moves the pointer to a later materialization", async () => {
        await run(storage.append("p", [materialized("r1", "a", 10)]))
        const later = materialized("r2", "a", 20, { dataVersion: "d2", codeVersion: "v2" })
        await run(storage.append("p", [later]))
        expect((await run(storage.snapshot("p", ["a"]))).get("a")).toEqual({
          lastFailed: false,
          latest: latestOf(later)
        })
      })

      it("sets lastFailed on StepFailed, keeps latest, and clears it on the next materialization", async () => {
        const first = materialized("r1", "a", 10)
        await run(storage.append("p", [first]))
        await run(storage.append("p", [failedStep("r2", "a", 20, { tag: "UserCodeError", message: "boom" })]))
        expect((await run(storage.snapshot("p"))).get("a")).toEqual({
          lastFailed: true,
          latest: latestOf(first)
        })

        const next = materialized("r3", "a", 30, { dataVersion: "d3" })
        await run(storage.append("p", [next]))
        expect((await run(storage.snapshot("p"))).get("a")).toEqual({
          lastFailed: false,
          latest: latestOf(next)
        })
      })

      it("records a failure of a never-materialized asset without a latest value", async () => {
        await run(storage.append("p", [failedStep("r1", "a", 1, { tag: "UserCodeError", message: "boom" })]))
        const state = (await run(storage.snapshot("p"))).get("a")
        expect(state?.lastFailed).toBe(true)
        expect(state?.latest).toBeUndefined()
      })

      it("records a SourceObserved as the latest value, without code version, inputs or handle", async () => {
        await run(storage.append("p", [observed("r1", "orders", 5, "v-1")]))
        await run(storage.append("p", [observed("r2", "orders", 6, "v-2")]))
        expect((await run(storage.snapshot("p", ["orders"]))).get("orders")).toEqual({
          lastFailed: false,
          latest: {
            key: "orders",
            runId: "r2",
            at: 6,
            dataVersion: "v-2",
            codeVersion: "",
            inputVersions: {},
            handle: null
          }
        })
      })

      it("folds events the same whether they come one by one or in one batch", async () => {
        const events: Array<RunEvent> = [
          started("r1", 1),
          materialized("r1", "a", 2),
          failedStep("r1", "b", 3, { tag: "E", message: "m" }),
          observed("r1", "s", 4, "sv"),
          // A later run's (one step of a run commits once: the attempt fence).
          materialized("r0", "a", 5, { dataVersion: "later" }),
          finished("r1", 6, "failed")
        ]
        await run(storage.append("one-by-one", []))
        for (const event of events) await run(storage.append("one-by-one", [event]))
        const byOne = await run(storage.snapshot("one-by-one"))
        const runsByOne = await run(storage.runs("one-by-one"))

        // Same run id in another project would share its event log: use another id.
        const renamed = events.map((e) => ({ ...e, runId: `${e.runId}-batch` }))
        await run(storage.append("batch", renamed))
        const byBatch = await run(storage.snapshot("batch"))
        const runsByBatch = await run(storage.runs("batch"))

        const withoutRunId = (m: ReadonlyMap<string, StoredAssetState>) =>
          new Map(
            [...m].map(([k, s]) => [
              k,
              {
                lastFailed: s.lastFailed,
                latest: s.latest === undefined ? undefined : { ...s.latest, runId: "" }
              }
            ])
          )
        expect(withoutRunId(byBatch)).toEqual(withoutRunId(byOne))
        expect(runsByBatch.map((r) => ({ ...r, runId: "", project: "" }))).toEqual(
          runsByOne.map((r) => ({ ...r, runId: "", project: "" }))
        )
      })
    })

    describe("checks and skip decisions", () => {
      const checked = (runId: string, key: string, check: string, at: number, passed: boolean): RunEvent => ({
        _tag: "CheckEvaluated",
        runId,
        at,
        key,
        check,
        passed,
        severity: "error",
        blocking: true,
        ...(passed ? {} : { message: `${check} failed` }),
        metadata: { null_count: passed ? 0 : 17 },
        dataVersion: `data-${key}-${at}`,
        location: `/store/${key}/${at}`
      })
      const skippedStep = (
        runId: string,
        key: string,
        at: number,
        inputs: Record<string, string>
      ): RunEvent => ({
        _tag: "StepSkipped",
        runId,
        at,
        key,
        reason: "accuracy below 0.9",
        decision: { codeVersion: "v1", inputVersions: inputs }
      })

      it("keeps the latest result of each check, in check name order", async () => {
        await run(
          storage.append("p", [
            checked("r1", "a", "no_nulls", 1, false),
            checked("r1", "a", "alpha", 1, true)
          ])
        )
        await run(storage.append("p", [checked("r2", "a", "no_nulls", 2, true)]))
        const checks = (await run(storage.snapshot("p", ["a"]))).get("a")?.checks
        expect(checks?.map((c) => [c.check, c.passed, c.runId, c.metadata])).toEqual([
          ["alpha", true, "r1", { null_count: 0 }],
          ["no_nulls", true, "r2", { null_count: 0 }]
        ])
        // A materialization keeps the check results beside it.
        await run(storage.append("p", [materialized("r2", "a", 3)]))
        expect((await run(storage.snapshot("p"))).get("a")?.checks).toHaveLength(2)
      })

      it("records a skip decision, and a later materialization clears it", async () => {
        await run(storage.append("p", [skippedStep("r1", "deploy", 1, { evaluate: "e1" })]))
        expect((await run(storage.snapshot("p", ["deploy"]))).get("deploy")).toEqual({
          lastFailed: false,
          skipped: { codeVersion: "v1", inputVersions: { evaluate: "e1" } }
        })
        await run(storage.append("p", [materialized("r2", "deploy", 2)]))
        const state = (await run(storage.snapshot("p", ["deploy"]))).get("deploy")
        expect(state?.skipped).toBeUndefined()
        expect(state?.latest?.runId).toBe("r2")
      })

      it("ignores downstream skips (no decision) in the projection", async () => {
        await run(
          storage.append("p", [
            { _tag: "StepSkipped", runId: "r1", at: 1, key: "x", reason: "upstream failed: a" }
          ])
        )
        expect((await run(storage.snapshot("p"))).has("x")).toBe(false)
      })

      it("forgets check results on wipe", async () => {
        await run(storage.append("p", [materialized("r1", "a", 1), checked("r1", "a", "no_nulls", 1, true)]))
        await run(storage.wipe("p", ["a"]))
        await run(storage.append("p", [materialized("r2", "a", 2)]))
        expect((await run(storage.snapshot("p"))).get("a")?.checks).toBeUndefined()
      })
    })

    describe("projects", () => {
      it("keeps the same asset key independent in two projects", async () => {
        const inP1 = materialized("r1", "a", 10, { dataVersion: "p1-version" })
        const inP2 = materialized("r2", "a", 20, { dataVersion: "p2-version" })
        await run(storage.append("p1", [started("r1", 1, "p1"), inP1]))
        await run(storage.append("p2", [started("r2", 2, "p2"), inP2]))
        await run(storage.append("p2", [failedStep("r3", "a", 30, { tag: "E", message: "m" })]))

        expect((await run(storage.snapshot("p1"))).get("a")).toEqual({
          lastFailed: false,
          latest: latestOf(inP1)
        })
        expect((await run(storage.snapshot("p2"))).get("a")).toEqual({
          lastFailed: true,
          latest: latestOf(inP2)
        })

        expect((await run(storage.runs("p1"))).map((r) => r.runId)).toEqual(["r1"])
        expect((await run(storage.runs("p2"))).map((r) => r.runId)).toEqual(["r2"])

        expect(await run(storage.wipe("p1", ["a"]))).toBe(1)
        expect((await run(storage.snapshot("p1"))).size).toBe(0)
        expect((await run(storage.snapshot("p2"))).get("a")?.latest?.dataVersion).toBe("p2-version")
      })
    })

    describe("wipe", () => {
      it("forgets materializations and failures of the given keys and counts those it knew", async () => {
        await run(
          storage.append("p", [
            started("r1", 1),
            materialized("r1", "a", 2),
            materialized("r1", "b", 3),
            failedStep("r1", "c", 4, { tag: "E", message: "m" })
          ])
        )
        expect(await run(storage.wipe("p", ["a", "c", "never-seen"]))).toBe(2)
        expect([...(await run(storage.snapshot("p"))).keys()]).toEqual(["b"])
        expect(await run(storage.wipe("p", ["a"]))).toBe(0)
        expect(await run(storage.wipe("p", []))).toBe(0)

        // The event log is history: wiping keeps it.
        expect((await run(storage.events("r1"))).length).toBe(4)
        // A wiped asset can be materialized again.
        const again = materialized("r2", "a", 9)
        await run(storage.append("p", [again]))
        expect((await run(storage.snapshot("p", ["a"]))).get("a")).toEqual({
          lastFailed: false,
          latest: latestOf(again)
        })
      })
    })

    describe("batches", () => {
      // Decision: append is all-or-nothing. A store that validates events (SQLite, PostgreSQL) rejects a
      // batch holding an invalid event with a StorageError and keeps none of it, projections included;
      // a store that does not validate (memory) keeps all of it. Never a part.
      it("keeps all of a batch or none of it when one event is invalid", async () => {
        await run(storage.append("p", [started("r1", 1)]))
        const invalid = { ...materialized("r1", "b", 3), handle: { ioManager: 42 } } as unknown as RunEvent
        const exit = await Effect.runPromiseExit(
          storage.append("p", [materialized("r1", "a", 2), invalid, finished("r1", 4, "succeeded")])
        )

        const stored = await run(storage.events("r1"))
        const snapshot = await run(storage.snapshot("p"))
        const [status] = (await run(storage.runs("p"))).map((r) => r.status)
        if (Exit.isSuccess(exit)) {
          expect(stored.length).toBe(4)
          expect(snapshot.has("a")).toBe(true)
          expect(status).toBe("succeeded")
        } else {
          const error = await run(Effect.flip(storage.append("p", [invalid])))
          expect(error).toBeInstanceOf(StorageError)
          expect(error.retryable).toBe(false)
          expect(stored.map((e) => e.event._tag)).toEqual(["RunStarted"])
          expect(snapshot.size).toBe(0)
          expect(status).toBe("running")
        }
      })

      it("accepts an empty batch", async () => {
        await run(storage.append("p", []))
        expect(await run(storage.runs("p"))).toEqual([])
      })
    })

    describe("partitions", () => {
      const inPartition = <E extends RunEvent>(event: E, partition: string): E => ({ ...event, partition })

      it("keeps each partition's latest materialization apart from the unpartitioned state", async () => {
        await run(
          storage.append("p", [
            started("r1", 1),
            inPartition(materialized("r1", "daily", 2, { dataVersion: "d1" }), "2026-01-01"),
            inPartition(materialized("r1", "daily", 3, { dataVersion: "d2" }), "2026-01-02"),
            inPartition(materialized("r2", "daily", 4, { dataVersion: "d1b" }), "2026-01-01"),
            materialized("r1", "plain", 5)
          ])
        )
        const snapshot = await run(storage.snapshot("p"))
        expect(snapshot.has("daily")).toBe(false)
        expect(snapshot.has("plain")).toBe(true)
        const parts = await run(storage.partitions("p", "daily"))
        expect(parts.map((s) => [s.partition, s.latest?.dataVersion])).toEqual([
          ["2026-01-01", "d1b"],
          ["2026-01-02", "d2"]
        ])
        expect(await run(storage.partitions("other", "daily"))).toEqual([])
      })

      it("records failures and skip decisions per partition", async () => {
        await run(
          storage.append("p", [
            started("r1", 1),
            inPartition(materialized("r1", "daily", 2), "2026-01-01"),
            inPartition(
              failedStep("r1", "daily", 3, { tag: "UserCodeError", message: "boom" }),
              "2026-01-01"
            ),
            inPartition(
              failedStep("r1", "daily", 3, { tag: "UserCodeError", message: "boom" }),
              "2026-01-02"
            ),
            inPartition(
              {
                _tag: "StepSkipped",
                runId: "r1",
                at: 4,
                key: "daily",
                reason: "nothing today",
                decision: { codeVersion: "v1", inputVersions: {} }
              },
              "2026-01-03"
            )
          ])
        )
        const parts = await run(storage.partitions("p", "daily"))
        expect(
          parts.map((s) => [s.partition, s.lastFailed, s.latest !== undefined, s.skipped !== undefined])
        ).toEqual([
          ["2026-01-01", true, true, false],
          ["2026-01-02", true, false, false],
          ["2026-01-03", false, false, true]
        ])
        expect(await run(storage.partitionCounts("p", "daily"))).toEqual({
          stored: 3,
          materialized: 1,
          failed: 2
        })
      })

      it("pages partitions in key order and reads only the keys asked for", async () => {
        const events: Array<RunEvent> = [started("r1", 1)]
        for (let d = 1; d <= 25; d++)
          events.push(
            inPartition(materialized("r1", "daily", d + 1), `2026-01-${String(d).padStart(2, "0")}`)
          )
        await run(storage.append("p", events))
        const first = await run(storage.partitions("p", "daily", { limit: 10 }))
        expect(first.map((s) => s.partition)).toEqual(
          Array.from({ length: 10 }, (_, i) => `2026-01-${String(i + 1).padStart(2, "0")}`)
        )
        const next = await run(storage.partitions("p", "daily", { after: first[9]!.partition, limit: 10 }))
        expect(next[0]!.partition).toBe("2026-01-11")
        expect(next.length).toBe(10)
        const last = await run(storage.partitions("p", "daily", { after: "2026-01-20", limit: 10 }))
        expect(last.length).toBe(5)
        const some = await run(
          storage.partitions("p", "daily", { only: ["2026-01-03", "2026-02-01", "2026-01-02"] })
        )
        expect(some.map((s) => s.partition)).toEqual(["2026-01-02", "2026-01-03"])
      })

      it("wipe forgets an asset's partitions too", async () => {
        await run(
          storage.append("p", [
            started("r1", 1),
            inPartition(materialized("r1", "daily", 2), "2026-01-01"),
            inPartition(materialized("r1", "daily", 3), "2026-01-02")
          ])
        )
        expect(await run(storage.wipe("p", ["daily"]))).toBe(2)
        expect(await run(storage.partitions("p", "daily"))).toEqual([])
      })
    })

    describe("history and retention", () => {
      it("lists events by tag, newest first, of one asset or all", async () => {
        await run(
          storage.append("p", [
            started("r1", 1),
            materialized("r1", "a", 2),
            materialized("r1", "b", 3),
            finished("r1", 4, "succeeded"),
            started("r2", 5),
            materialized("r2", "a", 6),
            finished("r2", 7, "succeeded")
          ])
        )
        await run(storage.append("other", [started("r3", 8), materialized("r3", "a", 9)]))
        const all = await run(storage.eventsByTag("p", ["Materialization"]))
        expect(all.map((e) => [e.event.runId, "key" in e.event ? e.event.key : ""])).toEqual([
          ["r2", "a"],
          ["r1", "b"],
          ["r1", "a"]
        ])
        const ofA = await run(storage.eventsByTag("p", ["Materialization"], { key: "a", limit: 1 }))
        expect(ofA.map((e) => e.event.runId)).toEqual(["r2"])
        const ends = await run(storage.eventsByTag("p", ["RunFinished", "RunStarted"]))
        expect(ends.length).toBe(4)
      })

      it("deletes ended runs and their events, never a running one, and keeps what they made current", async () => {
        await run(
          storage.append("p", [
            started("r1", 1),
            materialized("r1", "a", 2),
            finished("r1", 3, "succeeded"),
            started("r2", 4)
          ])
        )
        expect(await run(storage.deleteRuns("p", ["r1", "r2", "nope"]))).toBe(1)
        expect((await run(storage.runs("p"))).map((r) => r.runId)).toEqual(["r2"])
        expect(await run(storage.events("r1"))).toEqual([])
        expect((await run(storage.events("r2"))).length).toBe(1)
        expect((await run(storage.snapshot("p"))).get("a")?.latest?.runId).toBe("r1")
        expect(await run(storage.deleteRuns("other", ["r2"]))).toBe(0)
      })
    })

    describe("dynamic partitions", () => {
      it("adds keys once, in order, and deletes them", async () => {
        expect(await run(storage.dynamicPartitions("p", "customers"))).toEqual([])
        expect(await run(storage.addDynamicPartitions("p", "customers", ["acme", "globex"]))).toBe(2)
        expect(await run(storage.addDynamicPartitions("p", "customers", ["globex", "initech"]))).toBe(1)
        expect(await run(storage.dynamicPartitions("p", "customers"))).toEqual(["acme", "globex", "initech"])
        expect(await run(storage.dynamicPartitions("other", "customers"))).toEqual([])
        expect(await run(storage.deleteDynamicPartitions("p", "customers", ["globex", "nope"]))).toBe(1)
        expect(await run(storage.dynamicPartitions("p", "customers"))).toEqual(["acme", "initech"])
      })
    })

    describe("backfills", () => {
      const backfill = (
        backfillId: string,
        createdAt: number,
        overrides: Partial<BackfillRecord> = {}
      ): BackfillRecord => ({
        backfillId,
        project: "p",
        status: "running",
        select: "daily",
        partitions: "2026-01-01...2026-01-31",
        onlyStale: false,
        concurrency: 4,
        createdAt,
        updatedAt: createdAt,
        heartbeatAt: createdAt,
        runIds: [],
        progress: { total: 31, succeeded: 0, failed: 0, skipped: 0, canceled: 0, running: 0, fresh: 0 },
        ...overrides
      })

      it("saves, replaces and lists backfill records newest first", async () => {
        await run(storage.saveBackfill(backfill("b1", 10)))
        await run(storage.saveBackfill(backfill("b2", 20)))
        await run(storage.saveBackfill(backfill("b3", 30, { project: "other" })))
        const updated = backfill("b1", 10, {
          status: "failed",
          endedAt: 50,
          runIds: ["r1", "r2"],
          driver: { host: "h", pid: 1 },
          reason: "2 steps failed",
          progress: { total: 31, succeeded: 29, failed: 2, skipped: 0, canceled: 0, running: 0, fresh: 0 }
        })
        await run(storage.saveBackfill(updated))
        expect(await run(storage.backfill("b1"))).toEqual(updated)
        expect(await run(storage.backfill("nope"))).toBeUndefined()
        expect((await run(storage.backfills("p"))).map((b) => b.backfillId)).toEqual(["b2", "b1"])
        expect((await run(storage.backfills("p", { limit: 1 }))).map((b) => b.backfillId)).toEqual(["b2"])
      })
    })
  })
}
