/**
 * The other side of the executor seam: runs one `StepAttempt` in this process (a child process or a
 * queue worker that loaded the project) with the in-process executor itself, on a one-step plan —
 * so inputs, partitions, validation, checks and logs behave exactly as in-process. The
 * materialization is captured and returned, never committed here: the driver commits.
 */
import * as Effect from "effect/Effect"
import type { MaterializationEvent, RunEvent } from "../events/RunEvent.ts"
import type { AssetGraph } from "../graph/AssetGraph.ts"
import type { IOManager } from "../io/IOManager.ts"
import { makePartitionUniverse } from "../partition/PartitionUniverse.ts"
import type { Plan } from "../plan/Planner.ts"
import type { StorageApi, StoredAssetState } from "../storage/Storage.ts"
import { type ExecutableAsset, execute } from "./Executor.ts"
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
 * Runs one attempt here. Retries, timeouts and hooks belong to the driver and are stripped; the
 * typed error of a failed attempt is the failure; an interrupt (the driver's cancel) aborts it.
 */
export const runAttemptHere = <R>(
  host: AttemptHost<R>,
  attempt: StepAttempt,
  emit: (event: RunEvent) => void,
  signal?: AbortSignal
): Effect.Effect<StepAttemptResult, unknown, R> =>
  Effect.suspend(() => {
    const step = attempt.step
    const asset = host.assets.get(step.key)
    if (asset === undefined || host.graph.indexOf(step.key) !== step.node)
      return Effect.fail(new UnknownStepError(step.key, attempt.project))
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
