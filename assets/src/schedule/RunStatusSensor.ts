/**
 * A built-in sensor: alerts when runs of a project end with a status (failed, by default), through
 * the same alerts as `defineProject({ alerts })` (a webhook, Slack). Each ended run is reported
 * once: the cursor is the end time of the last run seen. It launches no run.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Alert } from "../alerts/Alert.ts"
import type { AlertSummary } from "../alerts/AlertSummary.ts"
import type { DefaultStatus } from "./Schedule.ts"
import { type SensorDefinition, sensor } from "./Sensor.ts"

export interface RunStatusSensorOptions {
  readonly alerts: ReadonlyArray<Alert>
  /** The statuses to alert on; `["failed"]` by default. */
  readonly statuses?: ReadonlyArray<"succeeded" | "failed" | "canceled"> | undefined
  /** Another project in the same store; default the daemon's own project. */
  readonly project?: string | undefined
  /** 30 seconds by default. */
  readonly interval?: Duration.Input | undefined
  readonly defaultStatus?: DefaultStatus | undefined
}

/**
 * @example
 * defineProject({ ..., sensors: [runStatusSensor("on_failure", { alerts: [webhookAlert({ url })] })] })
 */
export const runStatusSensor = (name: string, options: RunStatusSensorOptions): SensorDefinition => {
  const statuses = new Set(options.statuses ?? ["failed"])
  return sensor(name, {
    interval: options.interval ?? "30 seconds",
    ...(options.defaultStatus === undefined ? {} : { defaultStatus: options.defaultStatus }),
    evaluate: async (ctx) => {
      const project = options.project ?? ctx.project
      if (ctx.endedRuns === undefined || project === undefined)
        throw new Error("no metadata store to read runs from; run it with materia daemon")
      // The first evaluation starts from now: a new sensor does not replay old failures.
      const since = ctx.cursor === undefined ? ctx.now : Number(ctx.cursor)
      const runs = await ctx.endedRuns(project, since)
      let alerted = 0
      let failedDeliveries = 0
      for (const run of runs) {
        if (!statuses.has(run.status)) continue
        const summary: AlertSummary = {
          version: 1,
          kind: "run",
          project,
          runId: run.runId,
          status: run.status,
          failedSteps: run.failedSteps.map((s) => ({
            key: s.partition === undefined ? s.key : `${s.key}[${s.partition}]`,
            error: s.error
          })),
          skippedSteps: run.skippedSteps,
          durationMillis: Math.max(0, run.endedAt - run.startedAt),
          at: run.endedAt
        }
        for (const alert of options.alerts) {
          const outcome = await Effect.runPromise(alert.send(summary))
          if (!outcome.ok) failedDeliveries++
        }
        alerted++
      }
      const cursor = String(runs.reduce((latest, r) => Math.max(latest, r.endedAt), since))
      return {
        cursor,
        skipReason:
          alerted === 0
            ? `no run ended ${[...statuses].join(" or ")} since ${new Date(since).toISOString()}`
            : `alerted about ${alerted} run(s)${failedDeliveries > 0 ? `; ${failedDeliveries} delivery(ies) failed` : ""}`
      }
    }
  })
}
