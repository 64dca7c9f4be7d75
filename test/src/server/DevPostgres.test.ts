/**
 * `materia dev` on a project whose metadata is in PostgreSQL, with real processes and a fresh
 * database: runs launched, canceled and backfilled through the API are recorded there (nothing in
 * `.materia/materia.db`) and read back by the server (run list, events, asset history); a run
 * recorded by a separate `materia materialize` and a `materia wipe` show through the API; while the
 * project fails to load the server keeps reading the database it last knew, or the one
 * MATERIA_DATABASE_URL names, and an unreachable one is a 503 without its password.
 */
import { existsSync } from "node:fs"
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { createTestDatabase, type TestDatabase } from "@materia/core/postgres"
import pg from "pg"
import { afterAll, beforeAll, describe, it } from "vitest"
import { CLI_TEST_TIMEOUT, type CliProcess, makeTempProject, transcript } from "../cli/TempProject.ts"
import { attachDev, type DevProcess, dataOf } from "./DevProcess.ts"

const FIXTURE = join(import.meta.dirname, "fixtures", "postgres-dev.ts")

interface RunSummary {
  runId: string
  status: string
  targets: Array<string>
}
interface RunBody {
  run: RunSummary
  steps: Array<{ key: string; status: string; partition: string | null }>
}
interface AssetBody {
  asset: { status: string; latest: { runId: string } | null }
}

/** Starts `materia dev` with `env` added to this process's environment (the child copies it at spawn). */
const startWith = (
  project: { start: (...args: ReadonlyArray<string>) => CliProcess },
  env: Record<string, string>,
  args: ReadonlyArray<string>
): CliProcess => {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  try {
    return project.start(...args)
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
  }
}

/** Launches `body` and waits for its stream to end; returns the run id. */
const launchAndWait = async (dev: DevProcess, body: Record<string, unknown>): Promise<string> => {
  const launched = await dev.api<{ runId: string }>("POST", "/api/v1/runs", body)
  if (launched.status !== 202)
    throw new Error(`launch ${JSON.stringify(body)}: ${launched.status} ${JSON.stringify(launched.body)}`)
  const stream = await dev.sse(`/api/v1/runs/${launched.body.runId}/stream`)
  await stream.waitFor((e) => e.event === "end", "the end of the run")
  stream.close()
  return launched.body.runId
}

