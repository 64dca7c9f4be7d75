import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { CheckFailed, type CheckInput, type ExecutableCheck } from "../check/Check.ts"
import type { RunEvent } from "../events/RunEvent.ts"
import { AssetGraph } from "../graph/AssetGraph.ts"
import type { AssetSpec } from "../graph/AssetSpec.ts"
import { resolveSelection } from "../graph/Selection.ts"
import { makeMemoryIOManager } from "../io/MemoryIOManager.ts"
import { plan } from "../plan/Planner.ts"
import { makeMemoryStorage } from "../storage/MemoryStorage.ts"
import { runTest, testSpec, withVirtualTime } from "../testing/TestRuntime.ts"
import { type ExecutableAsset, execute, type RunOutcome } from "./Executor.ts"
import { runAttemptHere } from "./RemoteAttempt.ts"
import { Skip } from "./Skip.ts"
import { NonRetryableError, UserCodeError } from "./StepErrors.ts"
import { decodeStepError, encodeStepError, type StepRunner } from "./StepRunner.ts"

type Body = ExecutableAsset["run"]

/**
 * A runner that sends every attempt through the seam as plain data (a JSON round trip of the request,
 * the result and the error), running it with `runAttemptHere` in this process.
 */
const loopback = (host: Parameters<typeof runAttemptHere<never>>[0], counter: { n: number }): StepRunner => ({
  run: (attempt, emit) => {
    counter.n++
    const wire = JSON.parse(JSON.stringify(attempt)) as typeof attempt
    return Effect.catch(runAttemptHere(host, wire, emit), (error) =>
      Effect.fail(decodeStepError(JSON.parse(JSON.stringify(encodeStepError(error)))))
    )
  }
})

const runBoth = async (
  specs: ReadonlyArray<AssetSpec>,
  bodies: Record<string, Body>,
  extras: Record<string, Partial<ExecutableAsset>> = {}
) => {
  const graph = AssetGraph.make(specs)
  const assets = new Map<string, ExecutableAsset>(
    specs.map((s) => [s.key, { spec: s, run: bodies[s.key]!, ...extras[s.key] }])
  )
  const once = async (runner: boolean) => {
    const storage = makeMemoryStorage()
    const io = makeMemoryIOManager()
    const ioManagers = new Map([["memory", io]])
    const events: Array<RunEvent> = []
    const counter = { n: 0 }
    const outcome: RunOutcome = await runTest(
      withVirtualTime(
        Effect.gen(function* () {
          const snapshot = yield* storage.snapshot("p")
          return yield* execute({
            runId: "r1",
            project: "p",
            graph,
            plan: plan(graph, resolveSelection(graph, "*"), snapshot),
            assets,
            snapshot,
            storage,
            ioManagers,
            limits: { concurrency: 4 },
            listeners: [(e) => events.push(e)],
            output: "off",
            stepRunner: runner ? loopback({ graph, assets, ioManagers }, counter) : undefined
          })
        })
      )
    )
    const stored = await runTest(storage.snapshot("p"))
    return { outcome, events, stored, remoteAttempts: counter.n }
  }
  return { here: await once(false), there: await once(true) }
}

const summary = (o: RunOutcome) =>
  o.steps.map((s) => ({
    key: s.key,
    status: s.status,
    attempts: s.attempts,
    error: (s.error as { _tag?: string } | undefined)?._tag,
    skip: s.skipReason,
    version: s.dataVersion
  }))
const tags = (events: ReadonlyArray<RunEvent>) =>
  events.map((e) => ("key" in e ? `${e._tag}:${e.key}` : e._tag)).sort()

