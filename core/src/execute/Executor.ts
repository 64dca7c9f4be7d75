/**
 * The in-process executor: drives an ExecutionState with Effect fibers. A step starts as soon as
 * its inputs are stored (a ready queue, not level by level), within the global and per-pool
 * limits. Per step: load inputs, run the body inside the user-code boundary (timeout, retries),
 * validate and store the output, commit its materialization, then release its children. Events go
 * to the listeners at once and to storage in batches; a materialization is durable before any
 * downstream step starts.
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { CheckFailed, type CheckInput, type ExecutableCheck } from "../check/Check.ts"
import { blockingFailure, runChecks } from "../check/RunChecks.ts"
import type { AlertSentEvent, EventListener } from "../events/RunEvent.ts"
import type { AssetGraph } from "../graph/AssetGraph.ts"
import type { AssetSpec, JsonValue } from "../graph/AssetSpec.ts"
import { isArrowTable, logicalVersion } from "../io/DataVersion.ts"
import { type IOManager, IOManagerError, type RecordBatchLike, type ValueHandle } from "../io/IOManager.ts"
import { hiveSegments, readsManyPartitions } from "../partition/PartitionMapping.ts"
import type { TimeWindow } from "../partition/PartitionsDefinition.ts"
import { combinedVersion, type PartitionUniverse } from "../partition/PartitionUniverse.ts"
import { formatReason, type Plan, type PlanStep, stepLabel } from "../plan/Planner.ts"
import { UNOBSERVED_VERSION } from "../plan/Snapshot.ts"
import type { StorageApi, StorageError, StoredAssetState } from "../storage/Storage.ts"
import { makeEventBuffer } from "./EventBuffer.ts"
import { ExecutionState, type Limits, Status } from "./ExecutionState.ts"
import { LiveContext } from "./LiveContext.ts"
import {
  drainStepOutput,
  enterStepOutput,
  installOutputCapture,
  leaveStepOutput,
  type OutputMode,
  type StepSink
} from "./OutputCapture.ts"
import { makePartitionedInput } from "./PartitionedInput.ts"
import { makeRetryDecider } from "./RetryPolicy.ts"
import { isSkip } from "./Skip.ts"
import type { PartitionInfo, PartitionRangeInfo, StepContext } from "./StepContext.ts"
import { type OutputValidationError, StepTimeout, toErrorInfo, type UserCodeError } from "./StepErrors.ts"
import { assetPathOf, userBoundary } from "./StepParts.ts"
import type { StepAttempt, StepRunner } from "./StepRunner.ts"

export * from "./RemoteAttempt.ts"
export * from "./StepRunner.ts"

/** An asset ready to run: its spec and its body normalized to an Effect. */
export interface ExecutableAsset<R = never> {
  readonly spec: AssetSpec
  /**
   * Computes the value (for a source asset: loads it). May fail or die with anything: the
   * executor turns every failure into a `UserCodeError`.
   */
  readonly run: (inputs: Record<string, unknown>, context: StepContext) => Effect.Effect<unknown, unknown, R>
  /** A custom retry schedule; otherwise `spec.retry` decides. */
  readonly retrySchedule?: Schedule.Schedule<unknown, unknown> | undefined
  /** Checks a returned value before it is stored. */
  readonly validate?: ((value: unknown) => Effect.Effect<unknown, OutputValidationError>) | undefined
  /** Checks run on the staged value before its materialization commits. */
  readonly checks?: ReadonlyArray<ExecutableCheck> | undefined
  /** Run where the step ran, after its outcome; a failing hook is logged, never fails the run. */
  readonly hooks?: StepHooks | undefined
}

/** What a step hook learns of the step. */
export interface StepHookInfo {
  readonly project: string
  readonly runId: string
  readonly assetKey: string
  /** The step's partition (a `first...last` range for a single-run backfill). */
  readonly partition?: string | undefined
  readonly status: "succeeded" | "failed" | "skipped"
  readonly attempts: number
  readonly durationMillis: number
  readonly error?: unknown
  readonly reason?: string | undefined
  readonly dataVersion?: string | undefined
  /** Records the delivery of an alert the hook sent, as an `AlertSent` event of the step. */
  readonly recordAlert: (outcome: Omit<AlertSentEvent, "_tag" | "runId" | "at" | "key">) => void
}

export interface StepHooks {
  readonly onSuccess?: ((info: StepHookInfo) => Effect.Effect<void, unknown>) | undefined
  readonly onFailure?: ((info: StepHookInfo) => Effect.Effect<void, unknown>) | undefined
  readonly onSkip?: ((info: StepHookInfo) => Effect.Effect<void, unknown>) | undefined
}

/** Everything one run needs. */
export interface RunRequest<R> {
  readonly runId: string
  readonly project: string
  readonly graph: AssetGraph
  readonly plan: Plan
  /** Every asset and source asset of the graph, by key. */
  readonly assets: ReadonlyMap<string, ExecutableAsset<R>>
  /** Stored state when the run was planned: where fresh inputs are loaded from. */
  readonly snapshot: ReadonlyMap<string, StoredAssetState>
  /** Stored state of the partitions of partitioned assets (asset key → partition → state). */
  readonly partitionSnapshot?: ReadonlyMap<string, ReadonlyMap<string, StoredAssetState>> | undefined
  /** The partitions the plan was made with (definitions and keys); needed when any step is partitioned. */
  readonly partitions?: PartitionUniverse | undefined
  /** The backfill this run belongs to. */
  readonly backfillId?: string | undefined
  readonly storage: StorageApi
  readonly ioManagers: ReadonlyMap<string, IOManager>
  readonly limits: Limits
  /** Decoded run configuration by asset key. */
  readonly config?: ReadonlyMap<string, unknown> | undefined
  readonly listeners?: ReadonlyArray<EventListener> | undefined
  /** Source observations made before planning, recorded as the run's first events. */
  readonly observations?: ReadonlyArray<{ readonly key: string; readonly dataVersion: string }> | undefined
  /** Aborting it cancels the run: running steps are interrupted, the rest canceled. */
  readonly signal?: AbortSignal | undefined
  /** The process driving the run (recorded so that a later process can tell it died). */
  readonly driver?: { readonly host: string; readonly pid: number } | undefined
  /** The run this one re-executes. */
  readonly parentRunId?: string | undefined
  /** What happens to what bodies print: recorded as step logs and printed (`tee`, default), recorded only, or left alone. */
  readonly output?: OutputMode | undefined
  /**
   * Runs each attempt elsewhere (a child process, a queue worker); this driver keeps the state,
   * retries, timeouts, events and commits. Absent: attempts run here, in this process's fibers.
   */
  readonly stepRunner?: StepRunner | undefined
  /** The number of the first attempt (a runner running attempt k of a step elsewhere); default 1. */
  readonly firstAttempt?: number | undefined
}

