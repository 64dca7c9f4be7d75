/**
 * Reports of a backfill for CI: JUnit XML (one test case per asset × partition, failures carrying
 * the error, skips with their reason; fresh partitions are passed cases), a JSON report, and
 * GitHub Actions annotations (`::error title=…::…`) for failed steps.
 */
import type { BackfillResult, BackfillStep } from "./Backfill.ts"

const xml = (text: string): string =>
  text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 cannot hold these characters
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")

const caseName = (step: BackfillStep): string =>
  step.partition === undefined ? step.key : `${step.key}[${step.partition}]`

/** JUnit XML: a test suite per asset, a test case per step. */
export const backfillJUnit = (result: BackfillResult): string => {
  const byAsset = new Map<string, Array<BackfillStep>>()
  for (const step of result.steps) {
    const list = byAsset.get(step.key) ?? []
    list.push(step)
    byAsset.set(step.key, list)
  }
  const record = result.record
  const failures = result.steps.filter((s) => s.status === "failed").length
  const skipped = result.steps.filter((s) => s.status === "skipped" || s.status === "canceled").length
  const seconds = (ms: number) => (Math.max(0, ms) / 1000).toFixed(3)
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(`materia backfill ${record.backfillId}`)}" tests="${result.steps.length}" failures="${failures}" skipped="${skipped}" time="${seconds((record.endedAt ?? record.updatedAt) - record.createdAt)}">`
  ]
  for (const [key, steps] of byAsset) {
    const f = steps.filter((s) => s.status === "failed").length
    const sk = steps.filter((s) => s.status === "skipped" || s.status === "canceled").length
    const time = steps.reduce((t, s) => t + s.durationMillis, 0)
    lines.push(
      `  <testsuite name="${xml(key)}" tests="${steps.length}" failures="${f}" skipped="${sk}" time="${seconds(time)}">`
    )
    for (const step of steps) {
      const open = `    <testcase classname="${xml(`${record.project}.${key}`)}" name="${xml(caseName(step))}" time="${seconds(step.durationMillis)}"`
      if (step.status === "failed")
        lines.push(
          `${open}>`,
          `      <failure message="${xml((step.error ?? "failed").split("\n")[0]!)}">${xml(step.error ?? "failed")}</failure>`,
          "    </testcase>"
        )
      else if (step.status === "skipped" || step.status === "canceled")
        lines.push(
          `${open}>`,
          `      <skipped message="${xml(step.skipReason ?? step.status)}"/>`,
          "    </testcase>"
        )
      else lines.push(`${open}/>`)
    }
    lines.push("  </testsuite>")
  }
  lines.push("</testsuites>")
  return `${lines.join("\n")}\n`
}

/** The machine-readable report: the backfill record and every step. */
export const backfillJson = (result: BackfillResult): string =>
  `${JSON.stringify({ backfill: result.record, steps: result.steps }, null, 2)}\n`

const annotationText = (text: string): string =>
  text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A")

/** GitHub Actions workflow commands: an error annotation per failed step, a notice for the summary. */
export const githubAnnotations = (result: BackfillResult): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const step of result.steps)
    if (step.status === "failed")
      out.push(
        `::error title=${annotationText(`materia: ${caseName(step)} failed`)
          .replaceAll(",", "%2C")
          .replaceAll(":", "%3A")}::${annotationText(step.error ?? "failed")}`
      )
  const p = result.record.progress
  out.push(
    `::notice title=materia backfill ${result.record.backfillId}::${annotationText(`${result.record.status}: ${p.succeeded} succeeded, ${p.failed} failed, ${p.skipped} skipped, ${p.fresh} already fresh of ${p.total}`)}`
  )
  return out
}
