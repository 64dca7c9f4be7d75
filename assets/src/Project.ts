/**
 * `defineProject`: gathers assets, the resources their bodies require (one Layer, built once per
 * run), pool limits and IO managers into a validated project. Misconfiguration fails here, at
 * definition time: duplicate keys, unknown dependencies, cycles, unknown IO managers, bad limits.
 */

import { AssetGraph, didYouMean, type ExecutableAsset, type IOManager } from "@materia/core"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { AnyAsset, RequirementsOf } from "./Asset.ts"
import type { Alert } from "./alerts/Alert.ts"
import type { AssetCheck } from "./Check.ts"
import type { RetentionPolicy } from "./Retention.ts"
import type { StorageConfig } from "./Store.ts"
import type { AutomationDefinition } from "./schedule/Automation.ts"
import { type ScheduleDefinition, validateSchedules } from "./schedule/Schedule.ts"
import type { SensorDefinition } from "./schedule/Sensor.ts"

/** The resources every asset of `As` requires, as a union of services. */
export type ProjectRequirements<As extends ReadonlyArray<AnyAsset>> = RequirementsOf<As[number]>

/** `resources` is required exactly when some body requires a service. */
export type ResourcesOption<R> = [R] extends [never]
  ? { readonly resources?: Layer.Layer<never, unknown, never> | undefined }
  : {
      /** One Layer providing every service the bodies require; built once per run, released at its end. */
      readonly resources: Layer.Layer<R, unknown, never>
    }

export interface ProjectBaseOptions<As extends ReadonlyArray<AnyAsset>> {
  /** Namespaces the project's assets in a shared store. Default `default`. */
  readonly name?: string | undefined
  /** The folder whose `.materia/` holds the local store (default: the working directory at launch). */
  readonly root?: string | undefined
  readonly assets: As
  /** Concurrency limit per pool (`{ gpu: 1 }`); pools not listed share the global limit only. */
  readonly pools?: Readonly<Record<string, number>> | undefined
  /** Steps running at once over all pools (default 8); `materialize` may override it. */
  readonly concurrency?: number | undefined
  /** Named IO managers that assets choose with their `io` option. */
  readonly ioManagers?: Readonly<Record<string, IOManager>> | undefined
  /** Checks of the project's assets, made by `check(...)`: run before each value commits. */
  readonly checks?: ReadonlyArray<AssetCheck> | undefined
  /** Alerts sent when a run fails (e.g. `webhookAlert({ url })`); `alertOn: "always"` for every run. */
  readonly alerts?: ReadonlyArray<Alert> | undefined
  readonly alertOn?: "failure" | "always" | undefined
  /**
   * Where runs are recorded: `{ kind: "postgres", url }` for production (several processes and
   * machines); default the embedded SQLite store, or `MATERIA_DATABASE_URL` when set.
   */
  readonly storage?: StorageConfig | undefined
  /**
   * Run-level retries of runs the daemon launches: a failed run is re-executed from failure (its
   * failed steps only) until `attempts` runs in all (`{ attempts: 3 }`: up to two retries).
   */
  readonly runRetry?: { readonly attempts: number } | undefined
  /** What `materia gc` and the daemon delete: old runs and superseded values (`{ runs: "30 days", values: 5 }`). */
  readonly retention?: RetentionPolicy | undefined
  /** Cron schedules the daemon launches runs on (`schedule(name, { cron, select })`). */
  readonly schedules?: ReadonlyArray<ScheduleDefinition> | undefined
  /** Sensors the daemon evaluates (`sensor(name, { interval, evaluate })`, `newFilesSensor`, ...). */
  readonly sensors?: ReadonlyArray<SensorDefinition> | undefined
  /** Declarative automation conditions (`automate(key, eager())`). */
  readonly automations?: ReadonlyArray<AutomationDefinition> | undefined
  /** Hooks run in the launching process when a run ends. A failing hook is reported, never fails the run. */
  readonly hooks?: RunHooks | undefined
}

/** What a run hook receives: the finished run. */
export interface RunHookInfo {
  readonly project: string
  readonly runId: string
  readonly status: "succeeded" | "failed" | "canceled"
  readonly durationMillis: number
  readonly steps: ReadonlyArray<{ readonly key: string; readonly status: string; readonly error?: unknown }>
}

export interface RunHooks {
  readonly onSuccess?:
    | ((info: RunHookInfo) => void | Promise<void> | Effect.Effect<void, unknown>)
    | undefined
  readonly onFailure?:
    | ((info: RunHookInfo) => void | Promise<void> | Effect.Effect<void, unknown>)
    | undefined
}

/** A check that names an asset the project lacks, or two checks of one asset with the same name. */
export class CheckDefinitionError extends Data.TaggedError("CheckDefinitionError")<{
  readonly message: string
}> {}

export type ProjectOptions<As extends ReadonlyArray<AnyAsset>> = ProjectBaseOptions<As> &
  ResourcesOption<ProjectRequirements<As>>