describe("materia dev on PostgreSQL storage", { timeout: CLI_TEST_TIMEOUT }, () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db?.drop()
  })

  const rows = async <R extends pg.QueryResultRow>(text: string): Promise<Array<R>> => {
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    try {
      return (await client.query<R>(text)).rows
    } finally {
      await client.end()
    }
  }

  it("records launches, cancels and backfills in the database and serves them back", async ({
    expect,
    onTestFinished
  }) => {
    const project = await makeTempProject("slow.ts", onTestFinished)
    await writeFile(
      project.path("materia.config.ts"),
      (await readFile(FIXTURE, "utf8")).replace('"__URL__"', JSON.stringify(db.url))
    )
    const dev = await attachDev(project, project.start("dev", "--port", "0", "--no-daemon"))

    // A launch: recorded in the project's schema, read back through the run list, events and history.
    const runId = await launchAndWait(dev, { select: "clean" })
    const runs = await dev.api<{ runs: Array<RunSummary> }>("GET", "/api/v1/runs")
    expect(runs.status).toBe(200)
    expect(runs.body.runs).toMatchObject([{ runId, status: "succeeded", targets: ["clean"] }])
    expect(await rows(`SELECT run_id, status FROM dev_pg.runs`)).toEqual([
      { run_id: runId, status: "succeeded" }
    ])
    const run = await dev.api<RunBody>("GET", `/api/v1/runs/${runId}`)
    expect(run.body.steps.map((s) => `${s.key}:${s.status}`).sort()).toEqual([
      "clean:succeeded",
      "raw:succeeded"
    ])
    const events = await dev.api<{
      events: Array<{ seq: number; event: { _tag: string } }>
      next: number | null
    }>("GET", `/api/v1/runs/${runId}/events?limit=2`)
    expect(events.body.events.map((e) => e.seq)).toEqual([1, 2])
    expect(events.body.events[0]!.event._tag).toBe("RunStarted")
    expect(events.body.next).toBe(2)
    const rest = await dev.api<{
      events: Array<{ seq: number; event: { _tag: string } }>
      next: number | null
    }>("GET", `/api/v1/runs/${runId}/events?after=2&limit=1000`)
    expect(rest.body.next).toBeNull()
    expect(rest.body.events.at(-1)!.event._tag).toBe("RunFinished")
    const [{ n }] = await rows<{ n: number }>(
      `SELECT COUNT(*)::int AS n FROM dev_pg.events WHERE run_id = '${runId}'`
    )
    expect(rest.body.events.at(-1)!.seq).toBe(n)
    const history = await dev.api<{ items: Array<{ runId: string; metadata: unknown }> }>(
      "GET",
      "/api/v1/assets/clean/history"
    )
    expect(history.body.items).toMatchObject([{ runId, metadata: { count: 4 } }])
    expect((await dev.api<AssetBody>("GET", "/api/v1/assets/clean")).body.asset).toMatchObject({
      status: "fresh",
      latest: { runId }
    })
    expect((await dev.api("GET", "/api/v1/runs/nope")).status).toBe(404)

    // A cancel: the run is canceled in the database.
    const sleeping = await dev.api<{ runId: string }>("POST", "/api/v1/runs", { select: "sleepy" })
    expect(sleeping.status).toBe(202)
    const stream = await dev.sse(`/api/v1/runs/${sleeping.body.runId}/stream`)
    onTestFinished(() => stream.close())
    await stream.waitFor(
      (e) => e.event === "run-event" && dataOf(e).event._tag === "StepStarted",
      "sleepy's start"
    )
    const canceled = await dev.api("POST", `/api/v1/runs/${sleeping.body.runId}/cancel`)
    expect(canceled).toEqual({ status: 202, body: { runId: sleeping.body.runId, status: "canceled" } })
    expect(await rows(`SELECT status FROM dev_pg.runs WHERE run_id = '${sleeping.body.runId}'`)).toEqual([
      { status: "canceled" }
    ])

    // A backfill: its record and its run are in the database.
    const bf = await dev.api<{ backfillId: string }>("POST", "/api/v1/backfills", {
      select: "regional",
      partitions: "eu,us"
    })
    expect(bf.status).toBe(202)
    const done = await dev.until<{ backfill: { status: string; runIds: Array<string> } }>(
      `/api/v1/backfills/${bf.body.backfillId}`,
      (b) => b.backfill.status !== "running",
      "the backfill's end"
    )
    expect(done.backfill.status).toBe("succeeded")
    expect(await rows(`SELECT backfill_id FROM dev_pg.backfills`)).toEqual([
      { backfill_id: bf.body.backfillId }
    ])
    const backfillRun = await dev.api<RunBody>("GET", `/api/v1/runs/${done.backfill.runIds[0]}`)
    expect(backfillRun.body.steps.map((s) => `${s.partition}:${s.status}`).sort()).toEqual([
      "eu:succeeded",
      "us:succeeded"
    ])

    // A run of another process, then a wipe: both show (the store's watermark moved).
    const external = await project.materia("materialize", "--select", "raw", "--force")
    expect(external.code, transcript(external)).toBe(0)
    const listed = await dev.until<{ runs: Array<RunSummary> }>(
      "/api/v1/runs",
      (body) => body.runs.length === 4,
      "the external run in the run list"
    )
    const externalId = listed.runs[0]!.runId
    expect(listed.runs[0]).toMatchObject({ status: "succeeded", targets: ["raw"] })
    expect([runId, sleeping.body.runId, ...done.backfill.runIds]).not.toContain(externalId)
    expect((await dev.api<AssetBody>("GET", "/api/v1/assets/raw")).body.asset.latest?.runId).toBe(externalId)
    // A partitioned asset keeps its state in partition rows only: wiping it shows too.
    expect((await dev.api<AssetBody>("GET", "/api/v1/assets/regional")).body.asset.status).not.toBe("missing")
    const wipedPartitions = await project.materia("wipe", "--select", "regional", "--yes")
    expect(wipedPartitions.code, transcript(wipedPartitions)).toBe(0)
    const parts = await dev.api<{ items: Array<{ status: string }> }>(
      "GET",
      "/api/v1/assets/regional/partitions"
    )
    expect(parts.body.items.map((p) => p.status)).toEqual(["missing", "missing", "missing"])
    expect((await dev.api<AssetBody>("GET", "/api/v1/assets/regional")).body.asset.status).toBe("missing")
    const wiped = await project.materia("wipe", "--select", "clean", "--yes")
    expect(wiped.code, transcript(wiped)).toBe(0)
    expect((await dev.api<AssetBody>("GET", "/api/v1/assets/clean")).body.asset).toMatchObject({
      status: "missing",
      latest: null
    })

    // While the project fails to load, the run history still comes from the database it last named.
    await project.editConfig("const sleepy = asset(", "const sleepy = = asset(")
    await dev.until<{ loadError: unknown }>("/api/v1/project", (p) => p.loadError !== null, "the load error")
    const whileBroken = await dev.api<{ runs: Array<RunSummary> }>("GET", "/api/v1/runs")
    expect(whileBroken.body.runs.map((r) => r.runId)).toEqual(listed.runs.map((r) => r.runId))

    // Nothing went to the folder's embedded store.
    expect(existsSync(project.path(".materia", "materia.db"))).toBe(false)
  })

  it("reads MATERIA_DATABASE_URL's database for a project broken from the start; an unreachable one is a 503 without its password", async ({
    expect,
    onTestFinished
  }) => {
    // Seeded by `materia materialize` on the environment's database (the project names no storage).
    const project = await makeTempProject("../../server/fixtures/dev.ts", onTestFinished)
    const seeding = startWith(project, { MATERIA_DATABASE_URL: db.url }, ["materialize", "--select", "raw"])
    const seeded = await seeding.result
    expect(seeded.code, transcript(seeded)).toBe(0)
    const [{ run_id: seededRun }] = await rows<{ run_id: string }>(
      "SELECT run_id FROM materia.runs WHERE project = 'devtest'"
    )
    await project.editConfig("const sleepy = asset(", "const sleepy = = asset(")

    const dev = await attachDev(
      project,
      startWith(project, { MATERIA_DATABASE_URL: db.url }, ["dev", "--port", "0", "--no-daemon"])
    )
    const state = await dev.api<{ name: string; loadError: unknown }>("GET", "/api/v1/project")
    expect(state.body.loadError).not.toBeNull()
    // The name no code gave: the database's only project.
    expect(state.body.name).toBe("devtest")
    const runs = await dev.api<{ runs: Array<RunSummary> }>("GET", "/api/v1/runs")
    expect(runs.body.runs).toMatchObject([{ runId: seededRun, status: "succeeded", targets: ["raw"] }])
    expect((await dev.api<RunBody>("GET", `/api/v1/runs/${seededRun}`)).body.steps).toMatchObject([
      { key: "raw", status: "succeeded" }
    ])
    expect(existsSync(project.path(".materia", "materia.db"))).toBe(false)

    // Nothing listens on port 1: the answer names the store and what to check, never the password.
    const secret = "s3cr3t-pw"
    const unreachable = await attachDev(
      project,
      startWith(project, { MATERIA_DATABASE_URL: `postgres://postgres:${secret}@127.0.0.1:1/nowhere` }, [
        "dev",
        "--port",
        "0",
        "--no-daemon"
      ])
    )
    const refused = await unreachable.api<{ error: { code: string; message: string } }>("GET", "/api/v1/runs")
    expect(refused.status).toBe(503)
    expect(refused.body.error.code).toBe("StoreUnavailable")
    expect(refused.body.error.message).toContain("postgres://postgres:***@127.0.0.1:1/nowhere")
    expect(refused.body.error.message).toContain("pg_isready -h 127.0.0.1 -p 1")
    expect(JSON.stringify(refused.body)).not.toContain(secret)
  })
})