describe("a StepRunner (the executor seam)", () => {
  it("gives the same outcomes, events and stored values as in-process: values, retries, failures, skips, checks", async () => {
    let flaky = 0
    let flakyRemote = 0
    const blocking: ExecutableCheck = {
      spec: { name: "positive", assetKey: "checked", severity: "error", blocking: true },
      run: (input: CheckInput) =>
        Effect.map(input.value, (v) => ({ passed: (v as number) > 0, message: "must be positive" }))
    }
    const specs = [
      testSpec("a"),
      testSpec("b", ["a"]),
      testSpec("flaky", ["a"], {
        retry: { attempts: 3, backoff: "constant", delayMillis: 100, maxDelayMillis: 100, jitter: false }
      }),
      testSpec("fatal", [], {
        retry: { attempts: 3, backoff: "constant", delayMillis: 100, maxDelayMillis: 100, jitter: false }
      }),
      testSpec("after_fatal", ["fatal"]),
      testSpec("branch", ["a"]),
      testSpec("after_branch", ["branch"]),
      testSpec("checked", ["a"]),
      testSpec("after_checked", ["checked"]),
      testSpec("slow", [], { timeoutMillis: 1000 })
    ]
    const bodies: Record<string, Body> = {
      a: () => Effect.succeed(2),
      b: (i, ctx) =>
        Effect.sync(() => {
          ctx.log.info(`got ${String(i.a)}`)
          ctx.addMetadata({ seen: i.a as number })
          return (i.a as number) * 10
        }),
      flaky: (_i, ctx) =>
        Effect.suspend(() => {
          if (ctx.attempt === 1) {
            flaky++
            return Effect.fail(new Error("transient"))
          }
          flakyRemote++
          return Effect.succeed(ctx.attempt)
        }),
      fatal: () => Effect.fail(new NonRetryableError("bad input")),
      after_fatal: () => Effect.succeed(1),
      branch: () => Effect.succeed(new Skip("nothing to do")),
      after_branch: () => Effect.succeed(1),
      checked: () => Effect.succeed(-1),
      after_checked: () => Effect.succeed(1),
      slow: () => Effect.never
    }
    const { here, there } = await runBoth(specs, bodies, { checked: { checks: [blocking] } })
    expect(summary(there.outcome)).toEqual(summary(here.outcome))
    expect(tags(there.events)).toEqual(tags(here.events))
    expect([...there.stored.keys()].sort()).toEqual([...here.stored.keys()].sort())
    expect(there.remoteAttempts).toBeGreaterThan(0)
    expect(flaky).toBe(2)
    expect(flakyRemote).toBe(2)
    const byKey = new Map(summary(there.outcome).map((s) => [s.key, s]))
    expect(byKey.get("b")).toMatchObject({ status: "succeeded", attempts: 1 })
    expect(byKey.get("flaky")).toMatchObject({ status: "succeeded", attempts: 2 })
    expect(byKey.get("fatal")).toMatchObject({ status: "failed", attempts: 1, error: "UserCodeError" })
    expect(byKey.get("after_fatal")?.status).toBe("skipped")
    expect(byKey.get("branch")).toMatchObject({ status: "skipped", skip: "nothing to do" })
    expect(byKey.get("checked")).toMatchObject({ status: "failed", error: "CheckFailed" })
    expect(byKey.get("slow")).toMatchObject({ status: "failed", error: "StepTimeout" })
    const failed = there.outcome.steps.find((s) => s.key === "fatal")!.error as UserCodeError
    expect(failed).toBeInstanceOf(UserCodeError)
    expect(failed.message).toContain("bad input")
    expect(there.outcome.steps.find((s) => s.key === "checked")!.error).toBeInstanceOf(CheckFailed)
    const log = there.events.find((e) => e._tag === "StepLog" && e.key === "b")
    expect(log).toMatchObject({ message: "got 2" })
    const m = there.events.find((e) => e._tag === "Materialization" && e.key === "b")
    expect(m).toMatchObject({ metadata: { seen: 2 }, attempt: 1 })
  })

  it("promotes a value once, in the driver after its commit, never where the attempt ran", async () => {
    const memory = makeMemoryIOManager()
    const promoted: Array<string> = []
    const io = {
      ...memory,
      promote: (_handle: unknown, context: { assetKey: string }) =>
        Effect.sync(() => {
          promoted.push(context.assetKey)
        })
    }
    const ioManagers = new Map([["memory", io]])
    const specs = [testSpec("a")]
    const graph = AssetGraph.make(specs)
    const assets = new Map<string, ExecutableAsset>([
      ["a", { spec: specs[0]!, run: () => Effect.succeed(1) }]
    ])
    const storage = makeMemoryStorage()
    const outcome = await runTest(
      Effect.gen(function* () {
        const snapshot = yield* storage.snapshot("p")
        return yield* execute({
          runId: "r1",
          project: "p",
          graph,
          plan: plan(graph, resolveSelection(graph, "*"), snapshot),
          assets,
          snapshot,
          storage,
          ioManagers,
          limits: { concurrency: 1 },
          output: "off",
          stepRunner: loopback({ graph, assets, ioManagers }, { n: 0 })
        })
      })
    )
    expect(outcome.status).toBe("succeeded")
    expect(promoted).toEqual(["a"])
  })
})
