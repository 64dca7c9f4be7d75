/**
 * `asset` and `sourceAsset`: the typed definitions users write. An asset's dependencies are its
 * body's inputs (`ins`), so the graph, the types along its edges and the resources it requires are
 * all known to the compiler. Each definition carries a serializable spec and its body.
 */
import {
  type AssetKeyInput,
  type AssetKeyString,
  type AssetSpec,
  assetKeyToString,
  DEFAULT_GROUP,
  DEFAULT_POOL,
  type ExecutableAsset,
  InvalidPartitionMapping,
  isArrowTable,
  type JsonValue,
  mappingProblem,
  noRetry,
  OutputValidationError,
  type PartitionedInput,
  type PartitionMappingSpec,
  type PartitionsDefinition,
  type RetrySpec,
  readsManyPartitions,
  Skip,
  type StepContext,
  type StepHookInfo,
  type StepHooks
} from "@materia/core"
import type { Table as ArrowTable, DataType, RecordBatch } from "apache-arrow"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { Alert } from "./alerts/Alert.ts"
import { alertErrorOf } from "./alerts/AlertSummary.ts"
import { automaticCodeVersion } from "./CodeVersion.ts"
import { expectedColumns, rowSchemaToArrowDescription, validateTable } from "./checks/TableSchema.ts"
import { definitionSite } from "./DefinitionSite.ts"
import { type AnyInput, type AssetInputOf, isAssetInput, type PartitionContextOf } from "./Partitions.ts"

/** A schema for run configuration or output values: decodes without services. */
export type AnySchema = Schema.Top & { readonly DecodingServices: never }

/** The context of a body: run id, asset key, logger, metadata, typed config, abort signal. */
export type AssetContext<Config = unknown> = StepContext<Config>

/** Phantom types of a definition: its value, the resources its body requires, its config input. */
export interface AssetTypes<A, R, C, P = unknown> {
  readonly value: A
  readonly requirements: R
  readonly config: C
  readonly partitions: P
}

/**
 * A defined asset: key `K`, value `A`, required resources `R`, run configuration input `C`
 * (`never` when the asset takes none), partitions definition `P` (`unknown`: not partitioned).
 */
export interface Asset<K extends string = string, A = unknown, R = never, C = never, P = unknown> {
  readonly "~types"?: AssetTypes<A, R, C, P> | undefined
  readonly key: K
  readonly spec: AssetSpec
  /** The partitions definition, when the asset is partitioned. */
  readonly partitions?: PartitionsDefinition | undefined
  readonly executable: ExecutableAsset<R>
  readonly configSchema: AnySchema | undefined
  /** For source assets: returns the current data version (a string), or undefined when unknown. */
  readonly observe: ((context: AssetContext) => Effect.Effect<string | undefined, unknown>) | undefined
}

/** A value of an Arrow row: Arrow JS reads timestamps and dates as epoch milliseconds. */
export type ArrowValueOf<T> = T extends Date ? number : T

/**
 * The value of an asset declared with `table: RowSchema`: an Apache Arrow table whose rows (from
 * `toArray()`, `get(i)` or iteration) are typed by the row schema.
 */
export type TableOf<Row> = TypedRows<{ readonly [K in keyof Row]: ArrowValueOf<Row[K]> }> &
  ArrowTable<Record<string, DataType>>

/** Row accessors typed by a row type (listed first, so that they win over Arrow's own). */
export interface TypedRows<Row> {
  toArray(): Array<Row>
  get(index: number): Row | null
  at(index: number): Row | null
  [Symbol.iterator](): IterableIterator<Row>
}

/** The row type of an asset declared with `table: RowSchema`. */
export type RowOf<T> = ValueOf<T> extends TableOf<infer Row> ? Row : never

/** Any asset, whatever its types. */
export type AnyAsset = Asset<string, unknown, unknown, unknown>

