/**
 * Dead-run detection: a run still recorded as `running` whose driving process is gone (killed,
 * crashed) is marked failed with that reason, so that status listings stop showing it as running
 * and a re-execution can pick it up. The caller says how to tell whether a driver is alive.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { RunEvent } from "../events/RunEvent.ts"
import type { StorageApi, StorageError } from "./Storage.ts"

export interface Driver {
  readonly host: string
  readonly pid: number
}

/**
 * Marks as failed every `running` run of `project` (among the newest `limit`) whose driver
 * `isAlive` says is dead. Runs without a recorded driver are left alone. Returns the ids marked.
 */
export const markDeadRuns = (
  storage: StorageApi,
  project: string,
  isAlive: (driver: Driver) => boolean,
  limit = 200
): Effect.Effect<ReadonlyArray<string>, StorageError> =>
  Effect.gen(function* () {
    const runs = yield* storage.runs(project, { limit })
    const marked: Array<string> = []
    for (const run of runs) {
      if (run.status !== "running") continue
      const [first] = yield* storage.events(run.runId, { limit: 1 })
      const started = first?.event
      if (started?._tag !== "RunStarted" || started.driver === undefined || isAlive(started.driver)) continue
      const at = yield* Clock.currentTimeMillis
      const finished: RunEvent = {
        _tag: "RunFinished",
        runId: run.runId,
        at,
        status: "failed",
        durationMillis: at - run.startedAt,
        reason: `the process driving it (pid ${started.driver.pid} on ${started.driver.host}) died before it finished`
      }
      // Another monitor may have ended it since the listing: the fence refuses a second end.
      const recorded = yield* storage.append(project, [finished]).pipe(
        Effect.as(true),
        Effect.catchIf(
          (error) => error.reason === "Conflict",
          () => Effect.succeed(false)
        )
      )
      if (recorded) marked.push(run.runId)
    }
    return marked
  })
