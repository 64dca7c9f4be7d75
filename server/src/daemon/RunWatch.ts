/**
 * How a daemon follows a run launched on another host, whose pid means nothing here: through the
 * metadata store every host shares. A run is over when its Materia run has a RunFinished — written
 * by the run itself, or by the dead-run monitor when the run's driver died; a queued backfill is
 * over when the backfill is.
 */
import type { StorageApi, StorageError } from "@materia/core"
import * as Effect from "effect/Effect"
import type { QueuedRun } from "./DaemonStore.ts"

/** What the metadata store says of a launched run. */
export type WatchedRun =
  /** Its Materia run (or backfill) is not recorded: not started yet, or its process never got that far. */
  | { readonly state: "unknown" }
  | { readonly state: "running" }
  | {
      readonly state: "ended"
      readonly status: "succeeded" | "failed" | "canceled"
      readonly runId?: string | undefined
      /** Why, when it did not succeed (the run's reason, e.g. the dead-run monitor's verdict). */
      readonly reason?: string | undefined
    }

/** RunFinished events looked at, newest first, to find the run's. */
const RECENT_FINISHED = 1000

/** Reads what `project`'s metadata store says of `run` (by its Materia run id, or its backfill id). */
export const watchRunIn =
  (storage: StorageApi, project: string) =>
  (run: QueuedRun): Effect.Effect<WatchedRun, StorageError> =>
    Effect.gen(function* () {
      const backfillId = run.request.backfillId
      if (backfillId !== undefined) {
        const backfill = yield* storage.backfill(backfillId)
        if (backfill === undefined) return { state: "unknown" }
        return backfill.status === "queued" || backfill.status === "running"
          ? { state: "running" }
          : { state: "ended", status: backfill.status }
      }
      const runId = run.runId
      if (runId === undefined) return { state: "unknown" }
      if ((yield* storage.events(runId, { limit: 1 })).length === 0) return { state: "unknown" }
      const finished = (yield* storage.eventsByTag(project, ["RunFinished"], {
        limit: RECENT_FINISHED
      })).find((e) => e.event.runId === runId)?.event
      if (finished === undefined || finished._tag !== "RunFinished") return { state: "running" }
      return {
        state: "ended",
        status: finished.status,
        runId,
        ...(finished.reason === undefined ? {} : { reason: finished.reason })
      }
    })
