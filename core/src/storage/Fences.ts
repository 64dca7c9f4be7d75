/**
 * The fences every store applies inside its append transaction, so that a process that lost its
 * work can no longer record it:
 * - the run fence: once a run has ended (its RunFinished is recorded), nothing more of it is
 *   accepted but alerts — a driver that was declared dead and wakes up cannot commit;
 * - the attempt fence: a materialization commits only from the newest attempt of its step that
 *   started, and only once per step of a run — an attempt that lost its lease (its worker or driver
 *   presumed lost, the step retried) cannot commit.
 * The decisions are pure functions here; each store supplies what it recorded before the batch.
 */
import type { RunEvent } from "../events/RunEvent.ts"
import { StorageError } from "./Storage.ts"

/** The run fence: what a store still accepts of a run that has ended — alerts about it. */
export const acceptedAfterEnd = (event: RunEvent): boolean => event._tag === "AlertSent"

/**
 * The first event of `batch` the fence refuses, given the status of each run that had already ended
 * before the batch (`endedStatus`, undefined while it runs); a RunFinished earlier in the batch
 * ends its run for the events after it.
 */
export const fencedEvent = (
  batch: ReadonlyArray<RunEvent>,
  endedStatus: (runId: string) => string | undefined
): { readonly index: number; readonly status: string } | undefined => {
  const ended = new Map<string, string | undefined>()
  for (const [index, event] of batch.entries()) {
    let status = ended.get(event.runId)
    if (!ended.has(event.runId)) {
      status = endedStatus(event.runId)
      ended.set(event.runId, status)
    }
    if (status !== undefined && !acceptedAfterEnd(event)) return { index, status }
    if (event._tag === "RunFinished") ended.set(event.runId, event.status)
  }
  return undefined
}

/** The StorageError of a refused batch: names the run, how it ended, and what to do. */
export const runEndedError = (where: string, runId: string, status: string, event: string): StorageError =>
  new StorageError({
    reason: "Conflict",
    retryable: false,
    message:
      `${where}: run "${runId}" has already ended (${status}), so its ${event} event is refused and nothing ` +
      `of the batch was written. Another process ended the run — the dead-run monitor marks a run failed ` +
      `when its driver stops beating — and this process no longer owns it; finish its work in a new run: ` +
      `materia materialize --from-failure ${runId}`
  })

/** What a store records of one step of a run for the attempt fence. */
export interface StepAttempts {
  readonly runId: string
  /** The step's name (`stepIdOf`): its asset key and partition. */
  readonly step: string
  readonly key: string
  /** The partition (the range label for a single-run backfill's step). */
  readonly partition?: string | undefined
  /** The newest attempt started (0 when none is recorded). */
  readonly started: number
  /** The attempt whose materialization is committed, if one is. */
  readonly committed: number | undefined
}

/** The attempt fence's name of a step: its asset key and partition. */
export const stepIdOf = (event: { readonly key: string; readonly partition?: string | undefined }): string =>
  event.partition === undefined ? event.key : `${event.key}\u0000${event.partition}`

const stepLabelOf = (step: string): string => {
  const at = step.indexOf("\u0000")
  return at < 0 ? step : `${step.slice(0, at)}[${step.slice(at + 1)}]`
}

/** Why the attempt fence refuses attempt `attempt`'s materialization, given what was recorded. */
export const staleAttemptReason = (
  runId: string,
  step: string,
  attempt: number,
  started: number,
  committed: number | undefined
): string =>
  committed !== undefined
    ? `step "${stepLabelOf(step)}" of run "${runId}" already committed a materialization (attempt ${committed}); ` +
      `attempt ${attempt}'s is refused`
    : `attempt ${attempt} of step "${stepLabelOf(step)}" of run "${runId}" can no longer commit: attempt ${started} ` +
      "of it has started since"

/**
 * Applies the attempt fence to a batch. `stored` gives what was recorded before it for a step of a
 * run. Returns the first refused materialization (with why), or the new records of the steps the
 * batch started or materialized.
 */
export const fenceAttempts = (
  batch: ReadonlyArray<RunEvent>,
  stored: (runId: string, step: string) => Pick<StepAttempts, "started" | "committed"> | undefined
):
  | { readonly refused: { readonly index: number; readonly reason: string } }
  | { readonly refused?: undefined; readonly records: ReadonlyArray<StepAttempts> } => {
  // Mutable while the batch is read: one record per step, no copies (this runs for every append).
  const records = new Map<string, { -readonly [K in keyof StepAttempts]: StepAttempts[K] }>()
  for (const [index, event] of batch.entries()) {
    if (event._tag !== "StepStarted" && event._tag !== "Materialization") continue
    const step = stepIdOf(event)
    const id = `${event.runId}\u0000${step}`
    let record = records.get(id)
    if (record === undefined) {
      const recorded = stored(event.runId, step)
      record = {
        runId: event.runId,
        step,
        key: event.key,
        partition: event.partition,
        started: recorded?.started ?? 0,
        committed: recorded?.committed
      }
      records.set(id, record)
    }
    if (event._tag === "StepStarted") {
      if (event.attempt > record.started) record.started = event.attempt
      continue
    }
    if (record.committed !== undefined || event.attempt < record.started)
      return {
        refused: {
          index,
          reason: staleAttemptReason(event.runId, step, event.attempt, record.started, record.committed)
        }
      }
    record.committed = event.attempt
  }
  return { records: [...records.values()] }
}

/** The StorageError of a batch the attempt fence refused. */
export const staleAttemptError = (where: string, reason: string): StorageError =>
  new StorageError({
    reason: "Conflict",
    retryable: false,
    message:
      `${where}: ${reason}, and nothing of the batch was written. Only the newest attempt of a step commits, ` +
      "once: an older one lost its lease (its worker or driver was presumed lost and the step retried)."
  })
