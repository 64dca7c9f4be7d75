/**
 * The serializable definition of an asset: everything the graph, the planner and the server need,
 * without the body. The DSL (`@materia/assets`) produces one per asset; compute lives beside it.
 */

import type { PartitionsSpec } from "../partition/PartitionsDefinition.ts"

/** A JSON value: what specs, metadata and events may carry. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | ReadonlyArray<JsonValue>
  | { readonly [k: string]: JsonValue }

/** One value input: the body's parameter `name` receives the value of asset `key`. */
export interface AssetInput {
  readonly name: string
  readonly key: string
  /** `stream`: the body receives the upstream table as an async iterable of record batches. */
  readonly mode?: "value" | "stream" | undefined
  /** How this asset's partitions map to the upstream's; unset: the default for the two definitions. */
  readonly mapping?: PartitionMappingSpec | undefined
}

/**
 * How a downstream partition depends on upstream partitions (JSON, so specs stay data):
 * `identity` (same key), `all` (every upstream partition), `timeWindow` (the upstream windows that
 * overlap the downstream window: daily → monthly and back), `offset` (the partition `offset` windows
 * earlier or later: -1 is yesterday), `dimension` (one dimension of a multi-partitioned upstream or
 * downstream matches the other side's key).
 */
export type PartitionMappingSpec =
  | { readonly kind: "identity" }
  | { readonly kind: "all" }
  | { readonly kind: "timeWindow" }
  | { readonly kind: "offset"; readonly offset: number }
  | { readonly kind: "dimension"; readonly dimension: string }

/** How a failing step is retried. `attempts` counts every attempt (1 = no retry). */
export interface RetrySpec {
  readonly attempts: number
  readonly backoff: "constant" | "linear" | "exponential"
  readonly delayMillis: number
  readonly maxDelayMillis: number
  readonly jitter: boolean
}

/** No retry: one attempt. */
export const noRetry: RetrySpec = {
  attempts: 1,
  backoff: "exponential",
  delayMillis: 1000,
  maxDelayMillis: 60_000,
  jitter: false
}

/** The definition of one asset or source asset, as data. */
export interface AssetSpec {
  readonly key: string
  /** `asset` is computed by Materia; `source` is produced elsewhere and only observed. */
  readonly kind: "asset" | "source"
  readonly inputs: ReadonlyArray<AssetInput>
  /** Ordering-only upstream keys: no value passed, but staleness still follows them. */
  readonly deps: ReadonlyArray<string>
  readonly description?: string | undefined
  readonly group: string
  readonly tags: Readonly<Record<string, string>>
  readonly owners: ReadonlyArray<string>
  readonly metadata: Readonly<Record<string, JsonValue>>
  /** The user's `codeVersion`, or a hash of the body's source and this definition. */
  readonly codeVersion: string
  readonly codeVersionSource: "user" | "automatic"
  readonly pool: string
  readonly retry: RetrySpec
  readonly timeoutMillis?: number | undefined
  /** The name of the IO manager that stores this asset's values. */
  readonly ioManager: string
  /** How its IO manager stores the table this asset produces; unset: the IO manager's default. */
  readonly format?: "arrow" | "parquet" | undefined
  readonly hasConfig: boolean
  /** The freshness policy: the latest materialization should be at most this old. */
  readonly freshnessMillis?: number | undefined
  /** How the asset is partitioned (a `PartitionsDefinition` spec); unset: not partitioned. */
  readonly partitions?: PartitionsSpec | undefined
  /** One step receives a whole partition range (`ctx.partitionRange`) instead of one step per partition. */
  readonly singleRunBackfill?: boolean | undefined
  /** The source file (absolute path) whose code defined the asset, for `changed-since:` selections. */
  readonly definedIn?: string | undefined
}

/** The default group and pool of an asset that names none. */
export const DEFAULT_GROUP = "default"
export const DEFAULT_POOL = "default"
