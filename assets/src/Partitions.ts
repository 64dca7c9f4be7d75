/**
 * Partitions in the DSL: definitions (time windows, static, dynamic, multi-dimensional), mappings
 * between assets' partitions, the input wrappers that say how a body receives an upstream
 * (`streamOf`, `partitionsOf`, `mapped`), and the typed `ctx.partition` of a partitioned body.
 *
 * @example
 * const days = dailyPartitions({ start: "2026-01-01", timezone: "Europe/Berlin" })
 * const events = asset("events", { partitions: days }, (_, ctx) => fetchDay(ctx.partition.start))
 * const monthly = asset("monthly", { partitions: monthlyPartitions({ start: "2026-01" }),
 *   ins: { days: partitionsOf(events) } }, async ({ days }) => summarize(days.batches()))
 */
import {
  type DynamicPartitions,
  type MultiPartitions,
  type PartitionMappingSpec,
  type PartitionsDefinition,
  type StaticPartitions,
  type TimeWindowOptions,
  type TimeWindowPartitions,
  timeWindowPartitions
} from "@materia/core"
import type { AnyAsset } from "./Asset.ts"

export {
  dynamicPartitions,
  multiPartitions,
  type PartitionedInput,
  type PartitionMappingSpec,
  type PartitionsDefinition,
  staticPartitions,
  timeWindowPartitions
} from "@materia/core"

type CadenceOptions = Omit<TimeWindowOptions, "cadence">

/** One partition per hour: keys `2026-01-31T13`. */
export const hourlyPartitions = (options: CadenceOptions): TimeWindowPartitions =>
  timeWindowPartitions({ ...options, cadence: "hourly" })
/** One partition per day: keys `2026-01-31`. */
export const dailyPartitions = (options: CadenceOptions): TimeWindowPartitions =>
  timeWindowPartitions({ ...options, cadence: "daily" })
/** One partition per week, keyed by its first day: `2026-01-26`. */
export const weeklyPartitions = (options: CadenceOptions): TimeWindowPartitions =>
  timeWindowPartitions({ ...options, cadence: "weekly" })
/** One partition per month: keys `2026-01`. */
export const monthlyPartitions = (options: CadenceOptions): TimeWindowPartitions =>
  timeWindowPartitions({ ...options, cadence: "monthly" })

/** The same key upstream (the default between equal definitions). */
export const identityMapping = (): PartitionMappingSpec => ({ kind: "identity" })
/** Every upstream partition (the default for an unpartitioned downstream). */
export const allPartitions = (): PartitionMappingSpec => ({ kind: "all" })
/** The upstream windows overlapping the downstream window (the default between time windows). */
export const timeWindowMapping = (): PartitionMappingSpec => ({ kind: "timeWindow" })
/** The same-cadence window `offset` steps away: `offsetMapping(-1)` is yesterday's partition. */
export const offsetMapping = (offset: number): PartitionMappingSpec => ({ kind: "offset", offset })
/** Partitions whose `dimension` key matches (a multi-dimensional side and a single-dimension side). */
export const dimensionMapping = (dimension: string): PartitionMappingSpec => ({
  kind: "dimension",
  dimension
})

/** How a body receives an upstream: an input wrapper made by `streamOf`, `partitionsOf` or `mapped`. */
export interface AssetInputOf<A extends AnyAsset, Mode extends "stream" | "many" | "value"> {
  readonly "~input": Mode
  readonly asset: A
  readonly mapping?: PartitionMappingSpec | undefined
}

/** Any input wrapper. */
export type AnyInput = AssetInputOf<AnyAsset, "stream" | "many" | "value">

/** The upstream table as an async iterable of Arrow record batches, read from storage batch by batch. */
export const streamOf = <A extends AnyAsset>(asset: A): AssetInputOf<A, "stream"> => ({
  "~input": "stream",
  asset
})

/**
 * Several upstream partitions (all of them, or those the mapping gives: the days of a month) as a
 * `PartitionedInput`: keys, values loaded on demand, tables as one lazy batch stream.
 */
export const partitionsOf = <A extends AnyAsset>(
  asset: A,
  mapping?: PartitionMappingSpec
): AssetInputOf<A, "many"> => ({ "~input": "many", asset, ...(mapping === undefined ? {} : { mapping }) })

/** One upstream partition chosen by `mapping` (e.g. `mapped(events, offsetMapping(-1))`: yesterday's). */
export const mapped = <A extends AnyAsset>(
  asset: A,
  mapping: PartitionMappingSpec
): AssetInputOf<A, "value"> => ({
  "~input": "value",
  asset,
  mapping
})

export const isAssetInput = (u: unknown): u is AnyInput =>
  typeof u === "object" && u !== null && "~input" in u && "asset" in u

/** A time window partition as a body sees it. */
export interface TimeWindowPartition {
  readonly key: string
  readonly start: Date
  readonly end: Date
}

/** A multi-dimensional partition as a body sees it (`start`/`end`: its time dimension's window, if any). */
export interface MultiPartition<Names extends string = string> {
  readonly key: string
  /** The key of each dimension, by dimension name. */
  readonly dimensions: { readonly [N in Names]: string }
  readonly start?: Date | undefined
  readonly end?: Date | undefined
}

/** The range of a single-run backfill step. */
export interface PartitionRange {
  readonly keys: ReadonlyArray<string>
  readonly from: string
  readonly to: string
  readonly start?: Date | undefined
  readonly end?: Date | undefined
}

/** What a partitioned body's context adds: `ctx.partition` typed by the asset's definition. */
export type PartitionContextOf<P> = [P] extends [TimeWindowPartitions]
  ? { readonly partition: TimeWindowPartition; readonly partitionRange?: PartitionRange | undefined }
  : [P] extends [MultiPartitions<infer Names>]
    ? { readonly partition: MultiPartition<Names>; readonly partitionRange?: PartitionRange | undefined }
    : [P] extends [StaticPartitions | DynamicPartitions]
      ? { readonly partition: { readonly key: string }; readonly partitionRange?: PartitionRange | undefined }
      : unknown

/** Whether a type is a partitions definition (an asset's partitions type parameter). */
export type IsPartitioned<P> = [P] extends [PartitionsDefinition] ? true : false
