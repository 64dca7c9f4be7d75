/**
 * The summary an alert sends about a finished run or step: a versioned wire shape with a Schema, so
 * receivers can decode it and a later version can be told apart from this one.
 */
import { toErrorInfo } from "@materia/core"
import * as Schema from "effect/Schema"

/** An error as an alert reports it: its tag and message (no stack: alerts leave the machine). */
export const AlertError = Schema.Struct({
  tag: Schema.String,
  message: Schema.String
})
export type AlertError = typeof AlertError.Type

/** The alert form of any error: its tag and message (never its stack). */
export const alertErrorOf = (error: unknown): AlertError => {
  const { tag, message } = toErrorInfo(error)
  return { tag, message }
}

/** How the run or step ended. */
export const AlertStatus = Schema.Literals(["succeeded", "failed", "canceled", "skipped"])
export type AlertStatus = typeof AlertStatus.Type

/** A step that failed in the run, with its error. */
export const AlertFailedStep = Schema.Struct({
  key: Schema.String,
  error: AlertError
})
export type AlertFailedStep = typeof AlertFailedStep.Type

/** One asset check result, as an alert reports it. */
export const AlertCheck = Schema.Struct({
  asset: Schema.String,
  check: Schema.String,
  passed: Schema.Boolean,
  message: Schema.optionalKey(Schema.String)
})
export type AlertCheck = typeof AlertCheck.Type

/**
 * The JSON body of an alert (version 1): what happened to which run or step, and why. `freshness`:
 * the daemon found the asset `assetKey` overdue against its freshness policy (`status` is `failed`,
 * `error.message` says why, `runId` is the run of its latest value, empty when it was never made).
 */
export const AlertSummary = Schema.Struct({
  version: Schema.Literal(1),
  kind: Schema.Literals(["run", "step", "freshness"]),
  project: Schema.String,
  runId: Schema.String,
  status: AlertStatus,
  /** Set when `kind` is `step` or `freshness`. */
  assetKey: Schema.optionalKey(Schema.String),
  error: Schema.optionalKey(AlertError),
  failedSteps: Schema.optionalKey(Schema.Array(AlertFailedStep)),
  skippedSteps: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  checks: Schema.optionalKey(Schema.Array(AlertCheck)),
  durationMillis: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))),
  /** When the run or step ended, in epoch milliseconds. */
  at: Schema.Number,
  /** A link to the run (e.g. in the UI). */
  url: Schema.optionalKey(Schema.String)
})
export type AlertSummary = typeof AlertSummary.Type
