/**
 * Run-level retries: a run the daemon launched that failed is launched again as a re-execution
 * from failure (`materia materialize --from-failure <run>`: only the failed, skipped and canceled
 * steps), up to the project's `runRetry.attempts` (the first run included). Each retry is a tick of
 * its own, `retry:<queued run id>`, so a restarted daemon never retries one failure twice.
 */
import * as Effect from "effect/Effect"
import type { DaemonStore, QueuedRun, TickRecord } from "./DaemonStore.ts"

export interface RunRetryPolicy {
  /** Every run counts, the first included: 3 means up to two retries. */
  readonly attempts: number
}

/** The tag holding a queued run's attempt number (1 for the first run). */
export const ATTEMPT_TAG = "materia/attempt"

/** The retry of a failed queued run, or undefined when none is due. */
export const retryOf = (
  run: QueuedRun,
  outcome: { readonly status: string; readonly runId?: string | undefined },
  policy: RunRetryPolicy | undefined,
  now: number,
  newId: () => string
): { readonly tick: TickRecord; readonly run: QueuedRun } | undefined => {
  if (policy === undefined || outcome.status !== "failed" || outcome.runId === undefined) return undefined
  const attempt = Number(run.request.tags?.[ATTEMPT_TAG] ?? "1")
  if (!(attempt < policy.attempts)) return undefined
  const tickId = `retry:${run.id}`
  const id = newId()
  const next = attempt + 1
  return {
    tick: {
      tickId,
      kind: run.kind,
      name: run.name,
      tickAt: now,
      evaluatedAt: now,
      status: "requested",
      runIds: [id],
      reason: `retry ${next} of ${policy.attempts}: run ${outcome.runId} failed; re-executing its failed steps`
    },
    run: {
      id,
      tickId,
      kind: run.kind,
      name: run.name,
      request: {
        select: run.request.select,
        fromFailure: outcome.runId,
        tags: { ...run.request.tags, [ATTEMPT_TAG]: String(next) }
      },
      status: "queued",
      enqueuedAt: now
    }
  }
}

/**
 * Queues the retry (with its tick) in one transaction, leaving the schedule's or sensor's state as
 * it is; a retry already recorded changes nothing.
 */
export const queueRetry = (
  store: DaemonStore,
  retry: { readonly tick: TickRecord; readonly run: QueuedRun }
) =>
  Effect.flatMap(store.state(retry.run.kind, retry.run.name), (state) =>
    store.commitTick({
      tick: retry.tick,
      runs: [retry.run],
      state: state ?? { kind: retry.run.kind, name: retry.run.name, status: "running" }
    })
  )
