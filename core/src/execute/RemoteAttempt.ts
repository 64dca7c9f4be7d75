/**
 * The other side of the executor seam: runs one `StepAttempt` in this process (a child process or a
 * queue worker that loaded the project). A simple attempt (no partitions, no checks) runs directly:
 * inputs, body, validation and store exactly as the in-process executor does them; any other runs
 * the in-process executor itself on a one-step plan. Either way the materialization is returned,
 * never committed here: the driver commits.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type { MaterializationEvent, RunEvent } from "../events/RunEvent.ts"
import type { AssetGraph } from "../graph/AssetGraph.ts"
import type { JsonValue } from "../graph/AssetSpec.ts"
import { logicalVersion } from "../io/DataVersion.ts"
import { type IOManager, IOManagerError } from "../io/IOManager.ts"
import { makePartitionUniverse } from "../partition/PartitionUniverse.ts"
import type { Plan } from "../plan/Planner.ts"
import { UNOBSERVED_VERSION } from "../plan/Snapshot.ts"
import type { StorageApi, StoredAssetState } from "../storage/Storage.ts"
import { type ExecutableAsset, execute } from "./Executor.ts"
import { LiveContext } from "./LiveContext.ts"
import { drainStepOutput, enterStepOutput, installOutputCapture, leaveStepOutput } from "./OutputCapture.ts"
import { isSkip } from "./Skip.ts"
import type { UserCodeError } from "./StepErrors.ts"
import { assetPathOf, userBoundary } from "./StepParts.ts"
import type { StepAttempt, StepAttemptResult } from "./StepRunner.ts"

/** What a process needs of the project to run attempts: its graph, executables and IO managers. */
export interface AttemptHost<R> {
  readonly graph: AssetGraph
  readonly assets: ReadonlyMap<string, ExecutableAsset<R>>
  readonly ioManagers: ReadonlyMap<string, IOManager>
}

/** The step is not one of the project loaded here (stale code, or another project). */
export class UnknownStepError extends Error {
  readonly _tag = "UnknownStepError"
  readonly retryable = false
  constructor(key: string, project: string) {
    super(
      `asset "${key}" is not in project "${project}" as loaded by this process; the worker runs other code than the driver (restart it with the driver's code)`
    )
  }
}

/**
 * The host's IO managers without `promote`: a value becomes current when the driver commits it (and
 * the driver promotes it then), never when the attempt captured its materialization here.
 */
const unpromoted = new WeakMap<ReadonlyMap<string, IOManager>, ReadonlyMap<string, IOManager>>()
const withoutPromote = (managers: ReadonlyMap<string, IOManager>): ReadonlyMap<string, IOManager> => {
  let view = unpromoted.get(managers)
  if (view === undefined) {
    view = new Map(
      [...managers].map(([name, io]): [string, IOManager] => {
        if (io.promote === undefined) return [name, io]
        const { promote: _promote, ...rest } = io
        return [name, rest]
      })
    )
    unpromoted.set(managers, view)
  }
  return view
}

/** Forwards a child's live events: its logs and check results (the rest the driver emits itself). */
const forwarded = (event: RunEvent): boolean => event._tag === "StepLog" || event._tag === "CheckEvaluated"

/**
 * Runs one attempt here with the in-process executor on a one-step plan (any attempt: partitions,
 * ranges, checks). Retries, timeouts and hooks belong to the driver and are stripped; the typed
 * error of a failed attempt is the failure; an interrupt or `signal` (the driver's cancel) stops it.
 */
export const runAttemptOnPlan = <R>(
  host: AttemptHost<R>,
  attempt: StepAttempt,
  emit: (event: RunEvent) => void,
  signal?: AbortSignal
): Effect.Effect<StepAttemptResult, unknown, R> =>
  Effect.suspend(() => {
    const asset = hostedAsset(host, attempt)
    return asset instanceof UnknownStepError
      ? Effect.fail(asset)
      : runOnPlan(host, asset, attempt, emit, signal)
  })

