/**
 * The run-status sensor against a real store: runs that end failed after the cursor are alerted
 * once each, with their failed steps; succeeded runs and runs before the cursor are not.
 */
import type { Alert, AlertSummary } from "@materia/assets"
import { evaluateSensor, runStatusSensor } from "@materia/assets"
import { makeMemoryStorage, type RunEvent } from "@materia/core"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { endedRunsOf } from "./EndedRuns.ts"

const runOf = (runId: string, at: number, status: "succeeded" | "failed"): ReadonlyArray<RunEvent> => [
  {
    _tag: "RunStarted",
    runId,
    at,
    project: "p",
    targets: ["a"],
    steps: [{ key: "a", reasons: ["missing"] }]
  },
  { _tag: "StepStarted", runId, at, key: "a", attempt: 1 },
  status === "failed"
    ? {
        _tag: "StepFailed",
        runId,
        at: at + 1,
        key: "a",
        attempt: 1,
        durationMillis: 1,
        error: { tag: "UserCodeError", message: `boom in ${runId}` }
      }
    : {
        _tag: "StepSucceeded",
        runId,
        at: at + 1,
        key: "a",
        attempt: 1,
        durationMillis: 1,
        outcome: "materialized"
      },
  { _tag: "RunFinished", runId, at: at + 2, status, durationMillis: 2 }
]

describe("runStatusSensor", () => {
  it("alerts once per failed run ended since the cursor, with its failed steps", async () => {
    const storage = makeMemoryStorage()
    const sent: Array<AlertSummary> = []
    const alert: Alert = {
      name: "collect",
      send: (summary) =>
        Effect.sync(() => {
          sent.push(summary)
          return { ok: true, attempts: 1, durationMillis: 0 }
        })
    }
    const s = runStatusSensor("on_failure", { alerts: [alert] })
    const endedRuns = (project: string, since: number) =>
      Effect.runPromise(endedRunsOf(storage, project, since))
    const tick = (cursor: string | undefined, now: number) =>
      Effect.runPromise(evaluateSensor(s, { cursor, now, lastTickAt: undefined, project: "p", endedRuns }))

    await Effect.runPromise(storage.append("p", runOf("old", 10, "failed")))
    const first = await tick(undefined, 100)
    expect(sent).toEqual([]) // a new sensor does not replay old failures
    await Effect.runPromise(
      storage.append("p", [...runOf("r1", 200, "failed"), ...runOf("r2", 300, "succeeded")])
    )
    const second = await tick(first.cursor, 400)
    expect(sent.map((s) => [s.runId, s.status, s.failedSteps?.[0]?.error.message])).toEqual([
      ["r1", "failed", "boom in r1"]
    ])
    expect(second.cursor).toBe("302")
    const third = await tick(second.cursor, 500)
    expect(sent.length).toBe(1)
    expect(third.skipReason).toContain("no run ended failed")
  })
})
