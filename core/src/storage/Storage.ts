/**
 * The metadata store: runs, the event log, and the latest materialization of every asset. One small
 * interface, implemented in memory here and by SQLite and PostgreSQL; every implementation passes
 * StorageSuite. Events are the source of truth: `append` records them and, in the same
 * transaction, the projections derived from them (run status, latest materialization, last attempt).
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { BackfillRecord } from "../backfill/BackfillRecord.ts"
import type { CheckEvaluatedEvent, RunEvent, RunStatus } from "../events/RunEvent.ts"
import type { JsonValue } from "../graph/AssetSpec.ts"
import type { ValueHandle } from "../io/IOManager.ts"
import type { AssetState, MaterializationSummary } from "../plan/Snapshot.ts"

/** The committed current value of an asset: a materialization (or a source observation). */
export interface MaterializationRecord extends MaterializationSummary {
  readonly key: string
  readonly runId: string
  readonly at: number
  /** `null` for a body that returned nothing, and for source observations. */
  readonly handle: ValueHandle | null
  /** The materialization's metadata (rows, bytes, schema, user entries). */
  readonly metadata?: Readonly<Record<string, JsonValue>> | undefined
}

/** The latest result of one check of an asset (persisted: it has a Schema). */
export const CheckRecord = Schema.Struct({
  check: Schema.String,
  passed: Schema.Boolean,
  severity: Schema.Literals(["warn", "error"]),
  blocking: Schema.Boolean,
  message: Schema.optionalKey(Schema.String),
  metadata: Schema.Record(Schema.String, Schema.Json),
  dataVersion: Schema.String,
  runId: Schema.String,
  at: Schema.Number
})
export type CheckRecord = typeof CheckRecord.Type

/** The check record a CheckEvaluated event leaves in the projection. */
export const checkRecordOf = (event: CheckEvaluatedEvent): CheckRecord => ({
  check: event.check,
  passed: event.passed,
  severity: event.severity,
  blocking: event.blocking,
  ...(event.message === undefined ? {} : { message: event.message }),
  metadata: event.metadata,
  dataVersion: event.dataVersion,
  runId: event.runId,
  at: event.at
})

/** Stored state of one asset, as the planner and `materia assets` read it. */
export interface StoredAssetState extends AssetState {
  readonly latest?: MaterializationRecord | undefined
  /** The latest result of each of its checks, by check name order. */
  readonly checks?: ReadonlyArray<CheckRecord> | undefined
}

/** Stored state of one partition of a partitioned asset. */
export interface StoredPartitionState extends StoredAssetState {
  readonly partition: string
}

/** Which stored partitions of an asset to read: some keys, or a page in key order. */
export interface PartitionQuery {
  /** Only these partition keys (absent ones are not returned). */
  readonly only?: ReadonlyArray<string> | undefined
  /** Keys strictly after this one, in key (text) order. */
  readonly after?: string | undefined
  readonly limit?: number | undefined
}

export interface RunRecord {
  readonly runId: string
  readonly project: string
  readonly status: RunStatus
  readonly startedAt: number
  readonly endedAt?: number | undefined
}

/** An event as stored: its position in the run's log, then the event. */
export interface StoredEvent {
  readonly seq: number
  readonly event: RunEvent
}

/** A store that failed; `retryable` when trying again may succeed (a busy database, a lost connection). */
export class StorageError extends Data.TaggedError("StorageError")<{
  readonly reason: "Unavailable" | "Busy" | "Corrupt" | "Conflict" | "Unknown"
  readonly message: string
  readonly retryable: boolean
  readonly cause?: unknown
}> {}

export interface StorageApi {
  /** Appends events of one project's runs in one transaction, with their projections. */
  readonly append: (project: string, events: ReadonlyArray<RunEvent>) => Effect.Effect<void, StorageError>
  /** Latest state of the given assets (every recorded asset when `keys` is omitted). */
  readonly snapshot: (
    project: string,
    keys?: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyMap<string, StoredAssetState>, StorageError>
  /** Runs of a project, newest first. */
  readonly runs: (
    project: string,
    options?: { readonly limit?: number }
  ) => Effect.Effect<ReadonlyArray<RunRecord>, StorageError>
  /** Events of a run in order, after `afterSeq` (exclusive), at most `limit`. */
  readonly events: (
    runId: string,
    options?: { readonly afterSeq?: number; readonly limit?: number }
  ) => Effect.Effect<ReadonlyArray<StoredEvent>, StorageError>
  /**
   * Events of a project's runs with one of these tags (of one asset when `key` is given), newest
   * first: materialization history, retention.
   */
  readonly eventsByTag: (
    project: string,
    tags: ReadonlyArray<RunEvent["_tag"]>,
    options?: { readonly key?: string | undefined; readonly limit?: number | undefined }
  ) => Effect.Effect<ReadonlyArray<StoredEvent>, StorageError>
  /**
   * Deletes runs that have ended (a running run is never deleted): their records and events. What
   * they materialized stays current. Returns how many runs were deleted.
   */
  readonly deleteRuns: (project: string, runIds: ReadonlyArray<string>) => Effect.Effect<number, StorageError>
  /** Forgets the materializations and failures of these assets (and their partitions); returns how many were recorded. */
  readonly wipe: (project: string, keys: ReadonlyArray<string>) => Effect.Effect<number, StorageError>
  /** Stored state of the partitions of one asset, in partition key order. */
  readonly partitions: (
    project: string,
    key: string,
    query?: PartitionQuery
  ) => Effect.Effect<ReadonlyArray<StoredPartitionState>, StorageError>
  /** How many partitions of the asset have stored state, and how many of them are materialized. */
  readonly partitionCounts: (
    project: string,
    key: string
  ) => Effect.Effect<
    { readonly stored: number; readonly materialized: number; readonly failed: number },
    StorageError
  >
  /** The keys of a dynamic partitions definition, in the order they were added. */
  readonly dynamicPartitions: (
    project: string,
    definition: string
  ) => Effect.Effect<ReadonlyArray<string>, StorageError>
  /** Adds keys (those already there are left alone); returns how many were new. */
  readonly addDynamicPartitions: (
    project: string,
    definition: string,
    keys: ReadonlyArray<string>
  ) => Effect.Effect<number, StorageError>
  /** Deletes keys; returns how many were there. Stored values of those partitions stay recorded. */
  readonly deleteDynamicPartitions: (
    project: string,
    definition: string,
    keys: ReadonlyArray<string>
  ) => Effect.Effect<number, StorageError>
  /** Creates or replaces a backfill record. */
  readonly saveBackfill: (record: BackfillRecord) => Effect.Effect<void, StorageError>
  readonly backfill: (backfillId: string) => Effect.Effect<BackfillRecord | undefined, StorageError>
  /** Backfills of a project, newest first. */
  readonly backfills: (
    project: string,
    options?: { readonly limit?: number }
  ) => Effect.Effect<ReadonlyArray<BackfillRecord>, StorageError>
}

/** The metadata store service. */
export class Storage extends Context.Service<Storage, StorageApi>()("materia/Storage") {}