/** The value type of an asset. */
export type ValueOf<T> = T extends Asset<string, infer A, infer _R, infer _C> ? A : never
/** The resources an asset requires. */
export type RequirementsOf<T> = T extends Asset<string, infer _A, infer R, infer _C> ? R : never
/** The run configuration input of an asset (`never` when it takes none). */
export type ConfigOf<T> = T extends Asset<string, infer _A, infer _R, infer C> ? C : never

/** The partitions definition of an asset (`unknown` when it is not partitioned). */
export type PartitionsOf<T> = T extends Asset<string, infer _A, infer _R, infer _C, infer P> ? P : never

/**
 * What a body receives for one input: the upstream's value; for `streamOf(a)` an async iterable of
 * record batches; for `partitionsOf(a)` — and for any partitioned upstream of an unpartitioned
 * asset — a `PartitionedInput` of the upstream's values.
 */
export type InputValue<I, DownP> =
  I extends AssetInputOf<infer A, infer Mode>
    ? Mode extends "stream"
      ? AsyncIterable<RecordBatch>
      : Mode extends "many"
        ? PartitionedInput<ValueOf<A>>
        : ValueOf<A>
    : [DownP] extends [PartitionsDefinition]
      ? ValueOf<I>
      : [PartitionsOf<I>] extends [PartitionsDefinition]
        ? PartitionedInput<ValueOf<I>>
        : ValueOf<I>

/** The values a body receives: each input name typed as its upstream asset's value. */
export type InputValues<Ins, DownP = unknown> = { readonly [K in keyof Ins]: InputValue<Ins[K], DownP> }

/**
 * The value a body's result stands for: an Effect's success, a Promise's resolution, or itself —
 * without `skip(...)`, which produces no value.
 */
export type BodyValue<Out> = [Out] extends [never]
  ? never
  : Exclude<[Out] extends [Effect.Effect<infer A, infer _E, infer _R>] ? A : Awaited<Out>, Skip>
/** The resources a body's Effect requires. */
export type BodyRequirements<Out> = [Out] extends [never]
  ? never
  : [Out] extends [Effect.Effect<infer _A, infer _E, infer R>]
    ? R
    : never

type DecodedConfig<S> = S extends AnySchema ? S["Type"] : undefined
type ConfigInput<S> = S extends AnySchema ? S["Encoded"] : never

/** How a failing step is tried again. `attempts` counts every attempt, the first included. */
export interface RetryOptions {
  readonly attempts: number
  /** Default `exponential`. */
  readonly backoff?: "constant" | "linear" | "exponential" | undefined
  /** The first delay; default `1 second`. */
  readonly delay?: Duration.Input | undefined
  /** The longest delay; default `1 minute`. */
  readonly maxDelay?: Duration.Input | undefined
  /** Spread delays randomly between 50% and 150%. */
  readonly jitter?: boolean | undefined
  /** A custom Effect schedule instead of `backoff` (still bounded by `attempts`). */
  readonly schedule?: Schedule.Schedule<unknown, unknown> | undefined
}