/** The attempt's asset as loaded here, or why this process cannot run it. */
const hostedAsset = <R>(
  host: AttemptHost<R>,
  attempt: StepAttempt
): ExecutableAsset<R> | UnknownStepError => {
  const step = attempt.step
  const asset = host.assets.get(step.key)
  return asset === undefined || host.graph.indexOf(step.key) !== step.node
    ? new UnknownStepError(step.key, attempt.project)
    : asset
}

const runOnPlan = <R>(
  host: AttemptHost<R>,
  asset: ExecutableAsset<R>,
  attempt: StepAttempt,
  emit: (event: RunEvent) => void,
  signal: AbortSignal | undefined
): Effect.Effect<StepAttemptResult, unknown, R> =>
  Effect.suspend(() => {
    const step = attempt.step
    const { timeoutMillis: _timeout, ...spec } = asset.spec
    const once: ExecutableAsset<R> = {
      spec: { ...spec, retry: { ...spec.retry, attempts: 1 } },
      run: asset.run,
      validate: asset.validate,
      checks: asset.checks
    }
    const assets = {
      get: (key: string) => (key === step.key ? once : host.assets.get(key))
    } as ReadonlyMap<string, ExecutableAsset<R>>
    const captured: Array<MaterializationEvent> = []
    const storage = {
      append: (_project: string, events: ReadonlyArray<RunEvent>) =>
        Effect.sync(() => {
          for (const e of events) if (e._tag === "Materialization") captured.push(e)
        })
    } as unknown as StorageApi
    const plan: Plan = {
      steps: [{ ...step, upstream: [], conditional: false }],
      targets: [step.key],
      loaded: []
    }
    const partitionSnapshot =
      attempt.partitionStates === undefined
        ? undefined
        : new Map<string, ReadonlyMap<string, StoredAssetState>>(
            attempt.partitionStates.map(([key, states]) => [key, new Map(states)])
          )
    const config = attempt.config === undefined ? undefined : new Map([[step.key, attempt.config]])
    return Effect.flatMap(
      execute<R>({
        runId: attempt.runId,
        project: attempt.project,
        graph: host.graph,
        plan,
        assets,
        snapshot: new Map(attempt.states),
        partitionSnapshot,
        partitions:
          attempt.partitionOptions === undefined
            ? undefined
            : makePartitionUniverse(host.graph, attempt.partitionOptions),
        storage,
        ioManagers: withoutPromote(host.ioManagers),
        limits: { concurrency: 1 },
        config,
        listeners: [(event) => (forwarded(event) ? emit(event) : undefined)],
        signal,
        output: "capture",
        firstAttempt: attempt.attempt
      }),
      (outcome): Effect.Effect<StepAttemptResult, unknown> => {
        const result = outcome.steps[0]
        if (result === undefined || result.status === "canceled") return Effect.interrupt
        if (result.status === "failed") return Effect.fail(result.error)
        if (result.status === "skipped")
          return Effect.succeed({ _tag: "Skipped", reason: result.skipReason ?? "skipped" })
        const m = captured[0]
        if (m === undefined)
          return Effect.fail(new Error(`step ${step.key} succeeded without a materialization`))
        return Effect.succeed({
          _tag: "Stored",
          handle: m.handle,
          dataVersion: m.dataVersion,
          metadata: m.metadata
        })
      }
    )
  })

/**
 * Whether an attempt can run directly: one unpartitioned step reading unpartitioned values, with no
 * checks. What the one-step plan would add for it (its run and step events, the event buffer, the
 * state machine) is not forwarded anyway; the direct path does the rest in the same order.
 */
export const runsDirectly = <R>(asset: ExecutableAsset<R>, attempt: StepAttempt): boolean => {
  const step = attempt.step
  return (
    attempt.partitionStates === undefined &&
    step.partition === undefined &&
    step.partitions === undefined &&
    step.singleRange !== true &&
    (step.inputPartitions === undefined ||
      step.inputPartitions.every((p) => p === null || p === undefined)) &&
    (asset.checks === undefined || asset.checks.length === 0)
  )
}

