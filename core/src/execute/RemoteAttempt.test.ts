import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { describe, expect, it } from "vitest"
import type { CheckInput, ExecutableCheck } from "../check/Check.ts"
import type { RunEvent } from "../events/RunEvent.ts"
import { AssetGraph } from "../graph/AssetGraph.ts"
import type { AssetSpec } from "../graph/AssetSpec.ts"
import { makeMemoryIOManager } from "../io/MemoryIOManager.ts"
import type { PlanStep } from "../plan/Planner.ts"
import type { StoredAssetState } from "../storage/Storage.ts"
import { runTest, testSpec, withVirtualTime } from "../testing/TestRuntime.ts"
import type { ExecutableAsset } from "./Executor.ts"
import { runAttemptHere, runAttemptOnPlan, runsDirectly } from "./RemoteAttempt.ts"
import { Skip } from "./Skip.ts"
import { NonRetryableError, OutputValidationError } from "./StepErrors.ts"
import { encodeStepError, type StepAttempt } from "./StepRunner.ts"

class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()(
  "test/Greeter"
) {}
const GreeterLive = Context.make(Greeter, { greet: (name) => `hello ${name}` })

type Body = ExecutableAsset<Greeter>["run"]

/** The stack differs by the frames of each path; everything else of an error must be equal. */
const withoutStack = ({ stack: _stack, ...error }: ReturnType<typeof encodeStepError>) => error

/** One attempt to run both ways: the graph, bodies, stored parent values and the step's key. */
interface Case {
  readonly specs: ReadonlyArray<AssetSpec>
  readonly bodies: Readonly<Record<string, Body>>
  readonly extras?: Readonly<Record<string, Partial<ExecutableAsset<Greeter>>>>
  /** Values of parents stored before the attempt (by key; `null`: a valueless materialization). */
  readonly stored?: Readonly<
    Record<string, { readonly value: () => unknown; readonly ioManager?: string } | null>
  >
  readonly key: string
  readonly attempt?: number
  readonly config?: unknown
}

/** Runs the case with `run` on a fresh host: the result (or plain-data error) and the forwarded events. */
const runCase = async (
  c: Case,
  run: typeof runAttemptHere<Greeter>,
  signal?: (abort: () => void) => void
) => {
  const graph = AssetGraph.make(c.specs)
  const assets = new Map<string, ExecutableAsset<Greeter>>(
    c.specs.map((s) => [
      s.key,
      { spec: s, run: c.bodies[s.key] ?? (() => Effect.void), ...c.extras?.[s.key] }
    ])
  )
  const memory = makeMemoryIOManager("memory")
  const other = makeMemoryIOManager("other")
  const ioManagers = new Map([
    ["memory", memory],
    ["other", other]
  ])
  const states: Array<readonly [string, StoredAssetState]> = []
  for (const [key, entry] of Object.entries(c.stored ?? {})) {
    const io = entry?.ioManager === "other" ? other : memory
    const written =
      entry === null
        ? { handle: null, dataVersion: `v-${key}` }
        : await runTest(
            io.write(entry.value(), {
              assetKey: key,
              assetPath: [key],
              runId: "earlier",
              attemptId: "earlier-1",
              codeVersion: "v1",
              inputVersions: {}
            })
          )
    states.push([
      key,
      {
        lastFailed: false,
        latest: {
          key,
          runId: "earlier",
          at: 0,
          dataVersion: written.dataVersion,
          codeVersion: "v1",
          inputVersions: {},
          handle:
            entry?.ioManager === "missing" ? { ...written.handle!, ioManager: "missing" } : written.handle
        }
      }
    ])
  }
  const node = graph.indexOf(c.key)
  const step: PlanStep = {
    key: c.key,
    node,
    reasons: [{ _tag: "Missing" }],
    conditional: false,
    upstream: [],
    pool: "default"
  }
  const attempt: StepAttempt = {
    runId: "r1",
    project: "p",
    attempt: c.attempt ?? 1,
    step,
    states,
    ...(c.config === undefined ? {} : { config: c.config })
  }
  const events: Array<RunEvent> = []
  const controller = new AbortController()
  signal?.(() => controller.abort())
  const exit = await runTest(
    withVirtualTime(
      Effect.exit(
        Effect.provideContext(
          run({ graph, assets, ioManagers }, attempt, (e) => events.push(e), controller.signal),
          GreeterLive
        )
      )
    )
  )
  const direct = runsDirectly(assets.get(c.key)!, attempt)
  const outcome = Exit.isSuccess(exit)
    ? { ok: exit.value }
    : Exit.hasInterrupts(exit)
      ? { interrupted: true }
      : { error: withoutStack(encodeStepError(Cause.squash(exit.cause))) }
  return { outcome, events: events.map(({ at: _at, ...rest }) => rest), direct }
}

