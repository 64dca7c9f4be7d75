/**
 * Run events: the source of truth of every run. The executor appends them; run and asset status
 * are folds over them (RunView); reporters, the UI stream and storage are subscribers. Each event
 * has a Schema, so stores persist and servers send exactly these shapes.
 */
import * as Schema from "effect/Schema"
import { ValueHandle } from "../io/IOManager.ts"

/** An error as recorded in events: tag, message, the user's stack, and whether it was retryable. */
export const ErrorInfo = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  stack: Schema.optionalKey(Schema.String),
  retryable: Schema.optionalKey(Schema.Boolean)
})
export type ErrorInfo = typeof ErrorInfo.Type

const StringRecord = Schema.Record(Schema.String, Schema.String)

export const RunStatus = Schema.Literals(["running", "succeeded", "failed", "canceled"])
export type RunStatus = typeof RunStatus.Type

export const RunStarted = Schema.TaggedStruct("RunStarted", {
  runId: Schema.String,
  at: Schema.Number,
  project: Schema.String,
  targets: Schema.Array(Schema.String),
  steps: Schema.Array(
    Schema.Struct({
      key: Schema.String,
      partition: Schema.optionalKey(Schema.String),
      reasons: Schema.Array(Schema.String)
    })
  ),
  /** The process driving the run, so that a later process can tell it died. */
  driver: Schema.optionalKey(Schema.Struct({ host: Schema.String, pid: Schema.Number })),
  /** The run this one re-executes, if any. */
  parentRunId: Schema.optionalKey(Schema.String),
  /** The backfill this run belongs to, if any. */
  backfillId: Schema.optionalKey(Schema.String)
})

export const StepStarted = Schema.TaggedStruct("StepStarted", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  attempt: Schema.Number
})

export const StepLog = Schema.TaggedStruct("StepLog", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  level: Schema.Literals(["debug", "info", "warn", "error"]),
  message: Schema.String,
  /** Set for lines the body printed (captured stdout / stderr) rather than logged with ctx.log. */
  stream: Schema.optionalKey(Schema.Literals(["stdout", "stderr"]))
})

/**
 * A started step that cannot run yet, and why (e.g. no live worker serves its pool). The step's
 * next event ends the wait; the run's status shows the reason meanwhile.
 */
export const StepWaiting = Schema.TaggedStruct("StepWaiting", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  attempt: Schema.Number,
  reason: Schema.String
})

export const StepRetrying = Schema.TaggedStruct("StepRetrying", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  attempt: Schema.Number,
  delayMillis: Schema.Number,
  error: ErrorInfo
})

/** The commit of a value: from this event on, `handle` is the asset's current value. */
export const Materialization = Schema.TaggedStruct("Materialization", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  attempt: Schema.Number,
  dataVersion: Schema.String,
  codeVersion: Schema.String,
  inputVersions: StringRecord,
  handle: Schema.NullOr(ValueHandle),
  metadata: Schema.Record(Schema.String, Schema.Json),
  durationMillis: Schema.Number
})

export const StepSucceeded = Schema.TaggedStruct("StepSucceeded", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  attempt: Schema.Number,
  durationMillis: Schema.Number,
  /** `unchanged`: a conditional step whose upstream data did not change; the stored value stays. */
  outcome: Schema.Literals(["materialized", "unchanged"])
})

export const StepFailed = Schema.TaggedStruct("StepFailed", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  attempt: Schema.Number,
  durationMillis: Schema.Number,
  error: ErrorInfo
})

export const StepSkipped = Schema.TaggedStruct("StepSkipped", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  reason: Schema.String,
  /**
   * Set when the step's own body chose to skip (a conditional branch): the versions it saw, so the
   * planner does not plan it again until an input or its code changes. Absent for downstream skips.
   */
  decision: Schema.optionalKey(Schema.Struct({ codeVersion: Schema.String, inputVersions: StringRecord }))
})

/** The result of one check on a staged (or, with `materia check`, the current) value. */
export const CheckEvaluated = Schema.TaggedStruct("CheckEvaluated", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String),
  check: Schema.String,
  passed: Schema.Boolean,
  severity: Schema.Literals(["warn", "error"]),
  blocking: Schema.Boolean,
  message: Schema.optionalKey(Schema.String),
  /** Observed values, e.g. `{ null_count: 17 }`. */
  metadata: Schema.Record(Schema.String, Schema.Json),
  /** The data version the check saw. */
  dataVersion: Schema.String,
  /** Where the value checked was staged (for a rejected value: where it is kept for inspection). */
  location: Schema.optionalKey(Schema.String),
  /** The IO manager and format of the staged value (with `location`: enough to delete a rejected one). */
  ioManager: Schema.optionalKey(Schema.String),
  format: Schema.optionalKey(Schema.String)
})

export const StepCanceled = Schema.TaggedStruct("StepCanceled", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  /** The partition of a partitioned asset's step (a range `from...to` for a single-run backfill). */
  partition: Schema.optionalKey(Schema.String)
})

/** A source asset's observed data version, recorded by the run that observed it. */
export const SourceObserved = Schema.TaggedStruct("SourceObserved", {
  runId: Schema.String,
  at: Schema.Number,
  key: Schema.String,
  dataVersion: Schema.String
})

/** The delivery of an alert (a webhook): whether it arrived, after how many attempts. */
export const AlertSent = Schema.TaggedStruct("AlertSent", {
  runId: Schema.String,
  at: Schema.Number,
  /** The step it is about; absent for a run alert. */
  key: Schema.optionalKey(Schema.String),
  partition: Schema.optionalKey(Schema.String),
  alert: Schema.String,
  ok: Schema.Boolean,
  attempts: Schema.Number,
  status: Schema.optionalKey(Schema.Number),
  error: Schema.optionalKey(Schema.String),
  durationMillis: Schema.Number
})

export const RunFinished = Schema.TaggedStruct("RunFinished", {
  runId: Schema.String,
  at: Schema.Number,
  status: Schema.Literals(["succeeded", "failed", "canceled"]),
  durationMillis: Schema.Number,
  /** Why the run ended this way when no step says it (e.g. its driver process died). */
  reason: Schema.optionalKey(Schema.String)
})

export const RunEvent = Schema.Union([
  RunStarted,
  SourceObserved,
  StepStarted,
  StepWaiting,
  StepLog,
  StepRetrying,
  Materialization,
  StepSucceeded,
  StepFailed,
  StepSkipped,
  CheckEvaluated,
  StepCanceled,
  AlertSent,
  RunFinished
])
export type RunEvent = typeof RunEvent.Type
export type MaterializationEvent = typeof Materialization.Type
export type CheckEvaluatedEvent = typeof CheckEvaluated.Type
export type AlertSentEvent = typeof AlertSent.Type

/** A subscriber to run events; called synchronously, in order, for every event. */
export type EventListener = (event: RunEvent) => void