/**
 * One simple attempt, as the in-process executor's step does it (same inputs, context, logs and
 * captured output, validation, store, errors and data versions); see `runsDirectly`.
 */
const runDirect = <R>(
  host: AttemptHost<R>,
  asset: ExecutableAsset<R>,
  attempt: StepAttempt,
  emit: (event: RunEvent) => void
): Effect.Effect<StepAttemptResult, unknown, R> =>
  Effect.clockWith((clock) => {
    const now = () => clock.currentTimeMillisUnsafe()
    const { graph } = host
    const ioManagers = withoutPromote(host.ioManagers)
    const { runId } = attempt
    const step = attempt.step
    const spec = asset.spec
    const key = spec.key
    // The step's own state and its parents': a scan for a few, a map for many.
    const states = attempt.states.length > 8 ? new Map(attempt.states) : undefined
    const stateOf = (k: string): StoredAssetState | undefined => {
      if (states !== undefined) return states.get(k)
      for (const [s, state] of attempt.states) if (s === k) return state
      return undefined
    }
    const emitLog = (
      logKey: string,
      level: "debug" | "info" | "warn" | "error",
      message: string,
      partition?: string
    ): void =>
      emit({
        _tag: "StepLog",
        runId,
        at: now(),
        key: logKey,
        ...(partition === undefined ? {} : { partition }),
        level,
        message: String(message)
      })
    const metadata: Record<string, JsonValue> = {}
    const context = new LiveContext(runId, key, attempt.attempt, attempt.config, metadata, emitLog)

    const ioManagerError = (name: string, assetKey: string, operation: "write" | "load") =>
      new IOManagerError({
        ioManager: name,
        assetKey,
        operation,
        reason: `no IO manager named "${name}" is configured; known: ${[...ioManagers.keys()].join(", ")}`
      })
    const loadInput = (
      inputKey: string,
      mode: "value" | "stream"
    ): Effect.Effect<unknown, UserCodeError | IOManagerError, R> => {
      const node = graph.indexOf(inputKey)
      const input = graph.specs[node]!
      if (input.kind === "source")
        return userBoundary(
          inputKey,
          host.assets.get(inputKey)!.run({}, context.forSource(inputKey))
        ) as Effect.Effect<unknown, UserCodeError, R>
      const handle = stateOf(inputKey)?.latest?.handle
      if (handle === null) return Effect.void
      if (handle === undefined)
        return Effect.fail(
          new IOManagerError({
            ioManager: input.ioManager,
            assetKey: inputKey,
            operation: "load",
            reason: `asset "${inputKey}" has no stored value; materialize it first (select +${key})`
          })
        )
      const io = ioManagers.get(handle.ioManager)
      if (io === undefined) return Effect.fail(ioManagerError(handle.ioManager, inputKey, "load"))
      const loadContext = { assetKey: inputKey, consumerKey: key }
      return mode === "stream"
        ? Effect.succeed(Stream.toAsyncIterable(io.loadBatches(handle, loadContext)))
        : io.load(handle, loadContext)
    }
    const inputs: Record<string, unknown> = {}
    const loadAll =
      spec.inputs.length === 0
        ? Effect.void
        : Effect.forEach(
            spec.inputs,
            (input) =>
              Effect.map(loadInput(input.key, input.mode ?? "value"), (value) => {
                inputs[input.name] = value
              }),
            { discard: true }
          )
    const inputVersionsOf = (): Record<string, string> => {
      // Dictionary mode, as the executor's: the keys differ for every asset.
      const versions: Record<string, string> = Object.create(null)
      for (const p of graph.parents[step.node]!) {
        const parentKey = graph.keys[p]!
        versions[parentKey] = stateOf(parentKey)?.latest?.dataVersion ?? UNOBSERVED_VERSION
      }
      return versions
    }
    const store = (value: unknown): Effect.Effect<StepAttemptResult, IOManagerError> => {
      const inputVersions = inputVersionsOf()
      if (value === undefined)
        return Effect.succeed({
          _tag: "Stored",
          handle: null,
          dataVersion: logicalVersion(key, spec.codeVersion, inputVersions),
          metadata
        })
      const io = ioManagers.get(spec.ioManager)
      if (io === undefined) return Effect.fail(ioManagerError(spec.ioManager, key, "write"))
      return Effect.map(
        io.write(value, {
          assetKey: key,
          assetPath: assetPathOf(graph, step.node, key),
          runId,
          attemptId: `${runId}-${attempt.attempt}`,
          codeVersion: spec.codeVersion,
          inputVersions,
          ...(spec.format === undefined ? {} : { format: spec.format })
        }),
        (stored): StepAttemptResult => ({
          _tag: "Stored",
          handle: stored.handle,
          dataVersion: stored.dataVersion,
          metadata: Object.keys(metadata).length === 0 ? stored.metadata : { ...stored.metadata, ...metadata }
        })
      )
    }
    // Interruption (the driver's timeout or cancel) aborts the body's signal.
    const body = Effect.onInterrupt(
      Effect.andThen(
        loadAll,
        Effect.suspend(() => userBoundary(key, asset.run(inputs, context)))
      ),
      () => Effect.sync(() => context.abort())
    )
    const attemptOnce = Effect.flatMap(body, (value): Effect.Effect<StepAttemptResult, unknown> => {
      if (isSkip(value)) return Effect.succeed({ _tag: "Skipped", reason: value.reason })
      return asset.validate === undefined ? store(value) : Effect.flatMap(asset.validate(value), store)
    })
    // What the body prints becomes its step logs (captured, not printed); unterminated last lines
    // are emitted before the attempt's end is reported.
    return Effect.scoped(
      Effect.andThen(
        installOutputCapture,
        Effect.suspend(() => {
          const sink = enterStepOutput(
            (stream, message) =>
              emit({
                _tag: "StepLog",
                runId,
                at: now(),
                key,
                level: stream === "stderr" ? "warn" : "info",
                message,
                stream
              }),
            "capture"
          )
          return Effect.catchCause(
            Effect.map(attemptOnce, (result) => {
              drainStepOutput(sink)
              leaveStepOutput()
              return result
            }),
            (cause) => {
              if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
              drainStepOutput(sink)
              leaveStepOutput()
              return Effect.fail(Cause.squash(cause))
            }
          )
        })
      )
    )
  })

