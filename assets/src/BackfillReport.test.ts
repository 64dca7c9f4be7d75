import type { BackfillRecord } from "@materia/core"
import { describe, expect, it } from "vitest"
import type { BackfillResult } from "./Backfill.ts"
import { backfillJson, backfillJUnit, githubAnnotations } from "./BackfillReport.ts"

const record: BackfillRecord = {
  backfillId: "bf-1",
  project: "shop",
  status: "failed",
  select: "daily",
  partitions: "2026-01-01...2026-01-03",
  onlyStale: false,
  concurrency: 2,
  createdAt: 1_000,
  updatedAt: 4_000,
  heartbeatAt: 4_000,
  endedAt: 4_000,
  runIds: ["r1"],
  progress: { total: 3, succeeded: 1, failed: 1, skipped: 1, canceled: 0, running: 0, fresh: 0 }
}

const result: BackfillResult = {
  record,
  steps: [
    { key: "daily", partition: "2026-01-01", status: "succeeded", durationMillis: 1500, attempts: 1 },
    {
      key: "daily",
      partition: "2026-01-02",
      status: "failed",
      durationMillis: 20,
      attempts: 2,
      error: 'bad <row> & "quote"\nsecond line'
    },
    {
      key: "report",
      status: "skipped",
      durationMillis: 0,
      attempts: 0,
      skipReason: "upstream failed: daily[2026-01-02]"
    }
  ]
}

describe("backfill reports", () => {
  it("JUnit: a suite per asset, a case per step, failures with the escaped error, skips with their reason", () => {
    const xml = backfillJUnit(result)
    expect(xml).toContain(
      '<testsuites name="materia backfill bf-1" tests="3" failures="1" skipped="1" time="3.000">'
    )
    expect(xml).toContain('<testsuite name="daily" tests="2" failures="1" skipped="0" time="1.520">')
    expect(xml).toContain('<testcase classname="shop.daily" name="daily[2026-01-01]" time="1.500"/>')
    expect(xml).toContain(
      '<failure message="bad &lt;row&gt; &amp; &quot;quote&quot;">bad &lt;row&gt; &amp; &quot;quote&quot;\nsecond line</failure>'
    )
    expect(xml).toContain('<skipped message="upstream failed: daily[2026-01-02]"/>')
  })

  it("JSON: the record and every step", () => {
    expect(JSON.parse(backfillJson(result))).toEqual({ backfill: record, steps: result.steps })
  })

  it("GitHub annotations: an error per failed step (escaped) and a notice with the counts", () => {
    expect(githubAnnotations(result)).toEqual([
      '::error title=materia%3A daily[2026-01-02] failed::bad <row> & "quote"%0Asecond line',
      "::notice title=materia backfill bf-1::failed: 1 succeeded, 1 failed, 1 skipped, 0 already fresh of 3"
    ])
  })
})
