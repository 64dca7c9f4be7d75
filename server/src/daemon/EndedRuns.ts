/**
 * What a run-status sensor reads from the store: the runs of a project that ended after a time,
 * oldest first, each with its failed steps (from the run's events).
 */
import type { EndedRun } from "@materia/assets"
import { foldRunEvents, type StorageApi, type StorageError } from "@materia/core"
import * as Effect from "effect/Effect"

/** At most this many recent runs are looked at per evaluation. */
const RECENT_RUNS = 200

export const endedRunsOf = (
  storage: StorageApi,
  project: string,
  since: number
): Effect.Effect<ReadonlyArray<EndedRun>, StorageError> =>
  Effect.gen(function* () {
    const runs = yield* storage.runs(project, { limit: RECENT_RUNS })
    const ended = runs
      .filter((r) => r.status !== "running" && r.endedAt !== undefined && r.endedAt > since)
      .sort((a, b) => a.endedAt! - b.endedAt!)
    const out: Array<EndedRun> = []
    for (const run of ended) {
      const events = yield* storage.events(run.runId)
      const view = foldRunEvents(
        run.runId,
        events.map((e) => e.event)
      )
      const steps = [...view.steps.values()]
      out.push({
        runId: run.runId,
        status: run.status as EndedRun["status"],
        startedAt: run.startedAt,
        endedAt: run.endedAt!,
        failedSteps: steps
          .filter((s) => s.status === "failed")
          .map((s) => ({
            key: s.key,
            ...(s.partition === undefined ? {} : { partition: s.partition }),
            error: { tag: s.error?.tag ?? "Error", message: s.error?.message ?? "failed" }
          })),
        skippedSteps: steps.filter((s) => s.status === "skipped").length
      })
    }
    return out
  })