/** Both paths on the same case: the direct one must be taken, and give what the one-step plan gives. */
const same = async (c: Case) => {
  const direct = await runCase(c, runAttemptHere)
  const onPlan = await runCase(c, runAttemptOnPlan)
  expect(direct.direct).toBe(true)
  expect(direct.outcome).toEqual(onPlan.outcome)
  expect(direct.events).toEqual(onPlan.events)
  return direct
}

describe("runAttemptHere's direct path (no partitions, no checks)", () => {
  it("stores a value made from a stored input, with the same logs, printed lines, metadata and version", async () => {
    const r = await same({
      specs: [testSpec("a"), testSpec("b", ["a"])],
      stored: { a: { value: () => ({ n: 21 }) } },
      key: "b",
      bodies: {
        b: (i, ctx) =>
          Effect.sync(() => {
            ctx.log.info("doubling")
            ctx.log.warn("careful")
            process.stdout.write("printed line\nunterminated")
            process.stderr.write("to stderr\n")
            ctx.addMetadata({ attempt: ctx.attempt, run: ctx.runId })
            return { n: (i.a as { n: number }).n * 2 }
          })
      },
      attempt: 2
    })
    expect(r.outcome).toMatchObject({ ok: { _tag: "Stored", metadata: { attempt: 2, run: "r1" } } })
    expect(r.events.map((e) => (e._tag === "StepLog" ? e.message : e._tag))).toEqual([
      "doubling",
      "careful",
      "printed line",
      "to stderr",
      "unterminated"
    ])
  })

  it("stores a valueless step with the logical version of its inputs (a value input, stored and unobserved ordering-only parents)", async () => {
    const r = await same({
      specs: [testSpec("a"), testSpec("d"), testSpec("u"), testSpec("b", ["a"], { deps: ["d", "u"] })],
      stored: { a: { value: () => 1 }, d: null },
      key: "b",
      bodies: { b: () => Effect.void }
    })
    expect(r.outcome).toMatchObject({ ok: { _tag: "Stored", handle: null } })
  })

  it("writes the validated value, and fails with the validation's error", async () => {
    const bytes = (n: number) => Effect.succeed(new Uint8Array([n]))
    const valid = await same({
      specs: [testSpec("b")],
      key: "b",
      bodies: { b: () => bytes(1) },
      extras: { b: { validate: () => bytes(2) } }
    })
    const other = await same({ specs: [testSpec("b")], key: "b", bodies: { b: () => bytes(2) } })
    expect(valid.outcome).toEqual(other.outcome)
    await same({
      specs: [testSpec("b")],
      key: "b",
      bodies: { b: () => bytes(1) },
      extras: {
        b: {
          validate: () =>
            Effect.fail(new OutputValidationError({ assetKey: "b", expected: "rows", issues: "none" }))
        }
      }
    })
  })

  it("skips, and fails with the user's error (retryable or not) or a defect as the one-step plan does", async () => {
    const skip = await same({
      specs: [testSpec("b")],
      key: "b",
      bodies: { b: () => Effect.succeed(new Skip("no news")) }
    })
    expect(skip.outcome).toEqual({ ok: { _tag: "Skipped", reason: "no news" } })
    const thrown = await same({
      specs: [testSpec("b")],
      key: "b",
      bodies: {
        b: () =>
          Effect.sync(() => {
            throw new TypeError("bad input")
          })
      }
    })
    expect(thrown.outcome).toMatchObject({ error: { _tag: "UserCodeError", name: "TypeError" } })
    const fatal = await same({
      specs: [testSpec("b")],
      key: "b",
      bodies: { b: () => Effect.fail(new NonRetryableError("corrupt")) }
    })
    expect(fatal.outcome).toMatchObject({ error: { _tag: "UserCodeError", retryable: false } })
    const defect = await same({
      specs: [testSpec("b")],
      key: "b",
      bodies: { b: () => Effect.succeed(1) },
      extras: { b: { validate: () => Effect.die(new RangeError("a bug in a validator")) } }
    })
    expect(defect.outcome).toMatchObject({ error: { _tag: "RangeError", message: "a bug in a validator" } })
  })

  it("runs once whatever the retry policy and timeout (the driver's), as the one-step plan does", async () => {
    let calls = 0
    const r = await same({
      specs: [
        testSpec("b", [], {
          timeoutMillis: 10,
          retry: { attempts: 3, backoff: "constant", delayMillis: 1, maxDelayMillis: 1, jitter: false }
        })
      ],
      key: "b",
      bodies: {
        b: () =>
          Effect.andThen(
            Effect.sleep("1 second"),
            Effect.sync(() => {
              calls++
              throw new Error("once")
            })
          )
      }
    })
    expect(r.outcome).toMatchObject({ error: { _tag: "UserCodeError", message: "once" } })
    expect(calls).toBe(2) // one attempt on each path
  })

  it("fails as the one-step plan does on a missing input, an unknown IO manager of an input or of the asset", async () => {
    const missing = await same({ specs: [testSpec("a"), testSpec("b", ["a"])], key: "b", bodies: {} })
    expect(missing.outcome).toMatchObject({ error: { _tag: "IOManagerError" } })
    const unknownInput = await same({
      specs: [testSpec("a"), testSpec("b", ["a"])],
      stored: { a: { value: () => 1, ioManager: "missing" } },
      key: "b",
      bodies: {}
    })
    expect(unknownInput.outcome).toMatchObject({ error: { _tag: "IOManagerError" } })
    const unknownOwn = await same({
      specs: [testSpec("b", [], { ioManager: "nowhere" })],
      key: "b",
      bodies: { b: () => Effect.succeed(1) }
    })
    expect(unknownOwn.outcome).toMatchObject({ error: { _tag: "IOManagerError" } })
  })

  it("loads source inputs through their loader, streams and other IO managers, and passes config and resources", async () => {
    const batches = async function* () {
      yield { rows: 1 }
      yield { rows: 2 }
    }
    const r = await same({
      specs: [
        testSpec("src", [], { kind: "source" }),
        testSpec("s"),
        testSpec("o"),
        {
          ...testSpec("b", ["src", "o"]),
          inputs: [
            { name: "src", key: "src" },
            { name: "s", key: "s", mode: "stream" },
            { name: "o", key: "o" }
          ]
        }
      ],
      stored: { s: { value: batches }, o: { value: () => "from other", ioManager: "other" } },
      key: "b",
      config: { threshold: 3 },
      bodies: {
        src: (_i, ctx) =>
          Effect.sync(() => {
            ctx.log.info(`loading ${ctx.assetKey}`)
            return "observed"
          }),
        b: (i, ctx) =>
          Effect.gen(function* () {
            const greeter = yield* Greeter
            const seen: Array<unknown> = []
            yield* Effect.promise(async () => {
              for await (const batch of i.s as AsyncIterable<unknown>) seen.push(batch)
            })
            ctx.addMetadata({
              batches: seen.length,
              greeting: greeter.greet(String(i.src)),
              other: String(i.o)
            })
            return ctx.config
          })
      }
    })
    expect(r.outcome).toMatchObject({
      ok: { metadata: { batches: 2, greeting: "hello observed", other: "from other" } }
    })
    expect(r.events).toHaveLength(1)
  })

  it("stops the body and aborts its signal when the signal aborts", async () => {
    const aborted: Array<boolean> = []
    const c: Case = {
      specs: [testSpec("b")],
      key: "b",
      bodies: {
        b: (_i, ctx) =>
          Effect.andThen(
            Effect.sync(() => ctx.signal.addEventListener("abort", () => aborted.push(true))),
            Effect.never
          )
      }
    }
    const cancelSoon = (abort: () => void) => setTimeout(abort, 20)
    const direct = await runCase(c, runAttemptHere, cancelSoon)
    const onPlan = await runCase(c, runAttemptOnPlan, cancelSoon)
    expect(direct.direct).toBe(true)
    expect(direct.outcome).toEqual({ interrupted: true })
    expect(onPlan.outcome).toEqual({ interrupted: true })
    expect(aborted).toEqual([true, true])
  })

  it("is not taken for a step with checks or partitions", () => {
    const spec = testSpec("b")
    const check: ExecutableCheck = {
      spec: { name: "c", assetKey: "b", severity: "error", blocking: true },
      run: (_input: CheckInput) => Effect.succeed({ passed: true })
    }
    const step: PlanStep = {
      key: "b",
      node: 0,
      reasons: [],
      conditional: false,
      upstream: [],
      pool: "default"
    }
    const attempt: StepAttempt = { runId: "r", project: "p", attempt: 1, step, states: [] }
    const run: Body = () => Effect.void
    expect(runsDirectly({ spec, run }, attempt)).toBe(true)
    expect(runsDirectly({ spec, run, checks: [check] }, attempt)).toBe(false)
    expect(
      runsDirectly({ spec, run }, { ...attempt, step: { ...step, partition: "x", partitions: ["x"] } })
    ).toBe(false)
    expect(runsDirectly({ spec, run }, { ...attempt, step: { ...step, inputPartitions: [["x"]] } })).toBe(
      false
    )
  })
})
