/**
 * Acceptance test of recovering from a failed step through the `materia` CLI, each command a real
 * process: the run exits 1, `materia runs show` gives the error, and after the fix
 * `--from-failure` runs only the failed and skipped steps.
 */
import { rm, writeFile } from "node:fs/promises"
import { describe, expect, it } from "vitest"
import { MaterializeOutput } from "./CliJson.ts"
import { CLI_TEST_TIMEOUT, decodeOutput, makeTempProject, transcript } from "./TempProject.ts"

describe("materia: a failed step", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("fails the run, is shown by runs show, and --from-failure re-runs only the failed and skipped steps", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("failing.ts", onTestFinished)
    await writeFile(p.path("fail-parse"), "")

    const failed = await p.materia("materialize", "--select", "*", "--json")
    expect(failed.code, transcript(failed)).toBe(1)
    const run = decodeOutput(MaterializeOutput, failed)
    expect(run.status).toBe("failed")
    expect(Object.fromEntries(run.steps.map((s) => [s.key, s.status]))).toEqual({
      source: "succeeded",
      parse: "failed",
      summary: "skipped",
      audit: "succeeded"
    })

    const shown = await p.materia("runs", "show", run.runId)
    expect(shown.code, transcript(shown)).toBe(0)
    expect(shown.stdout).toContain("parse failed:")
    expect(shown.stdout).toContain("injected failure")
    expect(shown.stdout).toMatch(/summary\s+skipped/)

    // The fix: the body no longer finds its failure flag (its code version does not change).
    await rm(p.path("fail-parse"))
    const again = await p.materia("materialize", "--from-failure", run.runId, "--json")
    expect(again.code, transcript(again)).toBe(0)
    const rerun = decodeOutput(MaterializeOutput, again)
    expect(rerun.steps.map((s) => [s.key, s.status])).toEqual([
      ["parse", "succeeded"],
      ["summary", "succeeded"]
    ])
  })
})
