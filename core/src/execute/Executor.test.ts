import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { CheckFailed, type CheckInput } from "../check/Check.ts"
import type { RunEvent } from "../events/RunEvent.ts"
import { applyRunEvent, emptyRunView, foldRunEvents } from "../events/RunView.ts"
import { AssetGraph } from "../graph/AssetGraph.ts"
import type { AssetSpec } from "../graph/AssetSpec.ts"
import { resolveSelection } from "../graph/Selection.ts"
import { makeMemoryIOManager } from "../io/MemoryIOManager.ts"
import { plan } from "../plan/Planner.ts"
import { makeMemoryStorage } from "../storage/MemoryStorage.ts"
import { type StorageApi, StorageError } from "../storage/Storage.ts"
import { runTest, testSpec, withVirtualTime } from "../testing/TestRuntime.ts"
import { type ExecutableAsset, execute, type StepHookInfo } from "./Executor.ts"
import { Skip } from "./Skip.ts"
import type { StepContext } from "./StepContext.ts"
import { NonRetryableError, StepTimeout, UserCodeError } from "./StepErrors.ts"

type Body = (inputs: Record<string, unknown>, ctx: StepContext) => Effect.Effect<unknown, unknown>

interface Harness {
  readonly storage: StorageApi
  readonly io: ReturnType<typeof makeMemoryIOManager>
  readonly events: Array<RunEvent>
  readonly run: (options?: {
    readonly selection?: string
    readonly concurrency?: number
    readonly pools?: Record<string, number>
    readonly signal?: AbortSignal
    readonly runId?: string
    readonly output?: "tee" | "capture" | "off"
  }) => ReturnType<typeof execute<never>>
}

/** Run ids unique across harnesses, as a store sharing harnesses requires: an ended run is fenced. */
let runs = 0

const harness = (
  specs: ReadonlyArray<AssetSpec>,
  bodies: Record<string, Body>,
  storage: StorageApi = makeMemoryStorage(),
  extras: Record<string, Partial<ExecutableAsset>> = {}
): Harness => {
  const graph = AssetGraph.make(specs)
  const io = makeMemoryIOManager()
  const events: Array<RunEvent> = []
  const assets = new Map<string, ExecutableAsset>(
    specs.map((s) => [s.key, { spec: s, run: bodies[s.key]!, ...extras[s.key] }])
  )
  return {
    storage,
    io,
    events,
    run: (options = {}) =>
      Effect.gen(function* () {
        const snapshot = yield* storage.snapshot("p")
        const p = plan(graph, resolveSelection(graph, options.selection ?? "*"), snapshot)
        return yield* execute({
          runId: options.runId ?? `r${++runs}`,
          project: "p",
          graph,
          plan: p,
          assets,
          snapshot,
          storage,
          ioManagers: new Map([["memory", io]]),
          limits: { concurrency: options.concurrency ?? 4, pools: options.pools },
          listeners: [(e) => events.push(e)],
          signal: options.signal,
          output: options.output ?? "off"
        })
      })
  }
}

const value =
  (v: unknown): Body =>
  () =>
    Effect.succeed(v)
const tags = (events: ReadonlyArray<RunEvent>) =>
  events.map((e) => ("key" in e ? `${e._tag}:${e.key}` : e._tag))