/** Options of `asset(key, options, body)`. */
export interface AssetOptions<Ins, ConfigSchema, P = unknown> {
  /** Partitions the asset is materialized by: `dailyPartitions({ start })`, `staticPartitions([...])`, ... */
  readonly partitions?: P | undefined
  /**
   * `single-run`: a backfill of many partitions runs as ONE step that receives `ctx.partitionRange`
   * (for SQL-style assets that process a range at once). Default `per-partition`.
   */
  readonly backfill?: "per-partition" | "single-run" | undefined
  /** Upstream assets whose values the body receives, by input name. */
  readonly ins?: Ins | undefined
  /** Ordering-only upstream: assets or keys that must be materialized first (no value passed). */
  readonly deps?: ReadonlyArray<AnyAsset | string | readonly [string, ...Array<string>]> | undefined
  readonly description?: string | undefined
  readonly group?: string | undefined
  readonly tags?: Readonly<Record<string, string>> | undefined
  readonly owners?: ReadonlyArray<string> | undefined
  readonly metadata?: Readonly<Record<string, JsonValue>> | undefined
  /** Set it to control staleness by hand; by default a hash of the body's source and this definition. */
  readonly codeVersion?: string | undefined
  /** The compute class that runs the step; the project sets each pool's concurrency. */
  readonly pool?: string | undefined
  readonly retry?: RetryOptions | Schedule.Schedule<unknown, unknown> | undefined
  /** Interrupts the body (and aborts `ctx.signal`) after this long, e.g. `"30 minutes"`. */
  readonly timeout?: Duration.Input | undefined
  /** An effect Schema of the asset's run configuration, given at launch and validated. */
  readonly config?: ConfigSchema | undefined
  /** An effect Schema the returned value must satisfy before it is stored (non-table values). */
  readonly schema?: AnySchema | undefined
  /**
   * An effect Schema of ONE ROW (a `Schema.Struct`): the value must be an Arrow table whose columns
   * match it (names, types, nullability judged from actual nulls), checked before it is stored.
   */
  readonly table?: AnySchema | undefined
  /** The name of the project IO manager that stores the value (default `memory` / the project default). */
  readonly io?: string | undefined
  /**
   * How the IO manager stores this asset's table: `arrow` (an Arrow IPC stream) or `parquet`.
   * Default: the IO manager's own (`makeFsIOManager({ root, format })`). Naming one makes a value
   * that is not an Arrow table an error; the memory IO manager keeps values as they are.
   */
  readonly format?: "arrow" | "parquet" | undefined
  /** Run where the step ran, after it succeeded / failed / chose to skip. A failing hook is logged only. */
  readonly onSuccess?: StepHook | undefined
  readonly onFailure?: StepHook | undefined
  readonly onSkip?: StepHook | undefined
  /** Alerts sent when this step fails (a failed blocking check included), e.g. `webhookAlert({ url })`. */
  readonly alerts?: ReadonlyArray<Alert> | undefined
  /**
   * A freshness policy: the latest materialization should be at most `maxAge` old (e.g. "1 day").
   * `materia assets` reports an asset past it as overdue; it is not checked at materialization time.
   */
  readonly freshness?: { readonly maxAge: Duration.Input } | undefined
}

/** A step hook: learns the step's outcome; may return a Promise or an Effect. */
export type StepHook = (info: StepHookInfo) => void | Promise<void> | Effect.Effect<void, unknown>

/** The body of an asset: its inputs and context in, a value, a Promise or an Effect out. */
export type AssetBody<Ins, ConfigSchema, Out, P = unknown> = (
  inputs: InputValues<Ins, P>,
  context: BodyContext<DecodedConfig<ConfigSchema>, P>
) => Out

/**
 * What a body's context holds: run, asset, logger, metadata, typed config, abort signal — and for a
 * partitioned asset `ctx.partition` typed by its definition (an unpartitioned body has none).
 */
export type BodyContext<Config, P> = Omit<AssetContext<Config>, "partition" | "partitionRange"> &
  PartitionContextOf<P>

/**
 * Returned by a body that decides not to produce a value (a conditional branch): the step and its
 * downstream are skipped with `reason`, and the run is not a failure.
 *
 * @example
 * const deploy = asset("deploy", { ins: { report } }, ({ report }) =>
 *   report.accuracy > 0.9 ? pushModel(report) : skip(`accuracy ${report.accuracy} ≤ 0.9`))
 */
export const skip = (reason: string): Skip => new Skip(reason)

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

/** Runs a user function that may return a value, a Promise or an Effect, as an Effect. */
export const fromUserFunction =
  <I, Ctx>(fn: (inputs: I, context: Ctx) => unknown) =>
  (inputs: I, context: Ctx): Effect.Effect<unknown, unknown, never> =>
    Effect.suspend(() => {
      const out = fn(inputs, context)
      if (Effect.isEffect(out)) return out as Effect.Effect<unknown, unknown, never>
      if (isPromiseLike(out)) return Effect.tryPromise({ try: () => Promise.resolve(out), catch: (e) => e })
      return Effect.succeed(out)
    })

