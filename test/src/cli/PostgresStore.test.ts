/**
 * `materia` on PostgreSQL storage, selected by MATERIA_DATABASE_URL: runs are recorded in the
 * database (another process sees them), and an unreachable server is a clear error naming the URL
 * without its password, before anything runs.
 */
import { existsSync } from "node:fs"
import { createTestDatabase, type TestDatabase } from "@materia/core/postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CLI_TEST_TIMEOUT, makeTempProject, transcript } from "./TempProject.ts"

describe("materia with MATERIA_DATABASE_URL", { timeout: CLI_TEST_TIMEOUT }, () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    delete process.env.MATERIA_DATABASE_URL
    await db?.drop()
  })

  it("records runs and partitions in PostgreSQL, shared by every process", async ({ onTestFinished }) => {
    process.env.MATERIA_DATABASE_URL = db.url
    const p = await makeTempProject("partitioned.ts", onTestFinished)
    const made = await p.materia(
      "materialize",
      "--select",
      "daily_total",
      "--partitions",
      "2026-01-01",
      "--json"
    )
    expect(made.code, transcript(made)).toBe(0)
    const runs = await p.materia("runs", "--json")
    expect(JSON.parse(runs.stdout).length).toBe(1)
    const page = await p.materia("partitions", "status", "daily_total", "--limit", "1", "--json")
    expect(JSON.parse(page.stdout).items[0].status).toBe("materialized")
    const again = await p.materia("plan", "--select", "daily_total", "--partitions", "2026-01-01")
    expect(again.stdout).toContain("Nothing to do")
    // Nothing went to the embedded store.
    expect(existsSync(p.path(".materia", "materia.db"))).toBe(false)
  })

  it("an unreachable server fails at start-up with the URL, password redacted", async ({
    onTestFinished
  }) => {
    process.env.MATERIA_DATABASE_URL = "postgres://materia:s3cret@127.0.0.1:1/nowhere"
    const p = await makeTempProject("partitioned.ts", onTestFinished)
    const failed = await p.materia("plan")
    expect(failed.code, transcript(failed)).not.toBe(0)
    expect(failed.stderr).toContain("127.0.0.1:1")
    expect(failed.stderr).not.toContain("s3cret")
  })
})
