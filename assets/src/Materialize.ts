/**
 * `materialize(project, selection, options)`: makes the selected assets fresh. Plans the targets
 * and their stale upstream (make semantics), runs the plan with the project's resources, and
 * resolves to a typed result; rejects with `RunFailed` when a step failed, unless
 * `raiseOnError: false`. `reexecute` runs again the failed steps of an earlier run (or a chosen
 * subset of its steps). Each has an Effect variant.
 */
import {
  type EventListener,
  foldRunEvents,
  type OutputMode,
  partitionsFromSpec,
  resolveSelection,
  SelectionError,
  type StaleUpstream,
  type StepRunner,
  type StorageError
} from "@materia/core"
import * as Effect from "effect/Effect"
import type { ConfigOf } from "./Asset.ts"
import type { GitChangesError } from "./GitChanges.ts"
import {
  type ConfigError,
  launch,
  type ObserveError,
  type ResourcesError,
  resolveStore,
  type StorageChoice
} from "./Launch.ts"
import type { PartitionRequestError } from "./PartitionRequest.ts"
import type { AnyProject, KeysOf, Project } from "./Project.ts"
import { resolveSelectionWithGit } from "./ResolveSelection.ts"
import { RunFailed, type RunResult } from "./RunResult.ts"

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
  /**
   * `"local"` (default): the project's `.materia/` folder (SQLite records, values on local disk);
   * `"memory"`: an ephemeral store; or a store to reuse across runs (`memoryStore()`).
   */
  readonly storage?: StorageChoice | undefined
  /** The project root holding `.materia/` (default: the project's `root`, else the working directory). */
  readonly root?: string | undefined
  /** `materialize` (default) plans stale upstream too; `load-only` refuses instead. */
  readonly upstream?: "materialize" | "load-only" | undefined
  /** `false`: resolve with the failed result instead of rejecting with `RunFailed`. */
  readonly raiseOnError?: boolean | undefined
  /** Called synchronously for every run event (a reporter, a progress bar). */
  readonly onEvent?: EventListener | ReadonlyArray<EventListener> | undefined
  /** An explicit run id (default: a sortable timestamp and random suffix). */
  readonly runId?: string | undefined
  /**
   * What bodies print: `tee` (default) records it as step logs and lets it through; `capture`
   * records it only (when a live reporter shows the logs); `off` leaves the process streams alone.
   */
  readonly output?: OutputMode | undefined
  /**
   * The partitions of the partitioned targets: a key, a range `2026-01-01...2026-01-31`, a list
   * `eu,us`, `*`, or per dimension `date=2026-01-01...2026-01-07;region=eu`. Default: every
   * partition (time windows closed by now), stale ones only unless `force`.
   */
  readonly partitions?: string | undefined
  /**
   * Where attempts run: absent, in this process; a child-process pool or BullMQ workers through
   * `openExecutor("processes" | "queue", ...)` of `@materia/server` (same retries, timeouts, events).
   */
  readonly stepRunner?: StepRunner | undefined
}

export type MaterializeError =
  | RunFailed
  | SelectionError
  | StaleUpstream
  | ConfigError
  | ResourcesError
  | ObserveError
  | StorageError
  | PartitionRequestError
  | GitChangesError

const rootOf = (project: AnyProject, root: string | undefined): string =>
  root ?? project.root ?? process.cwd()

const raiseUnless = <P>(result: RunResult<AnyProject>, raise: boolean | undefined) =>
  result.status !== "succeeded" && raise !== false
    ? Effect.fail(new RunFailed({ result }))
    : Effect.succeed(result as RunResult<P>)

/** `materialize` as an Effect: fails with `RunFailed` (unless `raiseOnError: false`) or a typed setup error. */
export const materializeEffect = <P extends AnyProject, const S extends ReadonlyArray<string>>(
  project: P,
  selection: CheckedSelection<S, KeysOf<P>>,
  options: MaterializeOptions<P> = {}
): Effect.Effect<RunResult<P>, MaterializeError> =>
  Effect.gen(function* () {
    const { selected: targets } = yield* resolveSelectionWithGit(
      project,
      selection as ReadonlyArray<string>,
      {
        root: rootOf(project, options.root)
      }
    )
    const store = yield* resolveStore(options.storage, rootOf(project, options.root), project.storage)
    const result = yield* launch(
      project,
      store,
      targets,
      { force: options.force, upstream: options.upstream },
      { ...options, config: options.config as Readonly<Record<string, unknown>> | undefined }
    )
    return yield* raiseUnless<P>(result, options.raiseOnError)
  })