const toMillis = (input: Duration.Input, what: string, key: string): number => {
  let millis: number
  try {
    millis = Duration.toMillis(Duration.fromInputUnsafe(input))
  } catch {
    throw new TypeError(
      `asset "${key}": ${what} ${JSON.stringify(input)} is not a duration; write e.g. "30 minutes"`
    )
  }
  if (!(millis >= 0) || Number.isNaN(millis))
    throw new TypeError(`asset "${key}": ${what} must be a positive duration, found ${JSON.stringify(input)}`)
  return millis
}

const retrySpec = (key: string, retry: AssetOptions<unknown, unknown>["retry"]): RetrySpec => {
  if (retry === undefined) return noRetry
  if (Schedule.isSchedule(retry)) return { ...noRetry, attempts: Number.POSITIVE_INFINITY }
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1)
    throw new TypeError(
      `asset "${key}": retry.attempts counts every attempt and must be an integer ≥ 1, found ${String(retry.attempts)}`
    )
  const backoff = retry.backoff ?? "exponential"
  if (!["constant", "linear", "exponential"].includes(backoff))
    throw new TypeError(
      `asset "${key}": retry.backoff must be constant, linear or exponential, found "${backoff}"`
    )
  return {
    attempts: retry.attempts,
    backoff,
    delayMillis: retry.delay === undefined ? 1000 : toMillis(retry.delay, "retry.delay", key),
    maxDelayMillis: retry.maxDelay === undefined ? 60_000 : toMillis(retry.maxDelay, "retry.maxDelay", key),
    jitter: retry.jitter ?? false
  }
}

const hookEffect =
  (hook: StepHook) =>
  (info: StepHookInfo): Effect.Effect<void, unknown> =>
    Effect.asVoid(fromUserFunction((i: StepHookInfo, _: undefined) => hook(i))(info, undefined))

/** Sends each alert about a failed step, recording every delivery as an event. */
const alertHook =
  (alerts: ReadonlyArray<Alert>) =>
  (info: StepHookInfo): Effect.Effect<void> =>
    Effect.forEach(
      alerts,
      (alert) =>
        Effect.map(
          Effect.flatMap(Clock.currentTimeMillis, (at) =>
            alert.send({
              version: 1,
              kind: "step",
              project: info.project,
              runId: info.runId,
              status: info.status,
              assetKey: info.assetKey,
              ...(info.error === undefined ? {} : { error: alertErrorOf(info.error) }),
              durationMillis: Math.max(0, info.durationMillis),
              at
            })
          ),
          (outcome) => info.recordAlert({ alert: alert.name, ...outcome })
        ),
      { discard: true }
    )

const stepHooks = (options: AssetOptions<unknown, unknown>): StepHooks | undefined => {
  const alerts = options.alerts ?? []
  const onFailure = options.onFailure === undefined ? undefined : hookEffect(options.onFailure)
  const hooks: StepHooks = {
    onSuccess: options.onSuccess === undefined ? undefined : hookEffect(options.onSuccess),
    onSkip: options.onSkip === undefined ? undefined : hookEffect(options.onSkip),
    onFailure:
      alerts.length === 0
        ? onFailure
        : (info) =>
            Effect.andThen(alertHook(alerts)(info), onFailure === undefined ? Effect.void : onFailure(info))
  }
  return hooks.onSuccess === undefined && hooks.onSkip === undefined && hooks.onFailure === undefined
    ? undefined
    : hooks
}

const depKey = (dep: AnyAsset | string | readonly [string, ...Array<string>]): string =>
  typeof dep === "object" && "key" in dep ? dep.key : assetKeyToString(dep as AssetKeyInput)

const isAsset = (u: unknown): u is AnyAsset =>
  typeof u === "object" && u !== null && "spec" in u && "executable" in u && "key" in u

