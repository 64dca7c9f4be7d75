/**
 * `materia daemon` on a project whose storage is PostgreSQL, with real processes and a fresh
 * database: the daemon's lease and the schedules' state live in the database, not in a folder. A
 * second daemon started from another folder (a copy of the project, no shared `.materia/`) names
 * the holder and waits; `materia schedules stop` run from that folder is seen by the first daemon.
 */
import { existsSync } from "node:fs"
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { createTestDatabase, type TestDatabase } from "@materia/core/postgres"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CLI_TEST_TIMEOUT, type CliProcess, makeTempProject, transcript } from "../cli/TempProject.ts"

const FIXTURE = join(import.meta.dirname, "fixtures", "postgres-scheduled.ts")

/** Collects a process's stdout as it comes. */
const collect = (cli: CliProcess): (() => string) => {
  let text = ""
  cli.child.stdout?.on("data", (chunk: Buffer | string) => {
    text += chunk.toString()
  })
  return () => text
}

/** Polls `check` until it returns a value; fails when `cli` ends first (a poll, not a timing assertion). */
const waitFor = async <A>(what: string, check: () => Promise<A | undefined>, cli: CliProcess): Promise<A> => {
  let ended = false
  void cli.result.then(() => {
    ended = true
  })
  for (;;) {
    const found = await check()
    if (found !== undefined) return found
    if (ended) throw new Error(`materia exited before ${what}:\n${transcript(await cli.result)}`)
    await sleep(100)
  }
}

describe("materia daemon on PostgreSQL storage", { timeout: CLI_TEST_TIMEOUT }, () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db?.drop()
  })

  /** The rows of `text` in the test database; none while the daemon has not created its tables yet. */
  const rows = async <R extends pg.QueryResultRow>(text: string): Promise<Array<R>> => {
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    try {
      return (await client.query<R>(text)).rows
    } catch (error) {
      if ((error as { code?: unknown }).code === "42P01") return []
      throw error
    } finally {
      await client.end()
    }
  }
  const tickTimes = async (name: string): Promise<Array<number>> =>
    (
      await rows<{ evaluated_at: number }>(
        `SELECT evaluated_at FROM materia.daemon_ticks WHERE name = '${name}' ORDER BY evaluated_at`
      )
    ).map((r) => r.evaluated_at)

  it("holds one lease for daemons of two folders, and sees a schedule stopped from the other folder", async ({
    onTestFinished
  }) => {
    const config = (await readFile(FIXTURE, "utf8")).replace('"__URL__"', JSON.stringify(db.url))
    const here = await makeTempProject("slow.ts", onTestFinished)
    const there = await makeTempProject("slow.ts", onTestFinished)
    await writeFile(here.path("materia.config.ts"), config)
    await writeFile(there.path("materia.config.ts"), config)
    const daemonArgs = ["daemon", "--tick-interval", "200", "--lease-ttl", "600000"]

    // 1. The first daemon takes the lease in the database and ticks the schedule there.
    const first = here.start(...daemonArgs)
    const holder = await waitFor(
      "it took the lease",
      async () => (await rows<{ owner: string }>("SELECT owner FROM materia.daemon_lease"))[0]?.owner,
      first
    )
    expect(holder).toContain(`:${first.child.pid}:`)
    await waitFor(
      "the schedule ticked",
      async () => ((await tickTimes("every_5s")).length > 0 ? true : undefined),
      first
    )

    // 2. A daemon of the other folder finds the lease taken, names its holder and waits.
    const second = there.start(...daemonArgs)
    const secondOut = collect(second)
    await waitFor(
      "the second daemon reported the lease holder",
      async () => (secondOut().includes("holds the lease of this store") ? true : undefined),
      second
    )
    expect(secondOut()).toContain(`another daemon (${holder}) holds the lease of this store`)
    expect(second.child.exitCode, "the second daemon waits").toBeNull()
    second.child.kill("SIGKILL")
    expect((await second.result).signal).toBe("SIGKILL")
    expect(await rows("SELECT owner FROM materia.daemon_lease")).toEqual([{ owner: holder }])

    // 3. From the other folder: stop the schedule, then start the `beat` sensor.
    const stopped = await there.materia("schedules", "stop", "every_5s")
    expect(stopped.code, transcript(stopped)).toBe(0)
    const started = await there.materia("sensors", "start", "beat")
    expect(started.code, transcript(started)).toBe(0)

    // 4. The first daemon evaluates `beat`: it read the states after the stop. Once a beat is
    // evaluated at or past the next scheduled time after the first beat, the schedule, were it
    // still running, would have ticked in that daemon tick (schedules are evaluated before sensors).
    const beats = await waitFor(
      "the first daemon evaluated beat past a scheduled time",
      async () => {
        const times = await tickTimes("beat")
        const nextScheduled = Math.floor(times[0]! / 5000) * 5000 + 5000
        return times.length > 0 && times.at(-1)! >= nextScheduled ? times : undefined
      },
      first
    )
    const scheduled = await tickTimes("every_5s")
    expect(scheduled.length).toBeGreaterThan(0)
    expect(Math.max(...scheduled), "no schedule tick after the stop").toBeLessThan(beats[0]!)
    expect(await rows("SELECT kind, status FROM materia.daemon_state WHERE name = 'every_5s'")).toEqual([
      { kind: "schedule", status: "stopped" }
    ])
    // Nothing went to either folder's embedded store.
    expect(existsSync(here.path(".materia", "materia.db"))).toBe(false)
    expect(existsSync(there.path(".materia", "materia.db"))).toBe(false)
    const listed = await there.materia("schedules", "list", "--json")
    expect(JSON.parse(listed.stdout)).toMatchObject([{ name: "every_5s", status: "stopped" }])

    first.child.kill("SIGINT")
    const ended = await first.result
    expect(ended.code, transcript(ended)).toBe(0)
    // A daemon that stops gives the lease up.
    expect(await rows("SELECT owner FROM materia.daemon_lease")).toEqual([])
  })
})
