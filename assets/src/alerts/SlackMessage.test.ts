import * as Schema from "effect/Schema"
import { describe, expect, it } from "vitest"
import { AlertSummary } from "./AlertSummary.ts"
import { slackMessage } from "./SlackMessage.ts"

describe("slackMessage", () => {
  it("says which asset is overdue and why for a freshness alert", () => {
    const summary = Schema.decodeUnknownSync(AlertSummary)({
      version: 1,
      kind: "freshness",
      project: "shop",
      runId: "",
      status: "failed",
      assetKey: "daily_report",
      error: { tag: "FreshnessOverdue", message: "never materialized\nsecond line" },
      at: 0
    })
    expect(slackMessage(summary).text).toBe(
      ":hourglass: asset daily_report of shop is overdue: never materialized"
    )
  })
})
