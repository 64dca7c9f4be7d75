/**
 * The pipeline every launch shares — `materialize`, `reexecute`, the CLI: open the store, mark dead
 * runs, observe sources, plan, decode run config, build the project's resources once, execute, and
 * build the result. Internal: the public entry points are in Materialize.ts.
 */
import {
  type EventListener,
  execute,
  type IOManager,
  markDeadRuns,
  type OutputMode,
  type PartitionUniverse,
  type Plan,
  type PlanOptions,
  plan as planSteps,
  type RunEvent,
  type RunOutcome,
  type StaleUpstream,
  type StepRunner,
  type StorageError,
  type StoredAssetState
} from "@materia/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import { type AssetContext, fromUserFunction } from "./Asset.ts"
import { type AlertSummary, alertErrorOf } from "./alerts/AlertSummary.ts"
import { type PartitionRequestError, preparePartitions } from "./PartitionRequest.ts"
import type { AnyProject } from "./Project.ts"
import { makeResult, type RunResult } from "./RunResult.ts"
import {
  currentDriver,
  isDriverAlive,
  type MaterializeStore,
  memoryStore,
  openConfiguredStore,
  type StorageConfig
} from "./Store.ts"

/** Run configuration that does not match an asset's `config` schema, or names no such asset. */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly assetKey: string
  readonly reason: string
}> {
  override get message(): string {
    return `run config of asset "${this.assetKey}": ${this.reason}`
  }
}

/** The project's resources Layer failed to build. */
export class ResourcesError extends Data.TaggedError("ResourcesError")<{ readonly cause: unknown }> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `the project's resources failed to build: ${cause}`
  }
}

/** A source asset's observe function failed. */
export class ObserveError extends Data.TaggedError("ObserveError")<{
  readonly assetKey: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `source asset "${this.assetKey}": observe failed: ${cause}`
  }
}

/** Where a launch keeps its records and values. */
export type StorageChoice = "memory" | "local" | MaterializeStore

/** What a launch needs beyond the project and its targets. */
export interface LaunchOptions {
  readonly storage?: StorageChoice | undefined
  /** The project root whose `.materia/` folder holds the local store (default: the working directory). */
  readonly root?: string | undefined
  readonly concurrency?: number | undefined
  readonly signal?: AbortSignal | undefined
  readonly config?: Readonly<Record<string, unknown>> | undefined
  readonly onEvent?: EventListener | ReadonlyArray<EventListener> | undefined
  readonly runId?: string | undefined
  readonly parentRunId?: string | undefined
  readonly output?: OutputMode | undefined
  /** The partitions of the partitioned targets to make fresh (`2026-01-01...2026-01-31`, `eu,us`, ...). */
  readonly partitions?: string | undefined
  /** The backfill the run belongs to. */
  readonly backfillId?: string | undefined
  /** Leaves requested partitions out of the plan (a resumed backfill: those it already made). */
  readonly excludePartition?: ((key: string, partition: string) => boolean) | undefined
  /** Where attempts run (a process pool, a queue): absent, in this process (the in-process executor). */
  readonly stepRunner?: StepRunner | undefined
}

const localStores = new Map<string, Promise<MaterializeStore>>()

/**
 * The store of a launch. Local stores are opened once per root and process, and stay open so that
 * results can load values after the run.
 */
export const resolveStore = (
  choice: StorageChoice | undefined,
  root: string,
  /** The project's `storage` option: PostgreSQL instead of the embedded SQLite store. */
  configured?: StorageConfig | undefined
): Effect.Effect<MaterializeStore, StorageError> => {
  if (choice === "memory") return Effect.sync(memoryStore)
  if (choice !== undefined && choice !== "local") return Effect.succeed(choice)
  const env = process.env
  // One store per configuration and root, reused by every launch of this process.
  const id = `${JSON.stringify(configured ?? null)}\u0000${env.MATERIA_DATABASE_URL ?? ""}\u0000${root}`
  return Effect.tryPromise({
    try: () => {
      let store = localStores.get(id)
      if (store === undefined) {
        store = openConfiguredStore(root, configured, env)
        store.catch(() => localStores.delete(id))
        localStores.set(id, store)
      }
      return store
    },
    catch: (cause) => cause as StorageError
  })
}

export const makeRunId = Effect.gen(function* () {
  const now = yield* Clock.currentTimeMillis
  const random = yield* Random.nextIntBetween(0, 0xffffff)
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "")
  return `${stamp}-${random.toString(16).padStart(6, "0")}`
})

const noopLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