describe("execute", () => {
  it("runs a diamond in dependency order, passing values, and records materializations", async () => {
    const h = harness(
      [testSpec("a"), testSpec("b", ["a"]), testSpec("c", ["a"]), testSpec("d", ["b", "c"])],
      {
        a: value(2),
        b: (i) => Effect.succeed((i.a as number) + 1),
        c: (i) => Effect.succeed((i.a as number) * 10),
        d: (i) => Effect.succeed((i.b as number) + (i.c as number))
      }
    )
    const out = await runTest(h.run())
    expect(out.status).toBe("succeeded")
    expect(out.steps.map((s) => [s.key, s.status, s.attempts])).toEqual([
      ["a", "succeeded", 1],
      ["b", "succeeded", 1],
      ["c", "succeeded", 1],
      ["d", "succeeded", 1]
    ])
    const d = out.steps[3]!
    expect(await runTest(h.io.load(d.handle!, { assetKey: "d", consumerKey: "test" }))).toBe(23)
    const snapshot = await runTest(h.storage.snapshot("p"))
    expect(snapshot.get("d")?.latest?.inputVersions).toEqual({
      b: out.steps[1]!.dataVersion,
      c: out.steps[2]!.dataVersion
    })
    // A materialization is committed before its downstream starts.
    const order = tags(h.events)
    expect(order.indexOf("Materialization:a")).toBeLessThan(order.indexOf("StepStarted:b"))
    expect(order.at(-1)).toBe("RunFinished")
  })

  it("folds events one at a time into the same view as all at once", async () => {
    const h = harness([testSpec("a"), testSpec("b", ["a"])], {
      a: value(1),
      b: () => Effect.fail(new Error("boom"))
    })
    await runTest(h.run())
    const incremental = emptyRunView("r1")
    for (const e of h.events) applyRunEvent(incremental, e)
    expect(incremental).toEqual(foldRunEvents("r1", h.events))
    expect(incremental.status).toBe("failed")
    expect(incremental.steps.get("b")?.error?.message).toContain("boom")
  })

  it("starts a step when its own inputs are stored, not when its level finishes", async () => {
    // `slow` can only finish after `after_fast` ran: a level-by-level scheduler would time it out.
    const gate = Effect.runSync(Deferred.make<void>())
    const h = harness([testSpec("slow"), testSpec("fast"), testSpec("after_fast", ["fast"])], {
      slow: () =>
        Deferred.await(gate).pipe(
          // A hang guard on the live clock, not a performance limit.
          Effect.timeoutOrElse({
            duration: "20 seconds",
            orElse: () => Effect.fail(new Error("waited for a level"))
          })
        ),
      fast: value(1),
      after_fast: () => Deferred.succeed(gate, undefined)
    })
    const out = await Effect.runPromise(h.run())
    expect(out.steps.map((s) => [s.key, s.status])).toEqual([
      ["fast", "succeeded"],
      ["after_fast", "succeeded"],
      ["slow", "succeeded"]
    ])
  })

  it("fails a step whose body throws, skips its downstream and lets other branches finish", async () => {
    const thrower = () => {
      throw new Error("bad rows in orders")
    }
    const h = harness(
      [
        testSpec("orders"),
        testSpec("features", ["orders"]),
        testSpec("model", ["features"]),
        testSpec("other")
      ],
      {
        orders: () => Effect.sync(thrower),
        features: value(1),
        model: value(2),
        other: value(3)
      }
    )
    const out = await runTest(h.run())
    expect(out.status).toBe("failed")
    const byKey = Object.fromEntries(out.steps.map((s) => [s.key, s]))
    expect(byKey.orders!.status).toBe("failed")
    expect(byKey.orders!.error).toBeInstanceOf(UserCodeError)
    expect((byKey.orders!.error as UserCodeError).message).toBe('asset "orders" failed: bad rows in orders')
    expect((byKey.orders!.error as UserCodeError).userStack).toContain("thrower")
    expect(byKey.features!.status).toBe("skipped")
    expect(byKey.model!.skipReason).toBe("upstream failed: orders")
    expect(byKey.other!.status).toBe("succeeded")
    const failed = h.events.find((e) => e._tag === "StepFailed")
    expect(failed?._tag === "StepFailed" && failed.error.stack).toContain("thrower")
    // The failure is recorded: the planner will say "failed last time".
    expect((await runTest(h.storage.snapshot("p"))).get("orders")?.lastFailed).toBe(true)
  })

  it("turns rejections, typed failures and defects into UserCodeError", async () => {
    const h = harness([testSpec("rejects"), testSpec("fails"), testSpec("dies")], {
      rejects: () => Effect.tryPromise({ try: () => Promise.reject(new Error("rejected")), catch: (e) => e }),
      fails: () => Effect.fail({ code: 42 }),
      dies: () => Effect.die(new RangeError("died"))
    })
    const out = await runTest(h.run())
    expect(out.steps.map((s) => (s.error as UserCodeError).message)).toEqual([
      'asset "dies" failed: died',
      'asset "fails" failed: {"code":42}',
      'asset "rejects" failed: rejected'
    ])
  })

  it("retries with exponential backoff and records each retry", async () => {
    let calls = 0
    const h = harness(
      [
        testSpec("flaky", [], {
          retry: {
            attempts: 3,
            backoff: "exponential",
            delayMillis: 1000,
            maxDelayMillis: 60_000,
            jitter: false
          }
        })
      ],
      {
        flaky: () =>
          Effect.suspend(() => (++calls < 3 ? Effect.fail(new Error(`try ${calls}`)) : Effect.succeed("ok")))
      }
    )
    const out = await runTest(withVirtualTime(h.run()))
    expect(out.steps[0]!.status).toBe("succeeded")
    expect(out.steps[0]!.attempts).toBe(3)
    const retries = h.events.flatMap((e) =>
      e._tag === "StepRetrying" ? [[e.attempt, e.delayMillis, e.error.message]] : []
    )
    expect(retries).toEqual([
      [1, 1000, 'asset "flaky" failed: try 1'],
      [2, 2000, 'asset "flaky" failed: try 2']
    ])
  })

  it("gives up after the last attempt, and at once on a non-retryable error", async () => {
    let calls = 0
    let fatalCalls = 0
    const retry = {
      attempts: 2,
      backoff: "constant" as const,
      delayMillis: 10,
      maxDelayMillis: 10,
      jitter: false
    }
    const h = harness(
      [testSpec("always", [], { retry }), testSpec("fatal", [], { retry: { ...retry, attempts: 5 } })],
      {
        always: () => Effect.suspend(() => Effect.fail(new Error(`try ${++calls}`))),
        fatal: () =>
          Effect.suspend(() => {
            fatalCalls++
            return Effect.fail(new NonRetryableError("schema is wrong"))
          })
      }
    )
    const out = await runTest(withVirtualTime(h.run()))
    expect(calls).toBe(2)
    expect(fatalCalls).toBe(1)
    expect(out.steps.map((s) => [s.key, s.status, s.attempts])).toEqual([
      ["always", "failed", 2],
      ["fatal", "failed", 1]
    ])
  })

  it("times a step out, interrupting the body and aborting its signal", async () => {
    let signal: AbortSignal | undefined
    const h = harness([testSpec("hangs", [], { timeoutMillis: 5000 })], {
      hangs: (_, ctx) =>
        Effect.suspend(() => {
          signal = ctx.signal
          return Effect.never
        })
    })
    const out = await runTest(withVirtualTime(h.run()))
    expect(out.steps[0]!.status).toBe("failed")
    expect(out.steps[0]!.error).toBeInstanceOf(StepTimeout)
    expect((out.steps[0]!.error as StepTimeout).message).toContain("timed out after 5000 ms")
    expect(signal?.aborted).toBe(true)
  })

  it("bounds each pool by its own limit", async () => {
    let running = 0
    let peak = 0
    const gpu = (_: Record<string, unknown>) =>
      Effect.gen(function* () {
        running++
        peak = Math.max(peak, running)
        yield* Effect.sleep("1 second")
        running--
      })
    const specs = ["g1", "g2", "g3"].map((k) => testSpec(k, [], { pool: "gpu" }))
    const h = harness([...specs, testSpec("cpu")], { g1: gpu, g2: gpu, g3: gpu, cpu: value(1) })
    const out = await runTest(withVirtualTime(h.run({ pools: { gpu: 1 } })))
    expect(out.status).toBe("succeeded")
    expect(peak).toBe(1)
    // The cpu step did not wait behind the gpu queue: it started with the run.
    const started = h.events.find((e) => e._tag === "StepStarted" && e.key === "cpu")
    expect(started?.at).toBe(h.events[0]!.at)
  })

  it("cancels on an AbortSignal: running steps are interrupted, waiting ones canceled", async () => {
    const controller = new AbortController()
    let stepSignal: AbortSignal | undefined
    const h = harness([testSpec("long"), testSpec("after", ["long"])], {
      long: (_, ctx) =>
        Effect.suspend(() => {
          stepSignal = ctx.signal
          controller.abort()
          return Effect.never
        }),
      after: value(1)
    })
    const out = await runTest(h.run({ signal: controller.signal }))
    expect(out.status).toBe("canceled")
    expect(out.steps.map((s) => [s.key, s.status])).toEqual(
      [
        ["after", "canceled"],
        ["long", "canceled"]
      ].reverse()
    )
    expect(stepSignal?.aborted).toBe(true)
    const runs = await runTest(h.storage.runs("p"))
    expect(runs[0]!.status).toBe("canceled")
  })

  it("records the run as canceled when the executing fiber is interrupted", async () => {
    const h = harness([testSpec("long")], { long: () => Effect.never })
    await runTest(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(h.run())
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(fiber)
      })
    )
    expect(tags(h.events).slice(-2)).toEqual(["StepCanceled:long", "RunFinished"])
    expect((await runTest(h.storage.runs("p")))[0]!.status).toBe("canceled")
  })

  it("keeps a downstream value when its upstream re-materializes identical content", async () => {
    let dCalls = 0
    const specs = (bVersion: string) => [testSpec("b", [], { codeVersion: bVersion }), testSpec("d", ["b"])]
    const bodies = {
      b: value(new Uint8Array([1, 2, 3])),
      d: (i: Record<string, unknown>) => Effect.sync(() => ++dCalls + (i.b as Uint8Array).length)
    }
    const storage = makeMemoryStorage()
    await runTest(harness(specs("v1"), bodies, storage).run())
    const second = harness(specs("v2"), bodies, storage)
    const out = await runTest(second.run())
    expect(out.steps.map((s) => [s.key, s.status])).toEqual([
      ["b", "succeeded"],
      ["d", "unchanged"]
    ])
    expect(dCalls).toBe(1)
  })

  it("fails a step whose commit cannot be stored, without losing the run", async () => {
    const inner = makeMemoryStorage()
    const failing: StorageApi = {
      ...inner,
      append: (project, events) =>
        events.some((e) => e._tag === "Materialization" && e.key === "a")
          ? Effect.fail(new StorageError({ reason: "Unavailable", message: "disk full", retryable: false }))
          : inner.append(project, events)
    }
    const h = harness([testSpec("a"), testSpec("b")], { a: value(1), b: value(2) }, failing)
    const out = await runTest(h.run())
    expect(out.steps.map((s) => [s.key, s.status])).toEqual([
      ["a", "failed"],
      ["b", "succeeded"]
    ])
    expect((out.steps[0]!.error as StorageError).message).toBe("disk full")
  })

  it("stops committing once another process ended the run (the store's run fence)", async () => {
    const storage = makeMemoryStorage()
    // While a runs, the dead-run monitor of another process marks the run failed.
    const h = harness(
      [testSpec("a"), testSpec("b", ["a"])],
      {
        a: (_i, ctx) =>
          Effect.flatMap(
            storage.append("p", [
              { _tag: "RunFinished", runId: ctx.runId, at: 1, status: "failed", durationMillis: 1 }
            ]),
            () => Effect.succeed(1)
          ),
        b: value(2)
      },
      storage
    )
    // The driver's next append is refused: the run stops with the fence's error, not a verdict of its own.
    const error = await runTest(Effect.flip(h.run({ runId: "lost" })))
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).reason).toBe("Conflict")
    expect((error as StorageError).message).toContain('run "lost" has already ended (failed)')
    // Nothing was committed after the fence; the monitor's verdict stands.
    expect((await runTest(storage.snapshot("p"))).size).toBe(0)
    expect((await runTest(storage.runs("p")))[0]?.status).toBe("failed")
  })

  it("passes undefined for a body that returned nothing", async () => {
    let seen: unknown = "unset"
    const h = harness([testSpec("side_effect"), testSpec("next", ["side_effect"])], {
      side_effect: () => Effect.void,
      next: (i) =>
        Effect.sync(() => {
          seen = i.side_effect
          return 1
        })
    })
    const out = await runTest(h.run())
    expect(out.steps[0]!.handle).toBeNull()
    expect(seen).toBeUndefined()
  })

  it("records what each body prints as its own log lines, across awaits and interleaved steps", async () => {
    const printer = (name: string) => () =>
      Effect.promise(async () => {
        process.stdout.write(`${name} one\n${name} tw`)
        await new Promise((resolve) => setTimeout(resolve, 5))
        process.stdout.write("o\n")
        process.stderr.write(`${name} oops\n`)
        process.stdout.write(`${name} unterminated`)
        return name
      })
    const h = harness([testSpec("a"), testSpec("b"), testSpec("c", ["a"])], {
      a: printer("a"),
      b: printer("b"),
      c: () => Effect.succeed("quiet")
    })
    const out = await Effect.runPromise(h.run({ output: "capture" }))
    expect(out.status).toBe("succeeded")
    const lines = (key: string) =>
      h.events.flatMap((e) =>
        e._tag === "StepLog" && e.key === key ? [`${e.stream}:${e.level}:${e.message}`] : []
      )
    for (const name of ["a", "b"])
      expect(lines(name)).toEqual([
        `stdout:info:${name} one`,
        `stdout:info:${name} two`,
        `stderr:warn:${name} oops`,
        `stdout:info:${name} unterminated`
      ])
    expect(lines("c")).toEqual([])
    // The lines come before the step's end.
    const order = tags(h.events)
    expect(order.lastIndexOf("StepLog:a")).toBeLessThan(order.indexOf("StepSucceeded:a"))
  })

  it("records step logs and user metadata", async () => {
    const h = harness([testSpec("a")], {
      a: (_, ctx) =>
        Effect.sync(() => {
          ctx.log.info("hello")
          ctx.addMetadata({ loss: 0.25 })
          return 1
        })
    })
    await runTest(h.run())
    const log = h.events.find((e) => e._tag === "StepLog")
    expect(log?._tag === "StepLog" && [log.level, log.message]).toEqual(["info", "hello"])
    const m = h.events.find((e) => e._tag === "Materialization")
    expect(m?._tag === "Materialization" && m.metadata).toEqual({ loss: 0.25 })
  })

  describe("checks, skips and hooks", () => {
    const checkOf = (
      name: string,
      blocking: boolean,
      passes: (value: unknown) => boolean,
      severity: "warn" | "error" = "error"
    ) => ({
      spec: { name, assetKey: "", blocking, severity },
      run: (input: CheckInput) =>
        Effect.map(input.value, (v) => ({
          passed: passes(v),
          message: `value was ${String(v)}`,
          metadata: { seen: String(v) }
        }))
    })

    it("commits a value only when its blocking checks pass; a failure blocks downstream and keeps the old value", async () => {
      let ingested = 5
      const storage = makeMemoryStorage()
      const specs = [
        testSpec("ingest", [], { codeVersion: "v1" }),
        testSpec("train", ["ingest"]),
        testSpec("other")
      ]
      const bodies = { ingest: () => Effect.sync(() => ingested), train: value(1), other: value(2) }
      const extras = {
        ingest: {
          checks: [
            checkOf("positive", true, (v) => (v as number) > 0),
            checkOf("small", false, (v) => (v as number) < 3, "warn")
          ]
        }
      }
      const first = harness(specs, bodies, storage, extras)
      expect((await runTest(first.run())).status).toBe("succeeded")
      const good = (await runTest(storage.snapshot("p"))).get("ingest")!.latest!
      ingested = -1
      const second = harness(
        specs.map((s) => (s.key === "ingest" ? { ...s, codeVersion: "v2" } : s)),
        bodies,
        storage,
        extras
      )
      const out = await runTest(second.run())
      expect(out.status).toBe("failed")
      expect(out.steps.map((s) => [s.key, s.status, s.skipReason])).toEqual([
        ["ingest", "failed", undefined],
        ["train", "skipped", "blocked by check positive on ingest"]
      ])
      const error = out.steps[0]!.error as CheckFailed
      expect(error).toBeInstanceOf(CheckFailed)
      expect(error.message).toMatch(
        /^check "positive" on asset "ingest" failed: value was -1 \(rejected value kept at memory:\/\/ingest\//
      )
      // The last good value is still current; the rejected one is not.
      const after = (await runTest(storage.snapshot("p"))).get("ingest")!
      expect(after.latest?.dataVersion).toBe(good.dataVersion)
      expect(after.checks?.map((c) => [c.check, c.passed, c.metadata])).toEqual([
        ["positive", false, { seen: "-1" }],
        ["small", true, { seen: "-1" }]
      ])
      const checked = second.events.filter((e) => e._tag === "CheckEvaluated")
      expect(checked.map((e) => e._tag === "CheckEvaluated" && [e.check, e.passed, e.blocking])).toEqual([
        ["positive", false, true],
        ["small", true, false]
      ])
    })

    it("only warns for failing non-blocking checks, and records a check that throws as failed", async () => {
      const thrower = {
        spec: { name: "explodes", assetKey: "a", blocking: false, severity: "error" as const },
        run: () => Effect.die(new Error("kaboom"))
      }
      const h = harness([testSpec("a")], { a: value(10) }, makeMemoryStorage(), {
        a: { checks: [checkOf("small", true, (v) => (v as number) < 3, "warn"), thrower] }
      })
      const out = await runTest(h.run())
      expect(out.status).toBe("succeeded")
      const results = h.events.flatMap((e) =>
        e._tag === "CheckEvaluated" ? [[e.check, e.passed, e.message]] : []
      )
      expect(results).toEqual([
        ["small", false, "value was 10"],
        ["explodes", false, "the check threw: kaboom"]
      ])
    })

    it("skips a step whose body decides so, and its downstream, without failing the run", async () => {
      const h = harness(
        [testSpec("evaluate"), testSpec("deploy", ["evaluate"]), testSpec("notify", ["deploy"])],
        {
          evaluate: value(0.8),
          deploy: (i) =>
            Effect.succeed(
              (i.evaluate as number) > 0.9 ? "deployed" : new Skip(`accuracy ${i.evaluate} ≤ 0.9`)
            ),
          notify: value("sent")
        }
      )
      const out = await runTest(h.run())
      expect(out.status).toBe("succeeded")
      expect(out.steps.map((s) => [s.key, s.status, s.skipReason])).toEqual([
        ["evaluate", "succeeded", undefined],
        ["deploy", "skipped", "accuracy 0.8 ≤ 0.9"],
        ["notify", "skipped", "upstream skipped: deploy (accuracy 0.8 ≤ 0.9)"]
      ])
      const decision = (await runTest(h.storage.snapshot("p"))).get("deploy")?.skipped
      expect(decision).toEqual({ codeVersion: "v1", inputVersions: { evaluate: out.steps[0]!.dataVersion } })
    })

    it("runs each step's hook for its outcome, and logs a failing hook without failing the run", async () => {
      const seen: Array<string> = []
      const hook = (info: StepHookInfo) =>
        Effect.sync(() => void seen.push(`${info.assetKey}:${info.status}`))
      const h = harness(
        [testSpec("ok"), testSpec("bad"), testSpec("after", ["bad"]), testSpec("choosy")],
        {
          ok: value(1),
          bad: () => Effect.fail(new Error("no")),
          after: value(2),
          choosy: value(new Skip("not today"))
        },
        makeMemoryStorage(),
        {
          ok: { hooks: { onSuccess: hook } },
          bad: { hooks: { onFailure: hook } },
          after: { hooks: { onSkip: hook, onFailure: hook } },
          choosy: { hooks: { onSkip: () => Effect.fail(new Error("pager down")) } }
        }
      )
      const out = await runTest(h.run())
      expect(out.status).toBe("failed")
      expect(seen.sort()).toEqual(["bad:failed", "ok:succeeded"])
      const logged = h.events.find((e) => e._tag === "StepLog" && e.key === "choosy")
      expect(logged?._tag === "StepLog" && logged.message).toBe("onSkip hook failed: pager down")
    })
  })
})
