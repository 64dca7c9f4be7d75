/**
 * Acceptance tests of `materia backfill` and `materia partitions`, each command a real process
 * against a real SQLite store: exit codes, reports, resume after a failure and after a kill, cancel,
 * dry runs, paged partition status and dynamic partition keys.
 */
import { readFile, rm, writeFile } from "node:fs/promises"
import { describe, expect, it } from "vitest"
import { CLI_TEST_TIMEOUT, makeTempProject, transcript, waitForFile } from "./TempProject.ts"

// biome-ignore lint/suspicious/noExplicitAny: the shapes are asserted field by field below
const json = (stdout: string): any => JSON.parse(stdout)

describe("materia backfill", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("backfills a range, reports a failure (exit 1, JUnit, JSON), resumes only what is left", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("partitioned.ts", onTestFinished)
    await writeFile(p.path("fail-2026-01-03"), "")

    const dry = await p.materia(
      "backfill",
      "--select",
      "daily_total",
      "--partitions",
      "2026-01-02...2026-01-04",
      "--dry-run",
      "--json"
    )
    expect(dry.code, transcript(dry)).toBe(0)
    const planned = json(dry.stdout).steps.map(
      (s: { key: string; partition: string }) => `${s.key}[${s.partition}]`
    )
    // The missing upstream partitions (both regions of each day) are planned first.
    expect(planned.length).toBe(9)
    expect(planned.slice(0, 2)).toEqual(["sales[2026-01-02|eu]", "sales[2026-01-02|us]"])
    expect(planned.slice(6)).toEqual([
      "daily_total[2026-01-02]",
      "daily_total[2026-01-03]",
      "daily_total[2026-01-04]"
    ])

    const first = await p.materia(
      "backfill",
      "--select",
      "+daily_total",
      "--partitions",
      "2026-01-02...2026-01-04",
      "--report-junit",
      "junit.xml",
      "--report-json",
      "report.json"
    )
    expect(first.code, transcript(first)).toBe(1)
    expect(first.stdout).toContain("FAILED daily_total[2026-01-03]")
    const junit = await readFile(p.path("junit.xml"), "utf8")
    expect(junit).toContain('<testcase classname="partitioned.daily_total" name="daily_total[2026-01-03]"')
    expect(junit).toContain("injected failure on 2026-01-03")
    expect(junit).toMatch(/name="sales\[2026-01-02\|eu\]"/)
    const report = JSON.parse(await readFile(p.path("report.json"), "utf8"))
    expect(report.backfill.status).toBe("failed")
    expect(report.steps.filter((s: { status: string }) => s.status === "failed").length).toBe(1)
    const id: string = report.backfill.backfillId

    const status = await p.materia("backfill", "status", id, "--json")
    expect(json(status.stdout).state).toBe("failed")

    await rm(p.path("fail-2026-01-03"))
    const resumed = await p.materia("backfill", "resume", id, "--json")
    expect(resumed.code, transcript(resumed)).toBe(0)
    const after = json(resumed.stdout)
    expect(after.steps.map((s: { key: string; partition: string }) => `${s.key}[${s.partition}]`)).toEqual([
      "daily_total[2026-01-03]"
    ])
    expect(after.backfill.status).toBe("succeeded")

    const list = await p.materia("backfill", "list")
    expect(list.stdout).toContain(id)

    const page = await p.materia(
      "partitions",
      "status",
      "daily_total",
      "--limit",
      "3",
      "--after",
      "2026-01-01",
      "--json"
    )
    const body = json(page.stdout)
    expect(body.items.map((i: { partition: string; status: string }) => [i.partition, i.status])).toEqual([
      ["2026-01-02", "materialized"],
      ["2026-01-03", "materialized"],
      ["2026-01-04", "materialized"]
    ])
    expect(body.total).toBe(31)
    expect(body.next).toBe("2026-01-04")
  })

  it("a killed backfill is shown as dead and resumes only the partitions it had not made", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("partitioned.ts", onTestFinished)
    await writeFile(p.path("hang-2026-01-05"), "")
    const cli = p.start(
      "backfill",
      "--select",
      "daily_total",
      "--partitions",
      "2026-01-01...2026-01-06",
      "--concurrency",
      "1"
    )
    // Wait until the hanging day has started: the earlier days are made by then.
    const started = async () => {
      for (;;) {
        const s = await p.materia("partitions", "status", "daily_total", "--limit", "6", "--json")
        const items = json(s.stdout).items as Array<{ status: string }>
        if (items.slice(0, 4).every((i) => i.status === "materialized")) return
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    await started()
    cli.child.kill("SIGKILL")
    await cli.result
    const list = await p.materia("backfill", "list", "--json")
    const [record] = json(list.stdout)
    expect(record.state).toBe("dead")
    await rm(p.path("hang-2026-01-05"))
    const resumed = await p.materia("backfill", "resume", record.backfillId, "--json")
    expect(resumed.code, transcript(resumed)).toBe(0)
    const partitions = json(resumed.stdout).steps.map((s: { partition: string }) => s.partition)
    expect(partitions).toEqual(["2026-01-05", "2026-01-06"])
  })

  it("cancel stops a running backfill (exit 130) and bad input is exit 2 before anything runs", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("partitioned.ts", onTestFinished)
    await writeFile(p.path("hang-2026-01-02"), "")
    const cli = p.start(
      "backfill",
      "--select",
      "daily_total",
      "--partitions",
      "2026-01-01...2026-01-03",
      "--json"
    )
    let id: string | undefined
    while (id === undefined) {
      const list = await p.materia("backfill", "list", "--json")
      id = json(list.stdout)[0]?.backfillId
      if (id === undefined) await new Promise((r) => setTimeout(r, 200))
    }
    const canceled = await p.materia("backfill", "cancel", id)
    expect(canceled.code, transcript(canceled)).toBe(0)
    const result = await cli.result
    expect(result.code, transcript(result)).toBe(130)

    const outside = await p.materia(
      "backfill",
      "--select",
      "daily_total",
      "--partitions",
      "2025-12-01...2025-12-31"
    )
    expect(outside.code, transcript(outside)).toBe(2)
    expect(outside.stderr).toContain('asset "daily_total"')
    const unpartitioned = await p.materia("backfill", "--select", "nope", "--partitions", "2026-01-01")
    expect(unpartitioned.code).toBe(2)
  })

  it("materia partitions add/keys/delete manage dynamic keys, and a backfill uses them", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("partitioned.ts", onTestFinished)
    const added = await p.materia("partitions", "add", "customers", "acme", "globex")
    expect(added.code, transcript(added)).toBe(0)
    const keys = await p.materia("partitions", "keys", "customers", "--json")
    expect(json(keys.stdout)).toEqual(["acme", "globex"])
    const run = await p.materia("backfill", "--select", "customer_report", "--json")
    expect(run.code, transcript(run)).toBe(0)
    expect(json(run.stdout).steps.map((s: { partition: string }) => s.partition)).toEqual(["acme", "globex"])
    const bad = await p.materia("partitions", "add", "customers", "../etc")
    expect(bad.code).toBe(2)
    const deleted = await p.materia("partitions", "delete", "customers", "acme")
    expect(deleted.stdout).toContain("Deleted 1")
    const unknown = await p.materia("partitions", "add", "nope", "x")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("customers")
    await waitForFile(p.path("materia.config.ts"), p.start("partitions", "keys", "customers"))
  })
})