/** Runs an Effect of ours as a Promise that rejects with the typed error itself. */
const toPromise = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
  const exit = await Effect.runPromiseExit(effect)
  if (exit._tag === "Success") return exit.value
  const reason = exit.cause.reasons[0]
  if (reason !== undefined && reason._tag === "Fail") throw reason.error
  if (reason !== undefined && reason._tag === "Die") throw reason.defect
  throw new Error("the run was interrupted before it finished")
}

/**
 * Makes the selected assets fresh: runs the stale targets and their stale upstream, in dependency
 * order and in parallel.
 *
 * @example
 * const result = await materialize(project, ["model"])
 * const model = await result.value(modelAsset)
 */
export const materialize = <P extends AnyProject, const S extends ReadonlyArray<string>>(
  project: P,
  selection: CheckedSelection<S, KeysOf<P>>,
  options: MaterializeOptions<P> = {}
): Promise<RunResult<P>> => toPromise(materializeEffect<P, S>(project, selection, options))

export interface ReexecuteOptions<P> extends Omit<MaterializeOptions<P>, "force" | "upstream"> {
  /** Run again the failed, skipped and canceled steps of this run. */
  readonly fromFailure?: string | undefined
  /** Run again the steps of this run that `selection` picks. */
  readonly fromRun?: string | undefined
  /** With `fromRun`: which of its steps (selection syntax); default all. */
  readonly selection?: string | ReadonlyArray<string> | undefined
}

/** `reexecute` as an Effect. */
export const reexecuteEffect = <P extends AnyProject>(
  project: P,
  options: ReexecuteOptions<P>
): Effect.Effect<RunResult<P>, MaterializeError> =>
  Effect.gen(function* () {
    const parent = options.fromFailure ?? options.fromRun
    if (parent === undefined || (options.fromFailure !== undefined && options.fromRun !== undefined))
      return yield* Effect.fail(
        new SelectionError({ selection: "", reason: "give exactly one of fromFailure or fromRun (a run id)" })
      )
    const store = yield* resolveStore(options.storage, rootOf(project, options.root), project.storage)
    const events = yield* store.storage.events(parent)
    if (events.length === 0)
      return yield* Effect.fail(
        new SelectionError({
          selection: parent,
          reason: `no run "${parent}" of project "${project.name}" is recorded; list runs with \`materia runs\``
        })
      )
    const view = foldRunEvents(
      parent,
      events.map((e) => e.event)
    )
    const steps = [...view.steps.values()].filter((s) => project.graph.has(s.key))
    const chosen =
      options.fromFailure !== undefined
        ? steps.filter((s) => s.status !== "succeeded" && s.status !== "unchanged")
        : steps
    let keys = chosen.map((s) => s.key)
    if (options.fromRun !== undefined && options.selection !== undefined) {
      const selected = yield* Effect.try({
        try: () => resolveSelection(project.graph, options.selection!),
        catch: (e) => e as SelectionError
      })
      keys = keys.filter((k) => selected.has(project.graph.indexOf(k)))
    }
    const targets = new Set(keys.map((k) => project.graph.indexOf(k)))
    // A partitioned asset re-executes only the partitions (and ranges) of the chosen steps.
    const chosenKeys = new Set(keys)
    const partitionsOf = new Map<string, Set<string>>()
    for (const s of chosen) {
      if (s.partition === undefined || !chosenKeys.has(s.key)) continue
      const set = partitionsOf.get(s.key) ?? new Set<string>()
      partitionsOf.set(s.key, set)
      const [from, to] = s.partition.split("...")
      const spec = project.graph.specs[project.graph.indexOf(s.key)]!.partitions
      if (to === undefined || spec === undefined) set.add(s.partition)
      else for (const k of partitionsFromSpec(spec).range(from!, to)) set.add(k)
    }
    const result = yield* launch(
      project,
      store,
      targets,
      { reexecuteFrom: parent },
      {
        ...options,
        config: options.config as Readonly<Record<string, unknown>> | undefined,
        parentRunId: parent,
        ...(partitionsOf.size === 0
          ? {}
          : {
              excludePartition: (key: string, partition: string) =>
                partitionsOf.get(key)?.has(partition) !== true
            })
      }
    )
    return yield* raiseUnless<P>(result, options.raiseOnError)
  })

/**
 * Re-executes an earlier run: `fromFailure` runs only its failed, skipped and canceled steps,
 * loading the values of the steps that succeeded; `fromRun` with `selection` runs a chosen subset.
 *
 * @example
 * await reexecute(project, { fromFailure: failedRunId })
 */
export const reexecute = <P extends AnyProject>(
  project: P,
  options: ReexecuteOptions<P>
): Promise<RunResult<P>> => toPromise(reexecuteEffect(project, options))

export type { EventListener }