/** Interrupts `effect` when `signal` aborts. */
const stoppedBy = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  signal: AbortSignal | undefined
): Effect.Effect<A, E, R> => {
  if (signal === undefined) return effect
  if (signal.aborted) return Effect.interrupt
  return Effect.flatMap(Effect.forkChild(effect), (fiber) => {
    const onAbort = () => fiber.interruptUnsafe()
    signal.addEventListener("abort", onAbort, { once: true })
    return Effect.ensuring(
      Fiber.join(fiber),
      Effect.sync(() => signal.removeEventListener("abort", onAbort))
    )
  })
}

/**
 * Runs one attempt here: directly when it is simple (`runsDirectly`), else on a one-step plan
 * (`runAttemptOnPlan`); both behave as the in-process executor's step. Retries, timeouts and hooks
 * belong to the driver; the typed error of a failed attempt is the failure; interrupting the
 * effect or aborting `signal` (the driver's cancel) stops it and aborts the body's signal.
 */
export const runAttemptHere = <R>(
  host: AttemptHost<R>,
  attempt: StepAttempt,
  emit: (event: RunEvent) => void,
  signal?: AbortSignal
): Effect.Effect<StepAttemptResult, unknown, R> =>
  Effect.suspend(() => {
    const asset = hostedAsset(host, attempt)
    if (asset instanceof UnknownStepError) return Effect.fail(asset)
    return runsDirectly(asset, attempt)
      ? stoppedBy(runDirect(host, asset, attempt, emit), signal)
      : runOnPlan(host, asset, attempt, emit, signal)
  })