const observeSources = (
  project: AnyProject,
  closure: Iterable<number>,
  runId: string,
  signal: AbortSignal
): Effect.Effect<Array<{ key: string; dataVersion: string }>, ObserveError> =>
  Effect.forEach(
    [...closure]
      .map((i) => project.byKey.get(project.graph.keys[i]!)!)
      .filter((a) => a.observe !== undefined),
    (source) => {
      const context: AssetContext = {
        runId,
        assetKey: source.key,
        attempt: 1,
        log: noopLog,
        addMetadata: () => {},
        config: undefined,
        signal
      }
      return source.observe!(context).pipe(
        Effect.catchCause((cause) => Effect.fail(new ObserveError({ assetKey: source.key, cause }))),
        Effect.map((version) => ({ key: source.key, dataVersion: version ?? "unobserved" }))
      )
    }
  )

const decodeConfig = (
  project: AnyProject,
  plan: Plan,
  raw: Readonly<Record<string, unknown>> | undefined
): Effect.Effect<Map<string, unknown>, ConfigError> =>
  Effect.gen(function* () {
    const decoded = new Map<string, unknown>()
    for (const key of Object.keys(raw ?? {})) {
      const asset = project.byKey.get(key)
      if (asset === undefined || asset.configSchema === undefined)
        return yield* Effect.fail(
          new ConfigError({
            assetKey: key,
            reason: asset === undefined ? "no asset has this key" : "this asset declares no config schema"
          })
        )
    }
    for (const step of plan.steps) {
      const schema = project.byKey.get(step.key)!.configSchema
      if (schema === undefined) continue
      const value = yield* Schema.decodeUnknownEffect(schema)(raw?.[step.key]).pipe(
        Effect.mapError((issue) => new ConfigError({ assetKey: step.key, reason: String(issue) }))
      )
      decoded.set(step.key, value)
    }
    return decoded
  })

/** Every IO manager a run of `project` in `store` may use, by name (`default` included). */
export const ioManagersOf = (project: AnyProject, store: MaterializeStore): Map<string, IOManager> => {
  const managers = new Map<string, IOManager>([["default", store.defaultIOManager]])
  for (const [name, io] of store.ioManagers) managers.set(name, io)
  for (const [name, io] of project.ioManagers) managers.set(name, io)
  return managers
}

/** A plan ready to run: the snapshot it was made from and the source observations that changed. */
export interface PreparedRun {
  readonly runId: string
  readonly plan: Plan
  readonly snapshot: ReadonlyMap<string, StoredAssetState>
  /** Partitions: the universe the plan was made in and the stored state of each partition. */
  readonly partitions?: PartitionUniverse | undefined
  readonly partitionSnapshot?: ReadonlyMap<string, ReadonlyMap<string, StoredAssetState>> | undefined
  readonly observations: ReadonlyArray<{ readonly key: string; readonly dataVersion: string }>
}

/** Marks dead runs, observes the sources upstream of `targets`, and plans (no step runs). */
export const prepareRun = (
  project: AnyProject,
  store: MaterializeStore,
  targets: ReadonlySet<number>,
  planOptions: PlanOptions,
  options: {
    readonly runId?: string | undefined
    readonly signal?: AbortSignal | undefined
    readonly partitions?: string | undefined
    readonly excludePartition?: ((key: string, partition: string) => boolean) | undefined
  } = {}
): Effect.Effect<PreparedRun, StaleUpstream | ObserveError | StorageError | PartitionRequestError> =>
  Effect.gen(function* () {
    const graph = project.graph
    yield* markDeadRuns(store.storage, project.name, isDriverAlive)
    const runId = options.runId ?? (yield* makeRunId)
    const closure = new Set([...targets, ...graph.upstreamOf(targets)])
    const stored = yield* store.storage.snapshot(project.name)
    const signal = options.signal ?? new AbortController().signal
    const observed = yield* observeSources(project, closure, runId, signal)
    const snapshot = new Map<string, StoredAssetState>(stored)
    const observations: Array<{ key: string; dataVersion: string }> = []
    for (const o of observed) {
      if (stored.get(o.key)?.latest?.dataVersion === o.dataVersion) continue
      observations.push(o)
      snapshot.set(o.key, {
        lastFailed: false,
        latest: {
          key: o.key,
          runId,
          at: 0,
          dataVersion: o.dataVersion,
          codeVersion: "",
          inputVersions: {},
          handle: null
        }
      })
    }
    const partitions = yield* preparePartitions(
      graph,
      store.storage,
      project.name,
      targets,
      closure,
      options.partitions,
      options.excludePartition
    )
    const plan = yield* Effect.try({
      try: () =>
        planSteps(
          graph,
          targets,
          snapshot,
          partitions === undefined ? planOptions : { ...planOptions, partitions: partitions.input }
        ),
      catch: (e) => e as StaleUpstream
    })
    return {
      runId,
      plan,
      snapshot,
      observations,
      ...(partitions === undefined
        ? {}
        : { partitions: partitions.universe, partitionSnapshot: partitions.states })
    }
  })

