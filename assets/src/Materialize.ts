/**
 * `materialize(project, selection, options)`: makes the selected assets fresh. Plans the targets
 * and their stale upstream (make semantics), runs the plan with the project's resources, and
 * resolves to a typed result; rejects with `RunFailed` when a step failed, unless
 * `raiseOnError: false`. `materializeEffect` is the same as an Effect.
 */
import {
  type EventListener,
  execute,
  type IOManager,
  IOManagerError,
  type Plan,
  plan as planSteps,
  type RunOutcome,
  resolveSelection,
  type SelectionError,
  type StaleUpstream,
  type StepOutcome,
  type StorageError,
  type StoredAssetState
} from "@materia/core"
import { Clock, Data, Effect, Layer, Random, Schema } from "effect"
import type { AnyAsset, Asset, AssetContext, ConfigOf } from "./Asset.ts"
import type { AnyProject, KeysOf, Project } from "./Project.ts"
import { type MaterializeStore, memoryStore } from "./Store.ts"

/** Characters that make a selection string more than a plain key. */
type SelectionOperator = "+" | ":" | "*" | ","

/**
 * Checks each selection string at compile time: a plain key must be a key of the project; strings
 * with selection operators (`+model`, `group:ml`, `*`) and non-literal strings are checked at run time.
 * Used as the parameter type itself (not intersected with `S`): `S` is inferred through this
 * homomorphic mapped type, so a typo reports `"modle"` is not assignable to `unknown asset key "modle"`.
 */
export type CheckedSelection<S extends ReadonlyArray<string>, Keys extends string> = {
  readonly [I in keyof S]: string extends S[I]
    ? S[I]
    : S[I] extends Keys
      ? S[I]
      : S[I] extends `${string}${SelectionOperator}${string}`
        ? S[I]
        : `unknown asset key "${S[I] & string}"`
}

/**
 * Run configuration by asset key: each asset with a `config` schema takes its encoded input. Every
 * key of the project is listed, so config for an asset that declares no schema names the problem
 * (and the object is never `{}`, which would let unknown keys through unchecked).
 */
export type RunConfig<P> =
  P extends Project<infer As>
    ? {
        readonly [A in As[number] as A["key"]]?: [ConfigOf<A>] extends [never]
          ? `asset "${A["key"]}" declares no config schema`
          : ConfigOf<A>
      }
    : never

export interface MaterializeOptions<P> {
  /** Re-materialize the targets even when they are fresh. */
  readonly force?: boolean | undefined
  /** Steps running at once (default: the project's `concurrency`). */
  readonly concurrency?: number | undefined
  /** Aborting it cancels the run: running steps are interrupted, the run ends `canceled`. */
  readonly signal?: AbortSignal | undefined
  /** Typed run configuration of the assets that declare a `config` schema. */
  readonly config?: RunConfig<P> | undefined
  /** `"memory"` (default: an ephemeral store) or a store to reuse across runs. */
  readonly storage?: "memory" | MaterializeStore | undefined
  /** `materialize` (default) plans stale upstream too; `load-only` refuses instead. */
  readonly upstream?: "materialize" | "load-only" | undefined
  /** `false`: resolve with the failed result instead of rejecting with `RunFailed`. */
  readonly raiseOnError?: boolean | undefined
  /** Called synchronously for every run event (a reporter, a progress bar). */
  readonly onEvent?: EventListener | ReadonlyArray<EventListener> | undefined
  /** An explicit run id (default: a sortable timestamp and random suffix). */
  readonly runId?: string | undefined
}

/** The typed result of a run. */
export interface RunResult<P = AnyProject> {
  readonly runId: string
  readonly status: "succeeded" | "failed" | "canceled"
  readonly durationMillis: number
  readonly plan: Plan
  /** One outcome per planned step, in plan order. */
  readonly steps: ReadonlyArray<StepOutcome>
  /** The outcome of one planned step (undefined when it was fresh and not planned). */
  readonly step: (key: KeysOf<P> | (string & {})) => StepOutcome | undefined
  /** Loads the current value of an asset of the project (made by this run, or an earlier one in the store). */
  readonly value: <A>(asset: Asset<KeysOf<P>, A, unknown, unknown>) => Promise<A>
  /** `value` as an Effect. */
  readonly valueEffect: <A>(asset: Asset<KeysOf<P>, A, unknown, unknown>) => Effect.Effect<A, IOManagerError>
}

/** A run ended failed or canceled; `result` holds every step's outcome. */
export class RunFailed extends Data.TaggedError("RunFailed")<{ readonly result: RunResult<AnyProject> }> {
  override get message(): string {
    const r = this.result
    const failed = r.steps.filter((s) => s.status === "failed")
    const lines = failed.map(
      (s) => `  ${s.key}: ${s.error instanceof Error ? s.error.message : String(s.error)}`
    )
    const skipped = r.steps.filter((s) => s.status === "skipped").length
    const head =
      r.status === "canceled"
        ? `run ${r.runId} was canceled`
        : `run ${r.runId} failed: ${failed.length} step(s) failed${skipped > 0 ? `, ${skipped} skipped` : ""}`
    return [head, ...lines].join("\n")
  }
}

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

export type MaterializeError =
  | RunFailed
  | SelectionError
  | StaleUpstream
  | ConfigError
  | ResourcesError
  | ObserveError
  | StorageError

