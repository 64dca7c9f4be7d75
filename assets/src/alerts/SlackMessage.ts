/**
 * The Slack-compatible form of an alert summary (`{ text, blocks }`, as Slack incoming webhooks and
 * most Slack-like chat tools accept): a one-line mrkdwn text, plus blocks listing failures.
 */
import type { AlertStatus, AlertSummary } from "./AlertSummary.ts"

/** A Slack Block Kit block, as far as alerts use them. */
export type SlackBlock =
  | { readonly type: "section"; readonly text: { readonly type: "mrkdwn"; readonly text: string } }
  | {
      readonly type: "context"
      readonly elements: ReadonlyArray<{ readonly type: "mrkdwn"; readonly text: string }>
    }

/** The body posted to a Slack incoming webhook. */
export interface SlackMessage {
  readonly text: string
  readonly blocks?: ReadonlyArray<SlackBlock>
}

const emoji: Record<AlertStatus, string> = {
  succeeded: ":white_check_mark:",
  failed: ":x:",
  canceled: ":no_entry_sign:",
  skipped: ":fast_forward:"
}

/** Slack's limit on a section's text is 3,000 characters; the one-line text stays much shorter. */
const sectionLimit = 3000
const listedInText = 3
const listedInBlocks = 10

/** Slack mrkdwn treats `&`, `<` and `>` as control characters. */
const mrkdwn = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const truncate = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)

const firstLine = (s: string): string => s.split("\n", 1)[0] ?? ""

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`

const seconds = (millis: number): string => `${(millis / 1000).toFixed(1)} s`

/** Why it ended so, in a few words: failed steps, else the error, plus failed checks and skips. */
const detail = (summary: AlertSummary): string => {
  const parts: Array<string> = []
  const failed = summary.failedSteps ?? []
  if (failed.length > 0) {
    const listed = failed
      .slice(0, listedInText)
      .map((s) => `${s.key}: ${truncate(firstLine(s.error.message), 80)}`)
    const more = failed.length > listedInText ? `; +${failed.length - listedInText} more` : ""
    parts.push(`${plural(failed.length, "step")} failed (${listed.join("; ")}${more})`)
  } else if (summary.error !== undefined) {
    parts.push(`${summary.error.tag}: ${truncate(firstLine(summary.error.message), 160)}`)
  }
  const failedChecks = (summary.checks ?? []).filter((c) => !c.passed)
  if (failedChecks.length > 0) {
    const first = failedChecks[0]!
    const more = failedChecks.length > 1 ? ` (+${failedChecks.length - 1} more)` : ""
    parts.push(`check ${first.check} on ${first.asset} failed${more}`)
  }
  if (summary.skippedSteps !== undefined && summary.skippedSteps > 0) {
    parts.push(`${plural(summary.skippedSteps, "step")} skipped`)
  }
  return parts.join(", ")
}

/** The one-line text of an alert, e.g. `:x: run r1 of shop failed: 2 steps failed (model: boom; …)`. */
export const slackText = (summary: AlertSummary): string => {
  if (summary.kind === "freshness")
    return mrkdwn(
      `:hourglass: asset ${summary.assetKey ?? "?"} of ${summary.project} is overdue${summary.error === undefined ? "" : `: ${truncate(firstLine(summary.error.message), 160)}`}`
    )
  const subject =
    summary.kind === "step"
      ? `step ${summary.assetKey ?? "?"} of run ${summary.runId} in ${summary.project}`
      : `run ${summary.runId} of ${summary.project}`
  const took = summary.durationMillis === undefined ? "" : ` in ${seconds(summary.durationMillis)}`
  const why = detail(summary)
  return mrkdwn(`${emoji[summary.status]} ${subject} ${summary.status}${took}${why === "" ? "" : `: ${why}`}`)
}

const section = (text: string): SlackBlock => ({
  type: "section",
  text: { type: "mrkdwn", text: truncate(text, sectionLimit) }
})

/** The Slack body of an alert: the text, and blocks that list failed steps and checks and link the run. */
export const slackMessage = (summary: AlertSummary): SlackMessage => {
  const text = slackText(summary)
  const blocks: Array<SlackBlock> = [section(text)]
  const failed = summary.failedSteps ?? []
  if (failed.length > 0) {
    const lines = failed
      .slice(0, listedInBlocks)
      .map((s) => `• *${mrkdwn(s.key)}* \`${mrkdwn(s.error.tag)}\` ${mrkdwn(truncate(s.error.message, 280))}`)
    if (failed.length > listedInBlocks) lines.push(`… and ${failed.length - listedInBlocks} more`)
    blocks.push(section(lines.join("\n")))
  }
  const failedChecks = (summary.checks ?? []).filter((c) => !c.passed)
  if (failedChecks.length > 0) {
    const lines = failedChecks
      .slice(0, listedInBlocks)
      .map(
        (c) =>
          `• check *${mrkdwn(c.check)}* on *${mrkdwn(c.asset)}*${c.message === undefined ? "" : `: ${mrkdwn(truncate(c.message, 280))}`}`
      )
    if (failedChecks.length > listedInBlocks) lines.push(`… and ${failedChecks.length - listedInBlocks} more`)
    blocks.push(section(lines.join("\n")))
  }
  if (summary.url !== undefined) {
    // Slack links are `<url|label>`; `|` and `>` cannot appear unescaped inside one.
    const url = summary.url.replace(/\|/g, "%7C").replace(/>/g, "%3E").replace(/</g, "%3C")
    blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: `<${url}|View the run>` }] })
  }
  return { text, blocks }
}