/**
 * The run's alerts and hooks, in the launching process, before `materialize` returns (so they are
 * flushed before the process exits). Each alert's delivery is recorded as an event of the run;
 * nothing here can fail the run.
 */
const afterRun = (
  project: AnyProject,
  store: MaterializeStore,
  outcome: RunOutcome,
  listeners: ReadonlyArray<EventListener>
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const failed = outcome.status !== "succeeded"
    const info = {
      project: project.name,
      runId: outcome.runId,
      status: outcome.status,
      durationMillis: outcome.durationMillis,
      steps: outcome.steps.map((s) => ({ key: s.key, status: s.status, error: s.error }))
    }
    if (project.alerts.length > 0 && (failed || project.alertOn === "always")) {
      const at = yield* Clock.currentTimeMillis
      const summary: AlertSummary = {
        version: 1,
        kind: "run",
        project: project.name,
        runId: outcome.runId,
        status: outcome.status,
        failedSteps: outcome.steps
          .filter((s) => s.status === "failed")
          .map((s) => ({ key: s.key, error: alertErrorOf(s.error) })),
        skippedSteps: outcome.steps.filter((s) => s.status === "skipped").length,
        durationMillis: outcome.durationMillis,
        at
      }
      const events = yield* Effect.forEach(project.alerts, (alert) =>
        Effect.map(
          alert.send(summary),
          (o): RunEvent => ({ _tag: "AlertSent", runId: outcome.runId, at, alert: alert.name, ...o })
        )
      )
      for (const event of events)
        for (const listener of listeners)
          try {
            listener(event)
          } catch {
            // A listener must never break the run.
          }
      yield* Effect.ignore(store.storage.append(project.name, events))
    }
    const hook = failed ? project.hooks.onFailure : project.hooks.onSuccess
    if (hook !== undefined)
      yield* Effect.catchCause(
        Effect.asVoid(fromUserFunction((i: typeof info, _: undefined) => hook(i))(info, undefined)),
        (cause) =>
          Effect.sync(() => {
            process.stderr.write(
              `materia: the run's ${failed ? "onFailure" : "onSuccess"} hook failed: ${String(Cause.squash(cause))}\n`
            )
          })
      )
  })

/** Plans and runs `targets` of `project` in `store`; the plan options say how (make, forced, re-execution). */
export const launch = (
  project: AnyProject,
  store: MaterializeStore,
  targets: ReadonlySet<number>,
  planOptions: PlanOptions,
  options: LaunchOptions
): Effect.Effect<
  RunResult<AnyProject>,
  StaleUpstream | ConfigError | ResourcesError | ObserveError | StorageError | PartitionRequestError
> =>
  Effect.gen(function* () {
    const graph = project.graph
    const { runId, plan, snapshot, observations, partitions, partitionSnapshot } = yield* prepareRun(
      project,
      store,
      targets,
      planOptions,
      options
    )
    const ioManagers = ioManagersOf(project, store)
    // Nothing stale and nothing newly observed: no run is recorded.
    if (plan.steps.length === 0 && observations.length === 0)
      return makeResult(
        project,
        { runId, status: "succeeded", durationMillis: 0, steps: [], plan },
        store,
        ioManagers
      )
    const config = yield* decodeConfig(project, plan, options.config)
    const listeners =
      options.onEvent === undefined
        ? []
        : Array.isArray(options.onEvent)
          ? options.onEvent
          : [options.onEvent]
    const run = execute({
      runId,
      project: project.name,
      graph,
      plan,
      assets: project.executables,
      snapshot,
      partitions,
      partitionSnapshot,
      backfillId: options.backfillId,
      storage: store.storage,
      ioManagers,
      limits: { concurrency: options.concurrency ?? project.concurrency, pools: project.pools },
      config,
      listeners: listeners as ReadonlyArray<EventListener>,
      observations,
      signal: options.signal,
      driver: currentDriver(),
      parentRunId: options.parentRunId,
      output: options.output,
      stepRunner: options.stepRunner
    }) as Effect.Effect<RunOutcome, StorageError, unknown>
    const outcome = yield* (
      project.resources === undefined
        ? (run as Effect.Effect<RunOutcome, StorageError>)
        : Effect.scoped(
            Effect.flatMap(
              Layer.build(project.resources as Layer.Layer<unknown, unknown, never>).pipe(
                Effect.mapError((cause) => new ResourcesError({ cause }))
              ),
              (context) => Effect.provideContext(run, context)
            )
          )
    ) as Effect.Effect<RunOutcome, StorageError | ResourcesError>
    yield* afterRun(project, store, outcome, listeners as ReadonlyArray<EventListener>)
    return makeResult(project, outcome, store, ioManagers)
  })
