/**
 * Acceptance tests of bad input through the `materia` CLI, each command a real process: a corrupt
 * metadata store, a value file deleted behind Materia's back, `wipe`, usage errors (exit 2) and
 * `--help` on every command.
 */
import { randomBytes } from "node:crypto"
import { mkdir, readdir, rm, writeFile } from "node:fs/promises"
import { describe, it } from "vitest"
import { AssetsOutput, MaterializeOutput, statusByKey } from "./CliJson.ts"
import { CLI_TEST_TIMEOUT, decodeOutput, makeTempProject, transcript } from "./TempProject.ts"

// Each test has its own project: they run side by side.
describe.concurrent("materia: bad input", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("a corrupt metadata store fails with a message naming the file and what to do", async ({
    expect,
    onTestFinished
  }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    await mkdir(p.path(".materia"))
    const db = p.path(".materia", "materia.db")
    await writeFile(db, randomBytes(8192))

    const result = await p.materia("plan")
    expect(result.code, transcript(result)).not.toBe(0)
    expect(result.stderr).toContain(db)
    expect(result.stderr).toContain("not a usable Materia database")
    expect(result.stderr).toMatch(/move the file away/i)
  })

  it("a deleted value fails its downstream naming the file and `materia wipe`; wipe makes it missing", async ({
    expect,
    onTestFinished
  }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    const seeded = await p.materia("materialize", "--select", "*")
    expect(seeded.code, transcript(seeded)).toBe(0)
    const attempts = await readdir(p.path(".materia", "storage", "stats"))
    expect(attempts).toHaveLength(1)
    const attempt = attempts[0]
    const valueFile = p.path(".materia", "storage", "stats", attempt!, "value.json")
    await rm(p.path(".materia", "storage", "stats", attempt!), { recursive: true })

    const failed = await p.materia("materialize", "--select", "report", "--force", "--json")
    expect(failed.code, transcript(failed)).toBe(1)
    const run = decodeOutput(MaterializeOutput, failed)
    expect(run.steps.map((s) => [s.key, s.status])).toEqual([["report", "failed"]])
    expect(run.steps[0]!.error).toContain(valueFile)
    expect(run.steps[0]!.error).toContain("materia wipe --select stats")

    const wiped = await p.materia("wipe", "--select", "stats", "--yes")
    expect(wiped.code, transcript(wiped)).toBe(0)
    const listed = await p.materia("assets", "--json")
    expect(listed.code, transcript(listed)).toBe(0)
    const status = statusByKey(decodeOutput(AssetsOutput, listed))
    expect(status.stats).toBe("missing")
    expect(status.clean).toBe("fresh")
  })

  it("an unknown command, an unknown option and a bad selection exit 2 with a helpful message", async ({
    expect,
    onTestFinished
  }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    const [command, option, selection] = await Promise.all([
      p.materia("materialise", "--select", "*"),
      p.materia("plan", "--selct", "*"),
      p.materia("materialize", "--select", "reprot")
    ])
    expect(command.code, transcript(command)).toBe(2)
    expect(command.stderr).toContain('unknown command "materialise"')
    expect(command.stderr).toContain("materialize")
    expect(option.code, transcript(option)).toBe(2)
    expect(option.stderr).toContain("--selct")
    expect(option.stderr).toContain("materia plan --help")
    expect(selection.code, transcript(selection)).toBe(2)
    expect(selection.stderr).toContain('"reprot"')
    expect(selection.stderr).toContain('did you mean "report"')
  })

  it("--help exits 0 on every command and prints its usage", async ({ expect, onTestFinished }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    const commands = ["plan", "materialize", "assets", "runs", "wipe"]
    const [top, ...each] = await Promise.all([
      p.materia("--help"),
      ...commands.map((c) => p.materia(c, "--help"))
    ])
    expect(top!.code, transcript(top!)).toBe(0)
    for (const c of commands) expect(top!.stdout).toContain(c)
    for (const [i, result] of each.entries()) {
      expect(result.code, transcript(result)).toBe(0)
      expect(result.stdout).toContain(`materia ${commands[i]}`)
    }
  })
})