export type StepStatus = "succeeded" | "unchanged" | "failed" | "skipped" | "canceled"

/** What happened to one step. */
export interface StepOutcome {
  readonly key: string
  /** The partition (or `first...last` range) of a partitioned asset's step. */
  readonly partition?: string | undefined
  readonly status: StepStatus
  /** Attempts made (0 for a step that never started). */
  readonly attempts: number
  readonly durationMillis: number
  /** The typed error of a failed step: UserCodeError, StepTimeout, IOManagerError, ... */
  readonly error?: unknown
  readonly skipReason?: string | undefined
  readonly dataVersion?: string | undefined
  readonly handle?: ValueHandle | null | undefined
}

export interface RunOutcome {
  readonly runId: string
  readonly status: "succeeded" | "failed" | "canceled"
  readonly durationMillis: number
  /** One outcome per plan step, in plan order. */
  readonly steps: ReadonlyArray<StepOutcome>
  readonly plan: Plan
}

interface Stored {
  readonly handle: ValueHandle | null
  readonly dataVersion: string
  readonly metadata: Readonly<Record<string, JsonValue>>
  readonly inputVersions: Readonly<Record<string, string>>
}

/** How one attempt ended well: a value stored (and checked), or a decision to skip. */
type AttemptOutcome =
  | { readonly _tag: "Stored"; readonly stored: Stored }
  | { readonly _tag: "Skipped"; readonly reason: string }

const noMetadata: Readonly<Record<string, JsonValue>> = {}
const NO_PARTITION: { readonly partition?: string } = Object.freeze({})

const giveUp = (): Effect.Effect<number | undefined> => Effect.succeed(undefined)

/**
 * Whether a step receives several upstream partitions as a `PartitionedInput` rather than one value:
 * an unpartitioned step reading a partitioned upstream, or a mapping that can give several (all
 * partitions, time windows to a coarser window, a dimension of a multi-partitioned upstream).
 */
const receivesAll = (
  graph: AssetGraph,
  step: PlanStep,
  parent: number,
  mapping: AssetSpec["inputs"][number]["mapping"]
): boolean =>
  step.singleRange === true ||
  readsManyPartitions(graph.specs[step.node]!.partitions, graph.specs[parent]!.partitions, mapping)

/** The step of each unpartitioned node in the plan (-1 for none): an array, or a map for a small plan of a big graph. */
const stepIndex = (graphSize: number, steps: ReadonlyArray<PlanStep>): ((node: number) => number) => {
  const n = steps.length
  if (n * 16 < graphSize) {
    const byNode = new Map<number, number>()
    for (let i = 0; i < n; i++) if (steps[i]!.partition === undefined) byNode.set(steps[i]!.node, i)
    return (node) => byNode.get(node) ?? -1
  }
  const byNode = new Int32Array(graphSize).fill(-1)
  for (let i = 0; i < n; i++) if (steps[i]!.partition === undefined) byNode[steps[i]!.node] = i
  return (node) => byNode[node]!
}

/** Runs a plan. Fails only when storage cannot record the run at all. */
export const execute = <R>(request: RunRequest<R>): Effect.Effect<RunOutcome, StorageError, R> =>
  (request.output ?? "tee") === "off"
    ? Effect.clockWith((clock) => runWithClock(request, clock))
    : Effect.scoped(
        Effect.andThen(
          installOutputCapture,
          Effect.clockWith((clock) => runWithClock(request, clock))
        )
      )

