/**
 * The wire shapes of the queue executor: a step attempt as a BullMQ job's data (versioned, checked
 * on arrival: a payload that does not decode is rejected and recorded, never retried), the value a
 * job returns, and the JSON a failed job carries in its failure reason.
 */
import type { RunEvent, StepAttempt, StepAttemptResult, StepErrorData } from "@materia/core"
import * as Schema from "effect/Schema"

/** A job's data: one attempt of one step of a run, with the driver's project code version. */
export interface StepJob {
  readonly v: 1
  readonly project: string
  readonly codeVersion: string
  readonly attempt: StepAttempt
}

/** What the worker checks before running a job (the rest is read as the executor wrote it). */
const StepJobShape = Schema.Struct({
  v: Schema.Literal(1),
  project: Schema.String,
  codeVersion: Schema.String,
  attempt: Schema.Struct({
    runId: Schema.String,
    project: Schema.String,
    attempt: Schema.Number,
    step: Schema.Struct({ key: Schema.String, node: Schema.Number, pool: Schema.String }),
    states: Schema.Array(Schema.Tuple([Schema.String, Schema.Unknown]))
  })
})
const isStepJobShape = Schema.is(StepJobShape)

/** The job's data as a StepJob, or why it is not one. */
export const decodeStepJob = (data: unknown): StepJob | string => {
  if (isStepJobShape(data)) return data as unknown as StepJob
  let shown: string
  try {
    shown = JSON.stringify(data)?.slice(0, 200) ?? String(data)
  } catch {
    shown = String(data)
  }
  return `the job's data is not a Materia step attempt of version 1 (expected { v: 1, project, codeVersion, attempt: { runId, project, attempt, step, states } }); found ${shown}`
}

/** What a completed job returns. */
export interface StepJobDone {
  readonly v: 1
  readonly result: StepAttemptResult
  readonly events: ReadonlyArray<RunEvent>
}

/** What a failed job carries, as JSON, in its failure reason. */
export interface StepJobFailed {
  readonly v: 1
  readonly error: StepErrorData
  readonly events: ReadonlyArray<RunEvent>
}

/** A failure reason of ours, or undefined for one BullMQ wrote (a stalled job, a removed one). */
export const parseFailure = (reason: string | undefined): StepJobFailed | undefined => {
  if (reason === undefined || !reason.startsWith("{")) return undefined
  try {
    const parsed = JSON.parse(reason) as Partial<StepJobFailed>
    return parsed.v === 1 && typeof parsed.error === "object" ? (parsed as StepJobFailed) : undefined
  } catch {
    return undefined
  }
}

/** A job id for one attempt of one step (BullMQ refuses `:` in custom ids). */
export const jobIdOf = (attempt: StepAttempt): string =>
  encodeURIComponent(
    `${attempt.runId}|${attempt.step.key}|${attempt.step.partition ?? ""}|${attempt.attempt}`
  ).replaceAll("%", "~")
