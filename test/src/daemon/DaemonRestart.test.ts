/**
 * Restart safety of `materia daemon` with real processes and the project's real SQLite file: a
 * daemon holding the lease makes a second one wait; killed with SIGKILL before a scheduled time
 * (seconds-resolution cron), the next daemon takes the lease over and catches the tick up; killed
 * again while that tick's run is executing, the next one adopts the run instead of launching it
 * again. Exactly one tick, one queued run, one body execution and one Materia run in the end.
 */
import { existsSync } from "node:fs"
import { readFile, rm, writeFile } from "node:fs/promises"
import { hostname } from "node:os"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import {
  CLI_TEST_TIMEOUT,
  type CliProcess,
  makeTempProject,
  transcript,
  waitForFile
} from "../cli/TempProject.ts"

const FIXTURE = join(import.meta.dirname, "fixtures", "scheduled.ts")

/** Polls `check` against the project's database until it returns a value; fails when `cli` ends first. */
const waitForRow = async <A>(
  dbPath: string,
  check: (db: Database.Database) => A | undefined,
  cli?: CliProcess
): Promise<A> => {
  let ended = false
  void cli?.result.then(() => {
    ended = true
  })
  for (;;) {
    if (existsSync(dbPath)) {
      const db = new Database(dbPath, { readonly: true, timeout: 5000 })
      try {
        const hasTables =
          db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'daemon_state'").get() !== undefined
        const found = hasTables ? check(db) : undefined
        if (found !== undefined) return found
      } finally {
        db.close()
      }
    }
    if (ended)
      throw new Error(`materia exited before the expected row appeared:\n${transcript(await cli!.result)}`)
    await sleep(100)
  }
}

const waitForOutput = async (cli: CliProcess, text: string, read: () => string): Promise<void> => {
  let ended = false
  void cli.result.then(() => {
    ended = true
  })
  while (!read().includes(text)) {
    if (ended) throw new Error(`materia exited before printing "${text}":\n${transcript(await cli.result)}`)
    await sleep(50)
  }
}

/** Collects a process's stdout as it comes. */
const collect = (cli: CliProcess): (() => string) => {
  let text = ""
  cli.child.stdout?.on("data", (chunk: Buffer | string) => {
    text += chunk.toString()
  })
  return () => text
}

describe("materia daemon: kill -9 across a scheduled time", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("neither loses nor duplicates the tick, and a second daemon waits for the lease", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("slow.ts", onTestFinished)
    // The tick lies far enough ahead for the first daemon to start and be killed before it.
    const tickAt = Math.ceil((Date.now() + 40_000) / 1000) * 1000
    const t = new Date(tickAt)
    const cron = `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} * * *`
    const fixture = await readFile(FIXTURE, "utf8")
    await writeFile(
      p.path("materia.config.ts"),
      fixture.replace('"__CRON__"', JSON.stringify(cron)).replace('"__STATUS__"', '"running"')
    )
    await writeFile(p.path("hang"), "")
    const dbPath = p.path(".materia", "materia.db")
    const daemonArgs = ["daemon", "--tick-interval", "200", "--lease-ttl", "600000"]

    // 1. The first daemon records that the schedule runs from now on, then a second one waits for its lease.
    const first = p.start(...daemonArgs)
    await waitForRow(
      dbPath,
      (db) => db.prepare("SELECT started_at FROM daemon_state WHERE name = 'once_a_day'").get(),
      first
    )
    const second = p.start(...daemonArgs)
    const secondOut = collect(second)
    await waitForOutput(second, "holds the lease of this store", secondOut)
    expect(secondOut()).toContain(`:${first.child.pid}:`)
    second.child.kill("SIGKILL")
    first.child.kill("SIGKILL")
    expect((await first.result).signal).toBe("SIGKILL")
    await second.result
    expect(Date.now(), "the first daemon must die before the scheduled time").toBeLessThan(tickAt - 1000)

    // 2. Down across the scheduled time.
    while (Date.now() < tickAt + 1000) await sleep(100)

    // 3. The next daemon takes over the dead daemon's lease, catches the tick up and launches its run ...
    const third = p.start(...daemonArgs)
    const thirdOut = collect(third)
    await waitForFile(p.path("ping-started"), third)
    expect(thirdOut()).toContain("took over the lease")
    // ... and is killed while the run executes.
    third.child.kill("SIGKILL")
    await third.result
    await rm(p.path("hang"))

    // 4. The last daemon adopts the run (its process outlived the daemon) and stops after a few ticks.
    const last = await p.materia("daemon", "--tick-interval", "200", "--ticks", "5")
    expect(last.code, transcript(last)).toBe(0)
    expect(last.stdout).toContain("succeeded (materia run")
    expect(last.stdout).not.toContain("launched run")

    const db = new Database(dbPath, { readonly: true })
    const ticks = db.prepare("SELECT tick_id, status FROM daemon_ticks WHERE kind = 'schedule'").all()
    const runs = db.prepare("SELECT tick_id, status FROM daemon_runs").all()
    // Launched with its host, the launching daemon and the Materia run id it chose.
    const launched = db
      .prepare<[], { host: string; lease_owner: string; run_id: string }>(
        "SELECT host, lease_owner, run_id FROM daemon_runs"
      )
      .get()!
    db.close()
    const tickId = `schedule:once_a_day@${t.toISOString()}`
    expect(ticks).toEqual([{ tick_id: tickId, status: "requested" }])
    expect(runs).toEqual([{ tick_id: tickId, status: "succeeded" }])
    expect((await readFile(p.path("ping.log"), "utf8")).trim().split("\n")).toHaveLength(1)
    const materiaRuns = await p.materia("runs", "--json")
    expect(JSON.parse(materiaRuns.stdout)).toMatchObject([{ runId: launched.run_id }])
    expect(launched.host).toBe(hostname())
    expect(launched.lease_owner).toMatch(new RegExp(`^${hostname()}:\\d+:`))

    const history = await p.materia("schedules", "history", "once_a_day", "--json")
    expect(JSON.parse(history.stdout)).toMatchObject([{ tickId, status: "requested" }])
  })
})