const tableValidator = (key: string, rowSchema: AnySchema) => {
  // Throws InvalidRowSchema now, at definition time, for a row schema with no Arrow mapping.
  expectedColumns(rowSchema)
  const expected = Object.entries(rowSchemaToArrowDescription(rowSchema))
    .map(([column, type]) => `${column}: ${type}`)
    .join(", ")
  return (value: unknown): Effect.Effect<unknown, OutputValidationError> => {
    if (!isArrowTable(value))
      return Effect.fail(
        new OutputValidationError({
          assetKey: key,
          expected: `an Arrow table with columns ${expected}`,
          issues: `the body returned ${value === null ? "null" : typeof value}; return an Apache Arrow Table (e.g. tableFromArrays)`
        })
      )
    const result = validateTable(rowSchema, value as unknown as Parameters<typeof validateTable>[1])
    return result.ok
      ? Effect.succeed(value)
      : Effect.fail(
          new OutputValidationError({
            assetKey: key,
            expected: "its table row schema",
            issues: `\n  ${result.diff.join("\n  ")}`
          })
        )
  }
}

const outputValidator = (key: string, options: AssetOptions<unknown, unknown>) => {
  if (options.table !== undefined && options.schema !== undefined)
    throw new TypeError(
      `asset "${key}": give either table (a row schema for an Arrow table) or schema (for other values), not both`
    )
  if (options.table !== undefined) return tableValidator(key, options.table)
  return options.schema === undefined ? undefined : schemaValidator(key, options.schema)
}

const schemaValidator = (key: string, schema: AnySchema) => {
  const decode = Schema.decodeUnknownEffect(schema)
  return (value: unknown) =>
    Effect.mapError(
      decode(value),
      (issue) => new OutputValidationError({ assetKey: key, expected: "its schema", issues: String(issue) })
    )
}

const partitionsOption = (key: string, given: unknown): PartitionsDefinition | undefined => {
  if (given === undefined) return undefined
  if (
    typeof given !== "object" ||
    given === null ||
    !("spec" in given) ||
    !("keys" in given) ||
    typeof (given as { keys: unknown }).keys !== "function"
  )
    throw new TypeError(
      `asset "${key}": partitions must be a partitions definition (dailyPartitions({ start }), staticPartitions([...]), dynamicPartitions(name), multiPartitions({...})), found ${typeof given}`
    )
  return given as PartitionsDefinition
}

/**
 * Checks, when the asset is defined, that an input can be read partition by partition and that its
 * wrapper matches what the body will receive (one value, or a PartitionedInput of several).
 */
const checkPartitionInput = (
  key: string,
  name: string,
  downstream: PartitionsDefinition["spec"] | undefined,
  upstream: AnyAsset,
  mode: "plain" | "stream" | "many" | "value",
  mapping: PartitionMappingSpec | undefined
): void => {
  const up = upstream.spec.partitions
  if (up === undefined) {
    if (mode === "many" || mapping !== undefined)
      throw new TypeError(
        `asset "${key}": input ${name} reads "${upstream.key}" through a partition mapping, but "${upstream.key}" is not partitioned; pass the asset itself`
      )
    return
  }
  if (downstream !== undefined) {
    const problem = mappingProblem(downstream, up, mapping)
    if (problem !== undefined)
      throw new InvalidPartitionMapping({ downstream: key, upstream: upstream.key, reason: problem })
  }
  if (mode === "plain" || mode === "stream") {
    if (downstream !== undefined && readsManyPartitions(downstream, up, mapping))
      throw new TypeError(
        `asset "${key}": each of its partitions reads several partitions of "${upstream.key}"; declare the input as partitionsOf(${upstream.key.replaceAll("/", "_")}) to receive them all`
      )
    return
  }
  if (mode === "value" && readsManyPartitions(downstream, up, mapping))
    throw new TypeError(
      `asset "${key}": input ${name} maps to several partitions of "${upstream.key}"; use partitionsOf(...) instead of mapped(...)`
    )
}

/**
 * Defines an asset: a named, persisted value computed by `body` from the values of `ins`.
 *
 * @example
 * const orders = asset("orders", {}, () => loadOrders())
 * const features = asset("features", { ins: { orders }, group: "ml" }, ({ orders }) => buildFeatures(orders))
 * const model = asset(["ml", "model"], { ins: { features }, pool: "gpu", timeout: "30 minutes" },
 *   ({ features }, ctx) => Effect.gen(function* () {
 *     const trainer = yield* Trainer
 *     ctx.log.info("training")
 *     return yield* trainer.fit(features)
 *   }))
 */
