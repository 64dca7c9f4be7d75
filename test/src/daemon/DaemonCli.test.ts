/**
 * `materia schedules` and `materia sensors` as a user runs them (real processes, the project's
 * SQLite file), and the bad input the daemon's definitions reject when the project loads.
 */
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { CLI_TEST_TIMEOUT, makeTempProject, transcript } from "../cli/TempProject.ts"

const FIXTURE = join(import.meta.dirname, "fixtures", "scheduled.ts")

const project = async (
  onTestFinished: Parameters<typeof makeTempProject>[1],
  cron: string,
  edit = (s: string) => s
) => {
  const p = await makeTempProject("slow.ts", onTestFinished)
  const text = (await readFile(FIXTURE, "utf8"))
    .replace('"__CRON__"', JSON.stringify(cron))
    .replace('"__STATUS__"', '"stopped"')
  await writeFile(p.path("materia.config.ts"), edit(text))
  return p
}

describe("materia schedules and sensors", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("lists, starts, stops and previews schedules; ticks sensors once per run key; keeps the history", async ({
    onTestFinished
  }) => {
    const p = await project(onTestFinished, "0 30 1 * * *")
    const listed = await p.materia("schedules", "list", "--json")
    expect(listed.code, transcript(listed)).toBe(0)
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { name: "once_a_day", cron: "0 30 1 * * *", timezone: "UTC", select: ["ping"], status: "stopped" }
    ])
    const started = await p.materia("schedules", "start", "once_a_day")
    expect(started.stdout).toMatch(/schedule once_a_day is running: next tick \d{4}-\d\d-\d\dT01:30:00Z/)
    expect(JSON.parse((await p.materia("schedules", "list", "--json")).stdout)[0].status).toBe("running")
    await p.materia("schedules", "stop", "once_a_day")
    expect(JSON.parse((await p.materia("schedules", "list", "--json")).stdout)[0].status).toBe("stopped")
    const preview = JSON.parse(
      (await p.materia("schedules", "preview", "once_a_day", "--count", "2", "--json")).stdout
    )
    expect(preview.ticks).toHaveLength(2)
    expect(preview.ticks[1].scheduledAt - preview.ticks[0].scheduledAt).toBe(86_400_000)
    expect(preview.ticks[0].runRequests[0]).toMatchObject({ select: ["ping"] })

    const first = await p.materia("sensors", "tick", "files", "--json")
    expect(first.code, transcript(first)).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({ status: "requested", cursor: "1" })
    const second = JSON.parse((await p.materia("sensors", "tick", "files", "--json")).stdout)
    expect(second).toMatchObject({
      status: "skipped",
      skipReason: "run key already launched: f1",
      cursor: "2"
    })
    const history = JSON.parse((await p.materia("sensors", "history", "files", "--json")).stdout)
    expect(history.map((t: { status: string }) => t.status)).toEqual(["skipped", "requested"])
    const sensors = JSON.parse((await p.materia("sensors", "list", "--json")).stdout)
    expect(sensors).toMatchObject([{ name: "files", status: "stopped", cursor: "2" }])

    const unknown = await p.materia("schedules", "start", "nightly")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no schedule "nightly"; schedules: once_a_day')
  })

  it("rejects an invalid cron string and an unknown asset when the project loads (exit 2)", async ({
    onTestFinished
  }) => {
    const badCron = await project(onTestFinished, "0 25 * * *")
    const cron = await badCron.materia("schedules", "list")
    expect(cron.code, transcript(cron)).toBe(2)
    expect(cron.stderr).toContain(
      'invalid cron "0 25 * * *" of schedule "once_a_day": a value out of range: got value 25 expected range 0-23'
    )

    const badSelect = await project(onTestFinished, "0 1 * * *", (s) =>
      s.replace('select: "ping"', 'select: "pong"')
    )
    const select = await badSelect.materia("daemon", "--ticks", "1")
    expect(select.code, transcript(select)).toBe(2)
    expect(select.stderr).toContain('invalid schedule "once_a_day": selection "pong"')
    expect(select.stderr).toContain('"ping"')
  })
})