const makeRunId = Effect.gen(function* () {
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

const ioManagersOf = (project: AnyProject, store: MaterializeStore): Map<string, IOManager> => {
  const managers = new Map<string, IOManager>([["default", store.defaultIOManager]])
  for (const [name, io] of store.ioManagers) managers.set(name, io)
  for (const [name, io] of project.ioManagers) managers.set(name, io)
  return managers
}

const makeResult = (
  project: AnyProject,
  outcome: RunOutcome,
  store: MaterializeStore,
  ioManagers: ReadonlyMap<string, IOManager>
): RunResult<AnyProject> => {
  const byKey = new Map(outcome.steps.map((s) => [s.key, s]))
  const valueEffect = <A>(asset: Asset<string, A, unknown, unknown>): Effect.Effect<A, IOManagerError> =>
    Effect.gen(function* () {
      const key = asset.key
      const made = byKey.get(key)
      let handle = made?.handle
      if (handle === undefined) {
        const snapshot = yield* store.storage.snapshot(project.name, [key]).pipe(
          Effect.mapError(
            (e) =>
              new IOManagerError({
                ioManager: "storage",
                assetKey: key,
                operation: "load",
                reason: e.message
              })
          )
        )
        handle = snapshot.get(key)?.latest?.handle
      }
      if (handle === null) return undefined as A
      if (handle === undefined)
        return yield* Effect.fail(
          new IOManagerError({
            ioManager: asset.spec.ioManager,
            assetKey: key,
            operation: "load",
            reason: "the asset has no stored value; materialize it first"
          })
        )
      const io = ioManagers.get(handle.ioManager)
      if (io === undefined)
        return yield* Effect.fail(
          new IOManagerError({
            ioManager: handle.ioManager,
            assetKey: key,
            operation: "load",
            reason: "no such IO manager in this project"
          })
        )
      return (yield* io.load(handle, { assetKey: key, consumerKey: key })) as A
    })
  return {
    runId: outcome.runId,
    status: outcome.status,
    durationMillis: outcome.durationMillis,
    plan: outcome.plan,
    steps: outcome.steps,
    step: (key) => byKey.get(key),
    valueEffect,
    value: (asset) => Effect.runPromise(valueEffect(asset))
  }
}

/** `materialize` as an Effect: fails with `RunFailed` (unless `raiseOnError: false`) or a typed setup error. */
export const materializeEffect = <P extends AnyProject, const S extends ReadonlyArray<string>>(
  project: P,
  selection: CheckedSelection<S, KeysOf<P>>,
  options: MaterializeOptions<P> = {}
): Effect.Effect<RunResult<P>, MaterializeError> =>
  Effect.gen(function* () {
    const graph = project.graph
    const store =
      options.storage === undefined || options.storage === "memory" ? memoryStore() : options.storage
    const targets = yield* Effect.try({
      try: () => resolveSelection(graph, selection as ReadonlyArray<string>),
      catch: (e) => e as SelectionError
    })
    const runId = options.runId ?? (yield* makeRunId)
    const closure = new Set([...targets, ...graph.upstreamOf(targets)])
    const stored = yield* store.storage.snapshot(project.name)
    const observations = yield* observeSources(
      project,
      closure,
      runId,
      options.signal ?? new AbortController().signal
    )
    const snapshot = new Map<string, StoredAssetState>(stored)
    const changed: Array<{ key: string; dataVersion: string }> = []
    for (const o of observations) {
      const previous = stored.get(o.key)?.latest
      if (previous?.dataVersion === o.dataVersion) continue
      changed.push(o)
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
    const plan = yield* Effect.try({
      try: () => planSteps(graph, targets, snapshot, { force: options.force, upstream: options.upstream }),
      catch: (e) => e as StaleUpstream
    })
    const config = yield* decodeConfig(
      project,
      plan,
      options.config as Readonly<Record<string, unknown>> | undefined
    )
    const ioManagers = ioManagersOf(project, store)
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
      assets: new Map([...project.byKey].map(([k, a]) => [k, (a as AnyAsset).executable])),
      snapshot,
      storage: store.storage,
      ioManagers,
      limits: { concurrency: options.concurrency ?? project.concurrency, pools: project.pools },
      config,
      listeners: listeners as ReadonlyArray<EventListener>,
      observations: changed,
      signal: options.signal
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
    const result = makeResult(project, outcome, store, ioManagers)
    if (outcome.status !== "succeeded" && options.raiseOnError !== false)
      return yield* Effect.fail(new RunFailed({ result }))
    return result as RunResult<P>
  })

/**
 * Makes the selected assets fresh: runs the stale targets and their stale upstream, in dependency
 * order and in parallel.
 *
 * @example
 * const result = await materialize(project, ["model"])
 * const model = await result.value(modelAsset)
 */
export const materialize = async <P extends AnyProject, const S extends ReadonlyArray<string>>(
  project: P,
  selection: CheckedSelection<S, KeysOf<P>>,
  options: MaterializeOptions<P> = {}
): Promise<RunResult<P>> => {
  const exit = await Effect.runPromiseExit(materializeEffect<P, S>(project, selection, options))
  if (exit._tag === "Success") return exit.value
  const cause = exit.cause
  const reason = cause.reasons[0]
  if (reason !== undefined && reason._tag === "Fail") throw reason.error
  if (reason !== undefined && reason._tag === "Die") throw reason.defect
  throw new Error(`materialize was interrupted before the run finished`)
}