export function asset<
  const K extends AssetKeyInput,
  const Ins extends Readonly<Record<string, AnyAsset | AnyInput>> = {},
  Out = unknown,
  ConfigSchema extends AnySchema | undefined = undefined,
  RowSchema extends AnySchema | undefined = undefined,
  P extends PartitionsDefinition | undefined = undefined
>(
  key: K,
  options: AssetOptions<Ins, ConfigSchema, P> & { readonly table?: RowSchema },
  body: AssetBody<Ins, ConfigSchema, Out, P extends PartitionsDefinition ? P : unknown>
): Asset<
  AssetKeyString<K>,
  RowSchema extends AnySchema ? TableOf<RowSchema["Type"]> : BodyValue<Out>,
  BodyRequirements<Out>,
  ConfigInput<ConfigSchema>,
  P extends PartitionsDefinition ? P : unknown
> {
  const canonical = assetKeyToString(key)
  if (typeof options !== "object" || options === null)
    throw new TypeError(
      `asset "${canonical}": expected an options object as the second argument, found ${typeof options}`
    )
  if (typeof body !== "function")
    throw new TypeError(
      `asset "${canonical}": expected a body function as the third argument, found ${typeof body}`
    )
  const partitions = partitionsOption(canonical, options.partitions)
  const ins = (options.ins ?? {}) as Readonly<Record<string, unknown>>
  const inputs = Object.entries(ins).map(([name, given]) => {
    const wrapper = isAssetInput(given) ? given : undefined
    const upstream = wrapper === undefined ? given : wrapper.asset
    if (!isAsset(upstream))
      throw new TypeError(
        `asset "${canonical}": input "${name}" must be an asset (made by asset() or sourceAsset()) or streamOf/partitionsOf/mapped of one, found ${typeof upstream}`
      )
    const mode = wrapper?.["~input"] ?? "plain"
    const mapping = wrapper?.mapping
    checkPartitionInput(canonical, name, partitions?.spec, upstream, mode, mapping)
    return {
      name,
      key: upstream.key,
      ...(mode === "stream" ? { mode: "stream" as const } : {}),
      ...(mapping === undefined ? {} : { mapping })
    }
  })
  const deps = (options.deps ?? []).map(depKey)
  for (const dep of options.deps ?? [])
    if (isAsset(dep))
      checkPartitionInput(canonical, `dependency ${dep.key}`, partitions?.spec, dep, "plain", undefined)
  if (
    options.backfill !== undefined &&
    options.backfill !== "per-partition" &&
    options.backfill !== "single-run"
  )
    throw new TypeError(
      `asset "${canonical}": backfill must be "per-partition" or "single-run", found ${JSON.stringify(options.backfill)}`
    )
  if (options.backfill === "single-run" && partitions === undefined)
    throw new TypeError(
      `asset "${canonical}": backfill: "single-run" needs partitions; add a partitions option or drop it`
    )
  const timeoutMillis =
    options.timeout === undefined ? undefined : toMillis(options.timeout, "timeout", canonical)
  const retry = retrySpec(canonical, options.retry)
  if (options.format !== undefined && options.format !== "arrow" && options.format !== "parquet")
    throw new TypeError(
      `asset "${canonical}": format must be "arrow" or "parquet", found ${JSON.stringify(options.format)}`
    )
  const definition = {
    key: canonical,
    inputs,
    deps,
    pool: options.pool ?? DEFAULT_POOL,
    io: options.io ?? "default",
    format: options.format,
    config: options.config !== undefined,
    schema: options.schema !== undefined,
    partitions: partitions?.spec,
    backfill: options.backfill
  }
  const spec: AssetSpec = {
    key: canonical,
    kind: "asset",
    inputs,
    deps,
    description: options.description,
    group: options.group ?? DEFAULT_GROUP,
    tags: options.tags ?? {},
    owners: options.owners ?? [],
    metadata: options.metadata ?? {},
    codeVersion: options.codeVersion ?? automaticCodeVersion(body, definition),
    codeVersionSource: options.codeVersion === undefined ? "automatic" : "user",
    pool: definition.pool,
    retry,
    timeoutMillis,
    ioManager: definition.io,
    format: options.format,
    hasConfig: options.config !== undefined,
    freshnessMillis:
      options.freshness === undefined
        ? undefined
        : toMillis(options.freshness.maxAge, "freshness.maxAge", canonical),
    ...(partitions === undefined ? {} : { partitions: partitions.spec }),
    ...(options.backfill === "single-run" ? { singleRunBackfill: true } : {}),
    definedIn: definitionSite()
  }
  const run = fromUserFunction(body as (inputs: Record<string, unknown>, context: StepContext) => unknown)
  const hooks = stepHooks(options)
  return {
    key: canonical as AssetKeyString<K>,
    spec,
    partitions: partitions as P extends PartitionsDefinition ? P : undefined,
    executable: {
      spec,
      run: run as ExecutableAsset<BodyRequirements<Out>>["run"],
      retrySchedule:
        options.retry !== undefined && Schedule.isSchedule(options.retry) ? options.retry : undefined,
      validate: outputValidator(canonical, options),
      hooks
    },
    configSchema: options.config,
    observe: undefined
  }
}