describe("materia assets with partitions", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("summarizes partitioned assets: materialized of total, stale count", async ({ onTestFinished }) => {
    const p = await makeTempProject("partitioned.ts", onTestFinished)
    const made = await p.materia(
      "materialize",
      "--select",
      "daily_total",
      "--partitions",
      "2026-01-01...2026-01-02",
      "--json"
    )
    expect(made.code, transcript(made)).toBe(0)
    const assets = await p.materia("assets", "--json")
    const rows = json(assets.stdout).assets as Array<{ key: string; status: string; partitions?: unknown }>
    const total = rows.find((r) => r.key === "daily_total")!
    expect(total.status).toBe("stale")
    expect(total.partitions).toEqual({ total: 31, materialized: 2, failed: 0, stale: 29 })
    const text = await p.materia("assets")
    expect(text.stdout).toMatch(/daily_total\s+stale \(2\/31 partitions\)/)
  })
})

describe("materia materialize --config", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("passes run configuration by asset key, and refuses JSON that is not an object or does not decode", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("configured.ts", onTestFinished)
    const bad = await p.materia("materialize", "--select", "scaled", "--config", "[1]")
    expect(bad.code, transcript(bad)).toBe(2)
    expect(bad.stderr).toContain("JSON object")
    const wrong = await p.materia(
      "materialize",
      "--select",
      "scaled",
      "--config",
      '{"scaled": {"factor": "x"}}'
    )
    expect(wrong.code, transcript(wrong)).toBe(2)
    const ok = await p.materia(
      "materialize",
      "--select",
      "scaled",
      "--config",
      '{"scaled": {"factor": 2}}',
      "--json"
    )
    expect(ok.code, transcript(ok)).toBe(0)
    const shown = await p.materia("runs", "show", json(ok.stdout).runId, "--json")
    expect(shown.code, transcript(shown)).toBe(0)
  })
})
