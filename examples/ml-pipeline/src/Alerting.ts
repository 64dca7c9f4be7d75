/**
 * How the ML example raises alerts: a webhook alert when the project is given a URL, else a line on
 * stderr; and the alert about a deployment held back by the accuracy gate, sent from the `deploy`
 * step's `onSkip` hook (an asset's own `alerts` are only for failures).
 */
import { type Alert, type AlertOutcome, type AlertSummary, webhookAlert } from "@materia/assets"
import type { StepHookInfo } from "@materia/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/** A multi-line message (e.g. a per-column diff) on one line. */
const oneLine = (text: string): string =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join("; ")
    .replace(/:; /g, ": ")

/** One line about an alert summary: what ended how, and why. */
export const describeAlert = (summary: AlertSummary): string => {
  const subject =
    summary.kind === "step"
      ? `step ${summary.assetKey ?? "?"} of run ${summary.runId} in ${summary.project}`
      : `run ${summary.runId} of ${summary.project}`
  const failed = (summary.failedSteps ?? []).map((s) => `${s.key}: ${oneLine(s.error.message)}`)
  const why = failed.length > 0 ? failed.join("; ") : summary.error && oneLine(summary.error.message)
  return `${subject} ${summary.status}${why === undefined ? "" : `: ${why}`}`
}

/** An alert that writes one line to stderr: for running without an alert URL. */
export const stderrAlert = (write: (line: string) => void = (line) => process.stderr.write(line)): Alert => ({
  name: "stderr (no alert URL)",
  send: (summary) =>
    Effect.sync((): AlertOutcome => {
      write(`ALERT ${describeAlert(summary)}\n`)
      return { ok: true, attempts: 1, durationMillis: 0 }
    })
})

/** A webhook alert posting JSON to `url`, or the stderr alert when there is no URL. */
export const alertFor = (url: string | undefined): Alert =>
  url === undefined || url === "" ? stderrAlert() : webhookAlert({ url })

/**
 * An `onSkip` hook that sends `alert` about the skipped step, its reason as the summary's error
 * (tag `NotDeployed`), and records the delivery as an `AlertSent` event of the step.
 */
export const alertOnSkip =
  (alert: Alert) =>
  (info: StepHookInfo): Effect.Effect<void> =>
    Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      const outcome = yield* alert.send({
        version: 1,
        kind: "step",
        project: info.project,
        runId: info.runId,
        status: "skipped",
        assetKey: info.assetKey,
        error: { tag: "NotDeployed", message: info.reason ?? "skipped" },
        durationMillis: Math.max(0, info.durationMillis),
        at
      })
      info.recordAlert({ alert: alert.name, ...outcome })
    })