/** Options of `sourceAsset(key, options)`. */
export interface SourceAssetOptions<A> {
  /** Loads the current value when a downstream step needs it. */
  readonly load: (context: AssetContext) => A | Promise<A> | Effect.Effect<A, unknown>
  /**
   * Returns the current data version (an ETag, a modification time, a row count...). A changed
   * version makes downstream assets stale. Without it, the source never makes anything stale.
   */
  readonly observe?:
    | ((context: AssetContext) => string | Promise<string> | Effect.Effect<string, unknown>)
    | undefined
  readonly description?: string | undefined
  readonly group?: string | undefined
  readonly tags?: Readonly<Record<string, string>> | undefined
  readonly owners?: ReadonlyArray<string> | undefined
  readonly metadata?: Readonly<Record<string, JsonValue>> | undefined
}

/**
 * Declares data produced outside Materia: loaded by `load`, versioned by `observe`, never computed.
 *
 * @example
 * const rawExport = sourceAsset("raw_export", {
 *   load: () => readFile("export.json", "utf8").then(JSON.parse),
 *   observe: async () => (await stat("export.json")).mtimeMs.toString()
 * })
 */
export function sourceAsset<const K extends AssetKeyInput, A>(
  key: K,
  options: SourceAssetOptions<A>
): Asset<AssetKeyString<K>, Awaited<A>, never, never> {
  const canonical = assetKeyToString(key)
  if (typeof options?.load !== "function")
    throw new TypeError(`source asset "${canonical}": expected a load function in its options`)
  const spec: AssetSpec = {
    key: canonical,
    kind: "source",
    inputs: [],
    deps: [],
    description: options.description,
    group: options.group ?? DEFAULT_GROUP,
    tags: options.tags ?? {},
    owners: options.owners ?? [],
    metadata: options.metadata ?? {},
    codeVersion: automaticCodeVersion(options.load, { key: canonical, source: true }),
    codeVersionSource: "automatic",
    pool: DEFAULT_POOL,
    retry: noRetry,
    timeoutMillis: undefined,
    ioManager: "default",
    hasConfig: false,
    definedIn: definitionSite()
  }
  const load = fromUserFunction((_: Record<string, unknown>, context: StepContext) => options.load(context))
  const observe = options.observe
  return {
    key: canonical as AssetKeyString<K>,
    spec,
    executable: { spec, run: load },
    configSchema: undefined,
    observe:
      observe === undefined
        ? undefined
        : (context) =>
            Effect.flatMap(
              fromUserFunction((_: undefined, c: AssetContext) => observe(c))(undefined, context),
              (v) =>
                typeof v === "string"
                  ? Effect.succeed(v)
                  : Effect.fail(
                      new TypeError(
                        `source asset "${canonical}": observe must return a string version, found ${typeof v}`
                      )
                    )
            )
  }
}
