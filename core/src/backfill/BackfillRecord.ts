/**
 * A backfill as storage keeps it: what was asked (a selection and partitions), by which process,
 * how far it got, and the runs it launched. The driving process beats `heartbeatAt`; a `running`
 * backfill whose heartbeat is older than the timeout is dead and can be resumed by another process.
 */
import * as Schema from "effect/Schema"

/** `queued`: recorded for the daemon to run (`materia backfill --queue`); the rest as their names say. */
export const BackfillStatus = Schema.Literals(["queued", "running", "succeeded", "failed", "canceled"])
export type BackfillStatus = typeof BackfillStatus.Type

/** Step counts of a backfill (one step = one asset × partition, or one range for single-run assets). */
export const BackfillProgress = Schema.Struct({
  total: Schema.Number,
  succeeded: Schema.Number,
  failed: Schema.Number,
  skipped: Schema.Number,
  canceled: Schema.Number,
  running: Schema.Number,
  /** Requested partitions that were already fresh and did not run. */
  fresh: Schema.Number
})
export type BackfillProgress = typeof BackfillProgress.Type

export const BackfillRecord = Schema.Struct({
  backfillId: Schema.String,
  project: Schema.String,
  status: BackfillStatus,
  /** The selection, as typed (`daily_features+`). */
  select: Schema.String,
  /** The partitions, as typed (`2026-01-01...2026-01-31`, `a,b`, `date=...;region=eu`). */
  partitions: Schema.String,
  onlyStale: Schema.Boolean,
  concurrency: Schema.Number,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  heartbeatAt: Schema.Number,
  endedAt: Schema.optionalKey(Schema.Number),
  driver: Schema.optionalKey(Schema.Struct({ host: Schema.String, pid: Schema.Number })),
  runIds: Schema.Array(Schema.String),
  progress: BackfillProgress,
  /** Why it ended as it did, when no step says it (canceled by a user, its driver died). */
  reason: Schema.optionalKey(Schema.String)
})
export type BackfillRecord = typeof BackfillRecord.Type

/** A backfill is shown as dead when its driver has not beaten for this long. */
export const BACKFILL_HEARTBEAT_TIMEOUT_MILLIS = 30_000

/** `running` with a stale heartbeat: its driver stopped (crashed, killed) without recording an end. */
export const isBackfillDead = (
  record: BackfillRecord,
  now: number,
  timeoutMillis = BACKFILL_HEARTBEAT_TIMEOUT_MILLIS
) => record.status === "running" && now - record.heartbeatAt > timeoutMillis
