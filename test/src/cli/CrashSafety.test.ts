/**
 * Acceptance test of a `materia materialize` process killed with SIGKILL mid-step: no partial value
 * is visible, the next process marks the run failed (its driver died), and the next materialize
 * runs only what the killed run had not committed.
 */
import { existsSync } from "node:fs"
import { readdir, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { AssetsOutput, keysOf, MaterializeOutput, RunsOutput, statusByKey } from "./CliJson.ts"
import { CLI_TEST_TIMEOUT, decodeOutput, makeTempProject, transcript, waitForFile } from "./TempProject.ts"

/** Every attempt folder under `dir` (depth-first): a folder holding files rather than folders. */
const valueFolders = async (dir: string): Promise<Array<{ folder: string; files: Array<string> }>> => {
  if (!existsSync(dir)) return []
  const entries = await readdir(dir, { withFileTypes: true })
  const files = entries.filter((e) => e.isFile()).map((e) => e.name)
  const nested = await Promise.all(
    entries.filter((e) => e.isDirectory()).map((e) => valueFolders(join(dir, e.name)))
  )
  return [...(files.length > 0 ? [{ folder: dir, files }] : []), ...nested.flat()]
}

describe("materia: kill -9 mid-run", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("leaves no partial value, is marked failed by the next process, and is resumed by materialize", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("slow.ts", onTestFinished)
    await writeFile(p.path("hang"), "")

    const killed = p.start("materialize", "--select", "*")
    await waitForFile(p.path("slow-started"), killed)
    killed.child.kill("SIGKILL")
    const end = await killed.result
    expect(end.signal).toBe("SIGKILL")
    await rm(p.path("hang"))

    // The first command after the crash already sees the run as failed, not running.
    const runs = decodeOutput(RunsOutput, await p.materia("runs", "--json"))
    expect(runs.map((r) => r.status)).toEqual(["failed"])
    const runId = runs[0]!.runId

    const [shown, listed] = await Promise.all([
      p.materia("runs", "show", runId),
      p.materia("assets", "--json")
    ])
    expect(shown.code, transcript(shown)).toBe(0)
    expect(shown.stdout).toContain(`run ${runId}: failed`)
    expect(shown.stdout).toContain(`pid ${killed.child.pid}`)
    expect(shown.stdout).toContain("died")

    expect(listed.code, transcript(listed)).toBe(0)
    expect(statusByKey(decodeOutput(AssetsOutput, listed))).toEqual({
      first: "fresh",
      last: "missing",
      second: "fresh",
      slow: "missing"
    })
    // A value file is final only beside its manifest: none stands alone.
    const folders = await valueFolders(p.path(".materia", "storage"))
    for (const { folder, files } of folders)
      if (files.some((f) => /^value\.[a-z]+$/.test(f))) expect(files, folder).toContain("manifest.json")
    expect(folders.map((f) => f.folder.split("/").at(-2)).sort()).toEqual(["first", "second"])

    const resumed = await p.materia("materialize", "--select", "*", "--json")
    expect(resumed.code, transcript(resumed)).toBe(0)
    const run = decodeOutput(MaterializeOutput, resumed)
    expect(keysOf(run)).toEqual(["slow", "last"])
    expect(run.status).toBe("succeeded")
  })
})