/** A validated project. */
export interface Project<As extends ReadonlyArray<AnyAsset> = ReadonlyArray<AnyAsset>> {
  readonly name: string
  readonly root: string | undefined
  readonly assets: As
  readonly graph: AssetGraph
  readonly byKey: ReadonlyMap<string, AnyAsset>
  readonly resources: Layer.Layer<ProjectRequirements<As>, unknown, never> | undefined
  readonly pools: Readonly<Record<string, number>>
  readonly concurrency: number
  readonly ioManagers: ReadonlyMap<string, IOManager>
  /** Every asset ready to run, with the project's checks attached. */
  readonly executables: ReadonlyMap<string, ExecutableAsset<unknown>>
  readonly checks: ReadonlyArray<AssetCheck>
  readonly alerts: ReadonlyArray<Alert>
  readonly alertOn: "failure" | "always"
  readonly hooks: RunHooks
  /** The configured metadata store (undefined: the default, see `openConfiguredStore`). */
  readonly storage: StorageConfig | undefined
  readonly retention: RetentionPolicy | undefined
  readonly runRetry: { readonly attempts: number } | undefined
  readonly schedules: ReadonlyArray<ScheduleDefinition>
  readonly sensors: ReadonlyArray<SensorDefinition>
  readonly automations: ReadonlyArray<AutomationDefinition>
}

/** Any project. */
export type AnyProject = Project<ReadonlyArray<AnyAsset>>

/** The asset keys of a project, as a union of literals. */
export type KeysOf<P> = P extends Project<infer As> ? As[number]["key"] : never

/** The asset of a project with key `K`. */
export type AssetOf<P, K extends string> =
  P extends Project<infer As> ? Extract<As[number], { readonly key: K }> : never

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/
const DEFAULT_CONCURRENCY = 8

const positiveInteger = (value: unknown, what: string): number => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1)
    throw new TypeError(`${what} must be an integer ≥ 1, found ${JSON.stringify(value)}`)
  return value
}

/**
 * Validates and builds a project.
 *
 * @example
 * export default defineProject({ name: "ml", assets: [orders, features, model], resources: TrainerLive, pools: { gpu: 1 } })
 */
export const defineProject = <const As extends ReadonlyArray<AnyAsset>>(
  options: ProjectOptions<As>
): Project<As> => {
  const name = options.name ?? "default"
  if (!NAME.test(name))
    throw new TypeError(
      `project name ${JSON.stringify(name)} must contain only letters, digits, _ . - (e.g. "ml_pipeline")`
    )
  if (!Array.isArray(options.assets))
    throw new TypeError(
      `project "${name}": assets must be an array of assets, found ${typeof options.assets}`
    )
  const unique = [...new Set(options.assets)]
  const graph = AssetGraph.make(unique.map((a) => a.spec))
  const byKey = new Map(unique.map((a) => [a.key, a] as const))
  const pools: Record<string, number> = {}
  for (const [pool, limit] of Object.entries(options.pools ?? {}))
    pools[pool] = positiveInteger(limit, `project "${name}": pool "${pool}" limit`)
  const concurrency = positiveInteger(
    options.concurrency ?? DEFAULT_CONCURRENCY,
    `project "${name}": concurrency`
  )
  const ioManagers = new Map(Object.entries(options.ioManagers ?? {}))
  const knownIO = ["default", "memory", ...ioManagers.keys()]
  for (const spec of graph.specs)
    if (!knownIO.includes(spec.ioManager))
      throw new TypeError(
        `asset "${spec.key}" uses IO manager "${spec.ioManager}"${didYouMean(spec.ioManager, knownIO)}, which the project does not define; add it to defineProject({ ioManagers })`
      )
  const checks = options.checks ?? []
  const checksByAsset = new Map<string, Array<AssetCheck>>()
  for (const c of checks) {
    if (!byKey.has(c.assetKey))
      throw new CheckDefinitionError({
        message: `check "${c.spec.name}" is on asset "${c.assetKey}"${didYouMean(c.assetKey, graph.keys)}, which project "${name}" does not have; add the asset to defineProject({ assets })`
      })
    const list = checksByAsset.get(c.assetKey) ?? []
    const twin = list.find((other) => other.spec.name === c.spec.name)
    if (twin !== undefined)
      throw new CheckDefinitionError({
        message: `asset "${c.assetKey}" has two checks named "${c.spec.name}" (${twin.spec.description ?? "the first"} and ${c.spec.description ?? "the second"}); give each check its own name`
      })
    list.push(c)
    checksByAsset.set(c.assetKey, list)
  }
  const storage = options.storage
  if (
    storage !== undefined &&
    (typeof storage !== "object" ||
      storage === null ||
      (storage.kind !== "sqlite" && storage.kind !== "postgres"))
  )
    throw new TypeError(
      `project "${name}": storage must be { kind: "sqlite" } or { kind: "postgres", url: "postgres://…" }, found ${JSON.stringify(storage)}`
    )
  // Unknown assets, invalid crons and duplicate names fail here, when the project loads.
  const schedules = options.schedules ?? []
  const sensors = options.sensors ?? []
  const automations = options.automations ?? []
  validateSchedules({ graph }, schedules, sensors, automations)
  const executables = new Map<string, ExecutableAsset<unknown>>()
  for (const [key, a] of byKey) {
    const attached = checksByAsset.get(key)
    executables.set(
      key,
      attached === undefined
        ? a.executable
        : { ...a.executable, checks: [...(a.executable.checks ?? []), ...attached.map((c) => c.executable)] }
    )
  }
  return {
    name,
    root: options.root,
    executables,
    checks,
    alerts: options.alerts ?? [],
    alertOn: options.alertOn ?? "failure",
    hooks: options.hooks ?? {},
    storage,
    retention: options.retention,
    runRetry:
      options.runRetry === undefined
        ? undefined
        : { attempts: positiveInteger(options.runRetry.attempts, `project "${name}": runRetry.attempts`) },
    schedules,
    sensors,
    automations,
    assets: options.assets,
    graph,
    byKey,
    resources: (options as { resources?: Layer.Layer<ProjectRequirements<As>, unknown, never> }).resources,
    pools,
    concurrency,
    ioManagers
  }
}