const runWithClock = <R>(
  request: RunRequest<R>,
  clock: Clock.Clock
): Effect.Effect<RunOutcome, StorageError, R> =>
  Effect.suspend(() => {
    const { runId, project, graph, plan, storage, snapshot } = request
    const steps = plan.steps
    const n = steps.length
    const now = () => clock.currentTimeMillisUnsafe()
    const state = new ExecutionState(steps, request.limits)
    const runner = request.stepRunner
    const runStart = now()

    // Values produced in this run, by step.
    const producedVersion = new Array<string | undefined>(n)
    const producedHandle = new Array<ValueHandle | null | undefined>(n)
    // The step of each unpartitioned node, and of each partition of a partitioned one.
    // An array over the graph for plans of some size; a map for small plans of big graphs (an
    // attempt run elsewhere is a one-step plan: allocating per graph node would dominate it).
    const stepOfNode = stepIndex(graph.size, steps)
    const partitionSteps = plan.partitionSteps
    const partitionStates = request.partitionSnapshot
    const universe = request.partitions
    /** `{ partition }` for a partitioned step's events, nothing otherwise. */
    // Spread into every step event: unpartitioned steps (the hot path) share one empty object.
    const partitionOf = (i: number): { readonly partition?: string } => {
      const partition = steps[i]!.partition
      return partition === undefined ? NO_PARTITION : { partition }
    }
    const stateOf = (step: PlanStep): StoredAssetState | undefined =>
      step.partition === undefined
        ? snapshot.get(step.key)
        : partitionStates?.get(step.key)?.get(step.partitions?.[0] ?? step.partition)
    const attempts = new Int32Array(n)
    const startedAt = new Float64Array(n)
    const endedAt = new Float64Array(n)
    const errors = new Array<unknown>(n)
    const skipReasons = new Array<string | undefined>(n)
    const unchanged = new Uint8Array(n)

    const { emit, flush, commit } = makeEventBuffer(storage, project, request.listeners ?? [])

    const versionOf = (node: number): string => {
      const s = stepOfNode(node)
      return (
        (s >= 0 ? producedVersion[s] : undefined) ??
        snapshot.get(graph.keys[node]!)?.latest?.dataVersion ??
        UNOBSERVED_VERSION
      )
    }
    const partitionStepOf = (node: number, partition: string): number =>
      partitionSteps?.get(node)?.get(partition) ?? -1
    const partitionVersionOf = (node: number, partition: string): string => {
      const s = partitionStepOf(node, partition)
      return (
        (s >= 0 ? producedVersion[s] : undefined) ??
        partitionStates?.get(graph.keys[node]!)?.get(partition)?.latest?.dataVersion ??
        UNOBSERVED_VERSION
      )
    }
    const partitionHandleOf = (node: number, partition: string): ValueHandle | null | undefined => {
      const s = partitionStepOf(node, partition)
      return s >= 0 && producedHandle[s] !== undefined
        ? producedHandle[s]
        : partitionStates?.get(graph.keys[node]!)?.get(partition)?.latest?.handle
    }

    const pathOf = (node: number, key: string): ReadonlyArray<string> => assetPathOf(graph, node, key)

    const inputVersionsOf = (i: number): Record<string, string> => {
      const step = steps[i]!
      // A dictionary-mode object: the keys differ for every asset, so a shaped literal would
      // make V8 create a hidden class per asset.
      const versions: Record<string, string> = Object.create(null)
      const parents = graph.parents[step.node]!
      const inputPartitions = step.inputPartitions
      for (let j = 0; j < parents.length; j++) {
        const p = parents[j]!
        const keys = inputPartitions?.[j]
        versions[graph.keys[p]!] =
          keys === undefined || keys === null
            ? versionOf(p)
            : combinedVersion(keys, (partition) => partitionVersionOf(p, partition))
      }
      return versions
    }

    /**
     * The upstream partitions one input reads: by its own mapping (two inputs may read one parent
     * differently: today and yesterday), or null for an unpartitioned parent.
     */
    const inputPartitionsOf = (
      step: PlanStep,
      parent: number,
      mapping: AssetSpec["inputs"][number]["mapping"],
      parents: ReadonlyArray<number>
    ): ReadonlyArray<string> | null | undefined => {
      const planned = step.inputPartitions?.[parents.indexOf(parent)]
      if (planned === null || planned === undefined) return planned
      const keys = step.partitions
      if (universe === undefined || keys === undefined) return planned
      const m = universe.inputMapping(step.node, parent, mapping)
      if (keys.length === 1) return m.upstreamOf(keys[0]!)
      const all = new Set<string>()
      for (const k of keys) for (const up of m.upstreamOf(k)) all.add(up)
      return planned.filter((k) => all.has(k))
    }

    /** What `ctx.partition` and `ctx.partitionRange` say of a partitioned step. */
    const partitionContext = (
      step: PlanStep
    ): { partition?: PartitionInfo; partitionRange?: PartitionRangeInfo } => {
      const keys = step.partitions
      if (keys === undefined || keys.length === 0) return {}
      const definition = universe?.definitionOf(step.node)
      const info = (key: string): PartitionInfo => {
        if (definition?.kind === "timeWindow") {
          const w = definition.window(key)
          return { key, start: new Date(w.start), end: new Date(w.end) }
        }
        if (definition?.kind === "multi") {
          const parsed = definition.parse(key)
          const windows = Object.values(definition.window(key)) as ReadonlyArray<TimeWindow>
          const w = windows[0]
          return {
            key,
            dimensions: parsed.dimensions,
            ...(w === undefined ? {} : { start: new Date(w.start), end: new Date(w.end) })
          }
        }
        return { key }
      }
      const first = info(keys[0]!)
      if (!step.singleRange) return { partition: first }
      const last = keys.length === 1 ? first : info(keys[keys.length - 1]!)
      return {
        partition: first,
        partitionRange: {
          keys,
          from: keys[0]!,
          to: keys[keys.length - 1]!,
          ...(first.start === undefined ? {} : { start: first.start }),
          ...(last.end === undefined ? {} : { end: last.end })
        }
      }
    }

    const ioManagerFor = (name: string, assetKey: string, operation: "write" | "load") => {
      const io = request.ioManagers.get(name)
      return io !== undefined
        ? Effect.succeed(io)
        : Effect.fail(
            new IOManagerError({
              ioManager: name,
              assetKey,
              operation,
              reason: `no IO manager named "${name}" is configured; known: ${[...request.ioManagers.keys()].join(", ")}`
            })
          )
    }

    const emitLog = (
      key: string,
      level: "debug" | "info" | "warn" | "error",
      message: string,
      partition?: string
    ): void =>
      emit({
        _tag: "StepLog",
        runId,
        at: now(),
        key,
        ...(partition === undefined ? {} : { partition }),
        level,
        message: String(message)
      })
    const makeContext = (i: number, attempt: number, metadata: Record<string, JsonValue>) => {
      const step = steps[i]!
      const key = step.key
      if (step.partitions === undefined)
        return new LiveContext(runId, key, attempt, request.config?.get(key), metadata, emitLog)
      const { partition, partitionRange } = partitionContext(step)
      return new LiveContext(
        runId,
        key,
        attempt,
        request.config?.get(key),
        metadata,
        emitLog,
        partition,
        partitionRange,
        step.partition
      )
    }

    /** Loads one stored value, whole or (for a `stream` input) as an async iterable of record batches. */
    const loadHandle = (
      handle: ValueHandle,
      inputKey: string,
      consumer: string,
      mode: "value" | "stream"
    ): Effect.Effect<unknown, IOManagerError> => {
      const io = request.ioManagers.get(handle.ioManager)
      if (io === undefined)
        return ioManagerFor(handle.ioManager, inputKey, "load") as Effect.Effect<never, IOManagerError>
      const context = { assetKey: inputKey, consumerKey: consumer }
      return mode === "stream"
        ? Effect.succeed(Stream.toAsyncIterable(io.loadBatches(handle, context)))
        : io.load(handle, context)
    }

    const missingInput = (ioManager: string, inputKey: string, consumer: string, partition?: string) =>
      Effect.fail(
        new IOManagerError({
          ioManager,
          assetKey: inputKey,
          operation: "load",
          reason:
            partition === undefined
              ? `asset "${inputKey}" has no stored value; materialize it first (select +${consumer})`
              : `partition ${partition} of asset "${inputKey}" has no stored value; materialize it first (select +${consumer} with that partition)`
        })
      )

    /** A partitioned upstream's value(s): one partition's value, or all of them by key. */
    const loadPartitioned = (
      node: number,
      keys: ReadonlyArray<string>,
      consumer: string,
      mode: "value" | "stream",
      single: boolean
    ): Effect.Effect<unknown, IOManagerError> => {
      const inputKey = graph.keys[node]!
      const ioManager = graph.specs[node]!.ioManager
      const one = (partition: string): Effect.Effect<unknown, IOManagerError> => {
        const handle = partitionHandleOf(node, partition)
        if (handle === null) return Effect.void
        if (handle === undefined) return missingInput(ioManager, inputKey, consumer, partition)
        return loadHandle(handle, inputKey, consumer, mode)
      }
      if (single) return keys.length === 0 ? Effect.void : one(keys[0]!)
      const many = makePartitionedInput(
        inputKey,
        keys,
        (partition) => Effect.runPromise(one(partition)),
        (partition) => {
          const handle = partitionHandleOf(node, partition)
          if (handle === null || handle === undefined) return undefined
          const io = request.ioManagers.get(handle.ioManager)
          return io === undefined
            ? undefined
            : Stream.toAsyncIterable(io.loadBatches(handle, { assetKey: inputKey, consumerKey: consumer }))
        }
      )
      // A stream input over several partitions: one batch stream, partition after partition.
      return Effect.succeed(mode === "stream" ? many.batches() : many)
    }

    const loadInput = (
      inputKey: string,
      consumer: string,
      context: LiveContext,
      mode: "value" | "stream" = "value",
      partitions?: ReadonlyArray<string> | null,
      single = true
    ): Effect.Effect<unknown, UserCodeError | IOManagerError, R> => {
      const node = graph.indexOf(inputKey)
      const spec = graph.specs[node]!
      if (partitions !== undefined && partitions !== null)
        return loadPartitioned(node, partitions, consumer, mode, single)
      if (spec.kind === "source") {
        const source = request.assets.get(inputKey)!
        return userBoundary(inputKey, source.run({}, context.forSource(inputKey))) as Effect.Effect<
          unknown,
          UserCodeError,
          R
        >
      }
      const s = stepOfNode(node)
      const handle =
        s >= 0 && producedHandle[s] !== undefined ? producedHandle[s] : snapshot.get(inputKey)?.latest?.handle
      if (handle === null) return Effect.void
      if (handle === undefined) return missingInput(spec.ioManager, inputKey, consumer)
      return loadHandle(handle, inputKey, consumer, mode)
    }

    /** One attempt: load inputs, run the body (with its timeout), validate, store. */
    const attemptOnce = (i: number, asset: ExecutableAsset<R>, attempt: number) => {
      const step = steps[i]!
      const spec = asset.spec
      const key = spec.key
      const metadata: Record<string, JsonValue> = {}
      const context = makeContext(i, attempt, metadata)
      const inputs: Record<string, unknown> = {}
      const parents = graph.parents[step.node]!
      const loadAll =
        spec.inputs.length === 0
          ? Effect.void
          : Effect.forEach(
              spec.inputs,
              (input) => {
                const parent = graph.indexOf(input.key)
                const partitions = inputPartitionsOf(step, parent, input.mapping, parents)
                const single =
                  partitions === null ||
                  partitions === undefined ||
                  !receivesAll(graph, step, parent, input.mapping)
                return Effect.map(
                  loadInput(input.key, key, context, input.mode ?? "value", partitions, single),
                  (value) => {
                    inputs[input.name] = value
                  }
                )
              },
              { discard: true }
            )
      // Interruption (a timeout or a cancel) aborts the body's signal.
      let body: Effect.Effect<unknown, unknown, R> = Effect.onInterrupt(
        Effect.andThen(
          loadAll,
          Effect.suspend(() => userBoundary(key, asset.run(inputs, context)))
        ),
        () => Effect.sync(() => context.abort())
      )
      if (spec.timeoutMillis !== undefined) {
        const timeoutMillis = spec.timeoutMillis
        body = Effect.timeoutOrElse(body, {
          duration: timeoutMillis,
          orElse: () => Effect.fail(new StepTimeout({ assetKey: key, timeoutMillis }))
        })
      }
      return Effect.flatMap(body, (value): Effect.Effect<AttemptOutcome, unknown> => {
        if (isSkip(value)) return Effect.succeed({ _tag: "Skipped", reason: value.reason })
        const storeAndCheck = (valid: unknown) =>
          Effect.flatMap(store(i, spec, attempt, valid, metadata), (stored) =>
            asset.checks === undefined || asset.checks.length === 0
              ? Effect.succeed({ _tag: "Stored", stored } as const)
              : Effect.as(check(i, asset, valid, stored), { _tag: "Stored", stored } as const)
          )
        return asset.validate === undefined
          ? storeAndCheck(value)
          : Effect.flatMap(asset.validate(value), storeAndCheck)
      })
    }

    /** A parent's state as this run sees it: the value made earlier in the run, else the snapshot's. */
    const currentState = (
      produced: number,
      key: string,
      stored: StoredAssetState | undefined
    ): StoredAssetState | undefined => {
      if (produced < 0 || producedHandle[produced] === undefined) return stored
      return {
        lastFailed: false,
        latest: {
          key,
          runId,
          at: 0,
          dataVersion: producedVersion[produced]!,
          codeVersion: "",
          inputVersions: {},
          handle: producedHandle[produced]!
        }
      }
    }

    /** The plain-data request of one attempt of step i, for a runner elsewhere. */
    const attemptRequest = (i: number, attempt: number): StepAttempt => {
      const step = steps[i]!
      const states: Array<readonly [string, StoredAssetState]> = []
      const own = step.partition === undefined ? snapshot.get(step.key) : undefined
      if (own !== undefined) states.push([step.key, own])
      const parents = graph.parents[step.node]!
      let partitionStatesOut: Array<readonly [string, Array<readonly [string, StoredAssetState]>]> | undefined
      const addPartitions = (node: number, keys: ReadonlyArray<string>) => {
        const key = graph.keys[node]!
        const out: Array<readonly [string, StoredAssetState]> = []
        for (const partition of keys) {
          const state = currentState(
            partitionStepOf(node, partition),
            key,
            partitionStates?.get(key)?.get(partition)
          )
          if (state !== undefined) out.push([partition, state])
        }
        partitionStatesOut ??= []
        partitionStatesOut.push([key, out])
      }
      if (step.partitions !== undefined) addPartitions(step.node, step.partitions)
      for (let j = 0; j < parents.length; j++) {
        const p = parents[j]!
        const keys = step.inputPartitions?.[j]
        if (keys !== undefined && keys !== null) addPartitions(p, keys)
        else {
          const key = graph.keys[p]!
          const state = currentState(stepOfNode(p), key, snapshot.get(key))
          if (state !== undefined) states.push([key, state])
        }
      }
      const config = request.config?.get(step.key)
      return {
        runId,
        project,
        attempt,
        step: step.upstream.length === 0 ? step : { ...step, upstream: [] },
        states,
        ...(partitionStatesOut === undefined ? {} : { partitionStates: partitionStatesOut }),
        ...(universe === undefined ? {} : { partitionOptions: universe.options }),
        ...(config === undefined ? {} : { config })
      }
    }

    /** One attempt through the runner; the timeout is kept here, interruption stops it there. */
    const attemptElsewhere = (
      i: number,
      stepRunner: StepRunner,
      asset: ExecutableAsset<R>,
      attempt: number
    ): Effect.Effect<AttemptOutcome, unknown> => {
      const spec = asset.spec
      let body = Effect.map(
        Effect.suspend(() => stepRunner.run(attemptRequest(i, attempt), emit)),
        (result): AttemptOutcome =>
          result._tag === "Skipped"
            ? result
            : {
                _tag: "Stored",
                stored: {
                  handle: result.handle,
                  dataVersion: result.dataVersion,
                  metadata: result.metadata,
                  inputVersions: inputVersionsOf(i)
                }
              }
      )
      if (spec.timeoutMillis !== undefined) {
        const timeoutMillis = spec.timeoutMillis
        body = Effect.timeoutOrElse(body, {
          duration: timeoutMillis,
          orElse: () => Effect.fail(new StepTimeout({ assetKey: spec.key, timeoutMillis }))
        })
      }
      return body
    }
    /** Staged publish: the checks see the stored value; a blocking failure keeps it from committing. */
    const check = (
      i: number,
      asset: ExecutableAsset<R>,
      value: unknown,
      stored: Stored
    ): Effect.Effect<void, CheckFailed> => {
      const checks = asset.checks ?? []
      if (checks.length === 0) return Effect.void
      const key = asset.spec.key
      const handle = stored.handle
      const batches: CheckInput["batches"] = isArrowTable(value)
        ? Stream.fromIterable(value.batches as unknown as ReadonlyArray<RecordBatchLike>)
        : handle === null
          ? Stream.empty
          : Stream.unwrap(
              Effect.map(ioManagerFor(handle.ioManager, key, "load"), (io) =>
                io.loadBatches(handle, { assetKey: key, consumerKey: key })
              )
            )
      const input: CheckInput = {
        assetKey: key,
        value: Effect.succeed(value),
        batches,
        previous: stateOf(steps[i]!)?.latest,
        metadata: stored.metadata
      }
      return Effect.flatMap(
        runChecks(checks, input, ({ check: c, result }) =>
          emit({
            _tag: "CheckEvaluated",
            runId,
            at: now(),
            key,
            ...partitionOf(i),
            check: c.spec.name,
            passed: result.passed,
            severity: c.spec.severity,
            blocking: c.spec.blocking,
            ...(result.message === undefined ? {} : { message: result.message }),
            metadata: (result.metadata ?? {}) as Record<string, JsonValue>,
            dataVersion: stored.dataVersion,
            ...(handle === null
              ? {}
              : { location: handle.location, ioManager: handle.ioManager, format: handle.format })
          })
        ),
        (evaluated) => {
          const failed = blockingFailure(evaluated)
          return failed === undefined
            ? Effect.void
            : Effect.fail(
                new CheckFailed({
                  assetKey: key,
                  check: failed.check.spec.name,
                  reason: failed.result.message ?? "the check did not pass",
                  stagedLocation: handle?.location
                })
              )
        }
      )
    }

    const store = (
      i: number,
      spec: AssetSpec,
      attempt: number,
      value: unknown,
      metadata: Record<string, JsonValue>
    ): Effect.Effect<Stored, IOManagerError> => {
      const inputVersions = inputVersionsOf(i)
      if (value === undefined)
        return Effect.succeed({
          handle: null,
          dataVersion: logicalVersion(spec.key, spec.codeVersion, inputVersions),
          metadata,
          inputVersions
        })
      const io = request.ioManagers.get(spec.ioManager)
      if (io === undefined)
        return ioManagerFor(spec.ioManager, spec.key, "write") as Effect.Effect<never, IOManagerError>
      return Effect.map(
        io.write(value, {
          assetKey: spec.key,
          assetPath: valuePath(i),
          runId,
          attemptId: `${runId}-${attempt}`,
          codeVersion: spec.codeVersion,
          inputVersions,
          ...(spec.format === undefined ? {} : { format: spec.format })
        }),
        (stored): Stored => ({
          inputVersions,
          handle: stored.handle,
          dataVersion: stored.dataVersion,
          metadata: Object.keys(metadata).length === 0 ? stored.metadata : { ...stored.metadata, ...metadata }
        })
      )
    }

    /** Where a step's value goes: the key's path, then hive folders of its partition (`date=…`). */
    const valuePath = (i: number): ReadonlyArray<string> => {
      const step = steps[i]!
      const base = pathOf(step.node, step.key)
      const keys = step.partitions
      const definition = universe?.definitionOf(step.node)
      if (keys === undefined || definition === undefined) return base
      if (keys.length > 1 || step.singleRange)
        return [...base, `range=${keys[0]!}_${keys[keys.length - 1]!}`.replaceAll("|", "_")]
      return [...base, ...hiveSegments(definition, keys[0]!)]
    }

    /**
     * After the commit, an IO manager that keeps a "current" pointer of its own (the DuckDB IO
     * manager's view) moves it to the committed value. The value is already current in storage, so
     * a failure here is logged, never a failed step.
     */
    const promote = (i: number, handle: ValueHandle | null): Effect.Effect<void> => {
      if (handle === null) return Effect.void
      const io = request.ioManagers.get(handle.ioManager)
      if (io?.promote === undefined) return Effect.void
      const step = steps[i]!
      return Effect.catchCause(io.promote(handle, { assetKey: step.key, runId }), (cause) =>
        Effect.sync(() =>
          emit({
            _tag: "StepLog",
            runId,
            at: now(),
            key: step.key,
            ...partitionOf(i),
            level: "warn",
            message: `IO manager "${handle.ioManager}" could not make the new value its current one: ${toErrorInfo(Cause.squash(cause)).message}`
          })
        )
      )
    }

    /** A conditional step whose planned upstream all reproduced the recorded versions keeps its value. */
    const isUnchanged = (i: number): boolean => {
      const step = steps[i]!
      if (!step.conditional) return false
      const latest = stateOf(step)?.latest
      if (latest === undefined) return false
      const current = inputVersionsOf(i)
      for (const p of graph.parents[step.node]!) {
        const parentKey = graph.keys[p]!
        if (latest.inputVersions[parentKey] !== current[parentKey]) return false
      }
      return true
    }

    // Captured output of each running step: drained before the step's end is reported.
    const outputs = new Array<StepSink | undefined>(n)
    const drainOutput = (i: number) => {
      const sink = outputs[i]
      if (sink !== undefined) drainStepOutput(sink)
    }

    const finishSucceeded = (
      i: number,
      attempt: number,
      stored: Stored,
      outcome: "materialized" | "unchanged"
    ) => {
      drainOutput(i)
      const step = steps[i]!
      endedAt[i] = now()
      producedVersion[i] = stored.dataVersion
      producedHandle[i] = stored.handle
      emit({
        _tag: "StepSucceeded",
        runId,
        at: endedAt[i]!,
        key: step.key,
        ...partitionOf(i),
        attempt,
        durationMillis: endedAt[i]! - startedAt[i]!,
        outcome
      })
      state.succeed(i)
    }

    const finishFailed = (i: number, attempt: number, error: unknown) => {
      drainOutput(i)
      const step = steps[i]!
      endedAt[i] = now()
      errors[i] = error
      emit({
        _tag: "StepFailed",
        runId,
        at: endedAt[i]!,
        key: step.key,
        ...partitionOf(i),
        attempt,
        durationMillis: endedAt[i]! - startedAt[i]!,
        error: toErrorInfo(error)
      })
      const at = now()
      const reason =
        error instanceof CheckFailed
          ? `blocked by check ${error.check} on ${error.assetKey}`
          : `upstream failed: ${stepLabel(step)}`
      for (const s of state.fail(i)) {
        skipReasons[s] = reason
        emit({ _tag: "StepSkipped", runId, at, key: steps[s]!.key, ...partitionOf(s), reason })
      }
    }

    const finishSkipped = (i: number, attempt: number, reason: string) => {
      drainOutput(i)
      const step = steps[i]!
      const spec = graph.specs[step.node]!
      endedAt[i] = now()
      skipReasons[i] = reason
      emit({
        _tag: "StepSkipped",
        runId,
        at: endedAt[i]!,
        key: step.key,
        ...partitionOf(i),
        reason,
        decision: { codeVersion: spec.codeVersion, inputVersions: inputVersionsOf(i) }
      })
      attempts[i] = attempt
      const downstream = `upstream skipped: ${stepLabel(step)} (${reason})`
      for (const s of state.skip(i)) {
        skipReasons[s] = downstream
        emit({
          _tag: "StepSkipped",
          runId,
          at: endedAt[i]!,
          key: steps[s]!.key,
          ...partitionOf(s),
          reason: downstream
        })
      }
    }

    /** The step's own hook for its outcome, if any; a failing hook is logged, never fails the run. */
    const runHooks = (i: number): Effect.Effect<void, never, R> => {
      const step = steps[i]!
      const hooks = request.assets.get(step.key)?.hooks
      if (hooks === undefined) return Effect.void
      const status = state.status[i]
      const [name, hook, outcome] =
        status === Status.Succeeded
          ? (["onSuccess", hooks.onSuccess, "succeeded"] as const)
          : status === Status.Failed
            ? (["onFailure", hooks.onFailure, "failed"] as const)
            : status === Status.Skipped && state.skippedBy[i] === -1
              ? (["onSkip", hooks.onSkip, "skipped"] as const)
              : (["none", undefined, "skipped"] as const)
      if (hook === undefined) return Effect.void
      const info: StepHookInfo = {
        project,
        runId,
        assetKey: step.key,
        partition: step.partition,
        status: outcome,
        attempts: attempts[i]!,
        durationMillis: endedAt[i]! - startedAt[i]!,
        error: errors[i],
        reason: skipReasons[i],
        dataVersion: producedVersion[i],
        recordAlert: (outcome) =>
          emit({ _tag: "AlertSent", runId, at: now(), key: step.key, ...partitionOf(i), ...outcome })
      }
      return Effect.catchCause(
        Effect.suspend(() => hook(info)),
        (cause) =>
          Effect.sync(() =>
            emit({
              _tag: "StepLog",
              runId,
              at: now(),
              key: step.key,
              ...partitionOf(i),
              level: "error",
              message: `${name} hook failed: ${toErrorInfo(Cause.squash(cause)).message}`
            })
          )
      )
    }

    /** Runs step i to its end (success, or failure after retries) and records the outcome. */
    const runStep = (i: number): Effect.Effect<void, never, R> => {
      const step = steps[i]!
      const asset = request.assets.get(step.key)!
      if (isUnchanged(i)) {
        const latest = stateOf(step)!.latest!
        unchanged[i] = 1
        return Effect.sync(() =>
          finishSucceeded(
            i,
            0,
            {
              handle: latest.handle,
              dataVersion: latest.dataVersion,
              metadata: noMetadata,
              inputVersions: latest.inputVersions
            },
            "unchanged"
          )
        )
      }
      const loop = (
        attempt: number,
        decide: (attempt: number, error: unknown) => Effect.Effect<number | undefined>
      ): Effect.Effect<void, never, R> => {
        attempts[i] = attempt
        const attemptStart = attempt === 1 ? startedAt[i]! : now()
        // The first attempt's StepStarted was emitted when the step was dispatched.
        if (attempt > 1)
          emit({ _tag: "StepStarted", runId, at: attemptStart, key: step.key, ...partitionOf(i), attempt })
        return Effect.matchEffect(
          runner === undefined ? attemptOnce(i, asset, attempt) : attemptElsewhere(i, runner, asset, attempt),
          {
            onSuccess: (outcome) => {
              if (outcome._tag === "Skipped")
                return Effect.sync(() => finishSkipped(i, attempt, outcome.reason))
              const stored = outcome.stored
              const at = now()
              const materialization = (partition?: string) => ({
                _tag: "Materialization" as const,
                runId,
                at,
                key: step.key,
                ...(partition === undefined ? {} : { partition }),
                attempt,
                dataVersion: stored.dataVersion,
                codeVersion: asset.spec.codeVersion,
                inputVersions: stored.inputVersions,
                handle: stored.handle,
                metadata: stored.metadata as Record<string, JsonValue>,
                durationMillis: at - attemptStart
              })
              // The commit: durable before any downstream step can start. A range step commits
              // every partition it made in the same transaction.
              const keys = step.partitions
              return Effect.matchEffect(
                keys === undefined
                  ? commit(materialization())
                  : commit(keys.map((partition) => materialization(partition))),
                {
                  onSuccess: () =>
                    Effect.andThen(
                      promote(i, stored.handle),
                      Effect.sync(() => finishSucceeded(i, attempt, stored, "materialized"))
                    ),
                  onFailure: (error) => retryOrFail(attempt, error, decide)
                }
              )
            },
            onFailure: (error) => retryOrFail(attempt, error, decide)
          }
        )
      }
      const retryOrFail = (
        attempt: number,
        error: unknown,
        decide: (attempt: number, error: unknown) => Effect.Effect<number | undefined>
      ): Effect.Effect<void, never, R> =>
        Effect.flatMap(decide(attempt, error), (delay) => {
          if (delay === undefined) return Effect.sync(() => finishFailed(i, attempt, error))
          emit({
            _tag: "StepRetrying",
            runId,
            at: now(),
            key: step.key,
            ...partitionOf(i),
            attempt,
            delayMillis: delay,
            error: toErrorInfo(error)
          })
          return Effect.andThen(Effect.sleep(delay), loop(attempt + 1, decide))
        })
      const first = request.firstAttempt ?? 1
      if (asset.spec.retry.attempts <= 1 && asset.retrySchedule === undefined) return loop(first, giveUp)
      return Effect.flatMap(makeRetryDecider(asset.spec.retry, asset.retrySchedule), (decide) =>
        loop(first, decide)
      )
    }

    return Effect.gen(function* () {
      const scope = yield* Scope.make("parallel")
      const finished = yield* Deferred.make<void>()
      let canceledBySignal = false

      emit({
        _tag: "RunStarted",
        runId,
        at: runStart,
        project,
        targets: plan.targets,
        steps: steps.map((s) =>
          s.partition === undefined
            ? { key: s.key, reasons: s.reasons.map(formatReason) }
            : { key: s.key, partition: s.partition, reasons: s.reasons.map(formatReason) }
        ),
        ...(request.driver === undefined ? {} : { driver: request.driver }),
        ...(request.parentRunId === undefined ? {} : { parentRunId: request.parentRunId }),
        ...(request.backfillId === undefined ? {} : { backfillId: request.backfillId })
      })
      for (const o of request.observations ?? [])
        emit({ _tag: "SourceObserved", runId, at: runStart, key: o.key, dataVersion: o.dataVersion })
      yield* flush

      // Step fibers still alive: a finished step may still be running its hooks.
      let alive = 0
      const pump: Effect.Effect<void, never, R> = Effect.suspend(() => {
        if (state.done) {
          if (alive === 0) Deferred.doneUnsafe(finished, Exit.void)
          return Effect.void
        }
        let i = state.next()
        if (i < 0) return Effect.void
        const forks: Array<Effect.Effect<unknown, never, R>> = []
        // Every step dispatched together reports StepStarted before any body runs (a body may
        // compute for a while before its first yield).
        while (i >= 0) {
          alive++
          startedAt[i] = now()
          if (!isUnchanged(i))
            emit({
              _tag: "StepStarted",
              runId,
              at: startedAt[i]!,
              key: steps[i]!.key,
              ...partitionOf(i),
              attempt: 1
            })
          forks.push(Effect.forkIn(stepFiber(i), scope))
          i = state.next()
        }
        return forks.length === 1
          ? Effect.asVoid(forks[0]!)
          : Effect.forEach(forks, (f) => f, { discard: true })
      })

      const capture = request.output ?? "tee"
      const enterOutput = (i: number) =>
        Effect.sync(() => {
          if (capture === "off") return
          const key = steps[i]!.key
          const partition = partitionOf(i)
          outputs[i] = enterStepOutput(
            (stream, message) =>
              emit({
                _tag: "StepLog",
                runId,
                at: now(),
                key,
                ...partition,
                level: stream === "stderr" ? "warn" : "info",
                message,
                stream
              }),
            capture
          )
        })
      const stepFiber = (i: number): Effect.Effect<void, never, R> =>
        Effect.andThen(
          enterOutput(i),
          Effect.andThen(
            Effect.catchCause(runStep(i), (cause) =>
              Cause.hasInterruptsOnly(cause)
                ? Effect.interrupt
                : Effect.sync(() => {
                    // A bug of ours, not the user's: fail the step rather than hang the run.
                    if (state.status[i] === Status.Running) finishFailed(i, attempts[i]!, Cause.squash(cause))
                  })
            ),
            Effect.andThen(
              Effect.suspend(() => runHooks(i)),
              Effect.andThen(
                Effect.sync(() => {
                  alive--
                  if (outputs[i] !== undefined) leaveStepOutput()
                }),
                pump
              )
            )
          )
        )

      const onAbort = () => {
        canceledBySignal = true
        Deferred.doneUnsafe(finished, Exit.void)
      }
      const signal = request.signal
      if (signal?.aborted) onAbort()
      else signal?.addEventListener("abort", onAbort, { once: true })

      const cancelAll = Effect.gen(function* () {
        const at = now()
        for (const s of state.cancel())
          emit({ _tag: "StepCanceled", runId, at, key: steps[s]!.key, ...partitionOf(s) })
        yield* Scope.close(scope, Exit.void)
        for (let s = 0; s < n; s++)
          if (state.status[s] === Status.Running) {
            state.cancelRunning(s)
            endedAt[s] = now()
            emit({ _tag: "StepCanceled", runId, at: endedAt[s]!, key: steps[s]!.key, ...partitionOf(s) })
          }
      })

      const finishRun = (status: "succeeded" | "failed" | "canceled") =>
        Effect.gen(function* () {
          const at = now()
          emit({ _tag: "RunFinished", runId, at, status, durationMillis: at - runStart })
          yield* flush
          return at - runStart
        })

      if (n === 0) Deferred.doneUnsafe(finished, Exit.void)
      else yield* pump
      yield* Deferred.await(finished).pipe(
        Effect.onInterrupt(() => Effect.andThen(cancelAll, Effect.ignore(finishRun("canceled"))))
      )
      signal?.removeEventListener("abort", onAbort)
      if (canceledBySignal && !state.done) yield* cancelAll
      else yield* Scope.close(scope, Exit.void)

      let failed = false
      const outcomes: Array<StepOutcome> = []
      for (let i = 0; i < n; i++) {
        const s = state.status[i]!
        const status: StepStatus =
          s === Status.Succeeded
            ? unchanged[i]
              ? "unchanged"
              : "succeeded"
            : s === Status.Failed
              ? "failed"
              : s === Status.Skipped
                ? "skipped"
                : "canceled"
        if (status === "failed") failed = true
        outcomes.push({
          key: steps[i]!.key,
          ...partitionOf(i),
          status,
          attempts: attempts[i]!,
          durationMillis: endedAt[i]! > 0 ? endedAt[i]! - startedAt[i]! : 0,
          error: errors[i],
          skipReason: skipReasons[i],
          dataVersion: producedVersion[i],
          handle: producedHandle[i]
        })
      }
      const status = state.canceled ? "canceled" : failed ? "failed" : "succeeded"
      const durationMillis = yield* finishRun(status)
      return { runId, status, durationMillis, steps: outcomes, plan }
    })
  })
