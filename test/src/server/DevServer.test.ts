/**
 * `materia dev` as a real process over a temporary project with a real SQLite store: every endpoint,
 * a launched run seen succeeding through its event stream, SQL with its limit and timeout (504),
 * cancel, re-execution from failure, and the code server restarting on a file change (runs in
 * flight finish on their code) or reporting a load error while the server stays up.
 */
import { readFile, rm, writeFile } from "node:fs/promises"
import { describe, it } from "vitest"
import { CLI_TEST_TIMEOUT, makeTempProject } from "../cli/TempProject.ts"
import { attachDev, type DevProcess, dataOf, startDev } from "./DevProcess.ts"

const FIXTURE = "../../server/fixtures/dev.ts"

interface RunBody {
  run: { runId: string; status: string; targets: Array<string>; endedAt: number | null }
  steps: Array<{
    key: string
    status: string
    attempts: number
    error: string | null
    partition: string | null
  }>
}

/** Launches `select` and waits for its stream to end; returns the run id and the streamed events. */
const launchAndWatch = async (dev: DevProcess, body: Record<string, unknown>) => {
  const launched = await dev.api<{ runId: string }>("POST", "/api/v1/runs", body)
  if (launched.status !== 202)
    throw new Error(`launch ${JSON.stringify(body)}: ${launched.status} ${JSON.stringify(launched.body)}`)
  const runId = launched.body.runId
  const stream = await dev.sse(`/api/v1/runs/${runId}/stream`)
  await stream.waitFor((e) => e.event === "end", "the end of the run")
  stream.close()
  return { runId, events: stream.events.filter((e) => e.event === "run-event").map((e) => dataOf(e)) }
}

describe("materia dev", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("serves every endpoint; a launched run succeeds through its live stream", async ({
    expect,
    onTestFinished
  }) => {
    const dev = await startDev(FIXTURE, onTestFinished, ["--query-timeout", "2000"])
    expect(dev.token.length).toBeGreaterThan(20)

    const project = await dev.api<{ name: string; root: string; loadError: unknown; codeVersion: string }>(
      "GET",
      "/api/v1/project"
    )
    expect(project.status).toBe(200)
    expect(project.body).toMatchObject({ name: "devtest", root: dev.project.root, loadError: null })
    const assets = await dev.api<{ assets: Array<{ key: string; status: string }> }>("GET", "/api/v1/assets")
    expect(assets.body.assets.map((a) => `${a.key}:${a.status}`)).toEqual([
      "clean:missing",
      "flaky:missing",
      "raw:missing",
      "regional:missing",
      "sales/orders:missing",
      "sleepy:missing",
      "stats:missing"
    ])

    const instance = await dev.sse("/api/v1/events")
    onTestFinished(() => instance.close())
    const { runId, events } = await launchAndWatch(dev, { select: "stats" })
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(events.filter((e) => e.event._tag === "StepSucceeded").map((e) => e.event.key)).toEqual([
      "raw",
      "clean",
      "stats"
    ])
    expect(events.at(-1)?.event).toMatchObject({ _tag: "RunFinished", status: "succeeded" })
    expect(events.find((e) => e.event._tag === "StepLog")?.event).toMatchObject({
      key: "stats",
      stream: "stdout",
      message: "stats of 4 values"
    })
    // The instance stream carried the same run, live.
    await instance.waitFor(
      (e) =>
        e.event === "run-event" && dataOf(e).event._tag === "RunFinished" && dataOf(e).event.runId === runId,
      "the run's end on the instance stream"
    )

    // A reconnecting EventSource goes on after the last seq it saw, and the finished run's stream ends.
    const resumed = await dev.sse(`/api/v1/runs/${runId}/stream`, { "Last-Event-ID": "2" })
    await resumed.waitFor((e) => e.event === "end", "the end of the resumed stream")
    expect(resumed.events.filter((e) => e.event === "run-event").map((e) => dataOf(e).seq)).toEqual(
      events.slice(2).map((e) => e.seq)
    )
    const past = await dev.sse(`/api/v1/runs/${runId}/stream`, { "Last-Event-ID": String(events.length) })
    await past.waitFor((e) => e.event === "end", "the end of a stream resumed past the run's end")
    expect(past.events.map((e) => e.event)).toEqual(["end"])

    const run = await dev.api<RunBody>("GET", `/api/v1/runs/${runId}`)
    expect(run.body.run).toMatchObject({ runId, status: "succeeded", targets: ["stats"] })
    expect(run.body.steps.map((s) => [s.key, s.status, s.attempts, s.partition])).toEqual([
      ["raw", "succeeded", 1, null],
      ["clean", "succeeded", 1, null],
      ["stats", "succeeded", 1, null]
    ])
    const page = await dev.api<{ events: Array<{ seq: number }>; next: number | null }>(
      "GET",
      `/api/v1/runs/${runId}/events?limit=2`
    )
    expect(page.body.events.map((e) => e.seq)).toEqual([1, 2])
    expect(page.body.next).toBe(2)
    const rest = await dev.api<{ events: Array<{ seq: number }>; next: number | null }>(
      "GET",
      `/api/v1/runs/${runId}/events?after=2&limit=500`
    )
    expect(rest.body.events[0]?.seq).toBe(3)
    expect(rest.body.next).toBeNull()

    const stats = await dev.api<{ asset: Record<string, unknown> }>("GET", "/api/v1/assets/stats")
    expect(stats.body.asset).toMatchObject({
      key: "stats",
      status: "fresh",
      upstream: ["clean"],
      downstream: ["flaky"],
      latestMetadata: { count: 4 },
      latest: { runId }
    })
    const history = await dev.api<{ items: Array<{ runId: string; metadata: unknown }>; next: unknown }>(
      "GET",
      "/api/v1/assets/stats/history?limit=5"
    )
    expect(history.body.items).toHaveLength(1)
    expect(history.body.items[0]).toMatchObject({ runId, metadata: { count: 4 } })
    expect((await dev.api("GET", "/api/v1/assets/stats/partitions")).body).toEqual({
      items: [],
      next: null,
      total: 0
    })
    const lineage = await dev.api<{ edges: Array<{ from: string; to: string }> }>("GET", "/api/v1/lineage")
    expect(lineage.body.edges).toContainEqual({ from: "clean", to: "stats" })
    expect(lineage.body.edges).toContainEqual({ from: "stats", to: "flaky" })

    // A partitioned asset: its definition, one partition launched, its partition status paged.
    const regional = await dev.api<{ asset: { partitions: unknown } }>("GET", "/api/v1/assets/regional")
    expect(regional.body.asset.partitions).toEqual({ kind: "static", description: "3 keys: eu, us, apac" })
    const badPartition = await dev.api<{ error: { message: string } }>("POST", "/api/v1/runs", {
      select: "regional",
      partitions: "mars"
    })
    expect(badPartition.status).toBe(400)
    expect(badPartition.body.error.message).toContain("mars")
    const eu = await launchAndWatch(dev, { select: "regional", partitions: "eu" })
    expect(eu.events.at(-1)?.event).toMatchObject({ status: "succeeded" })
    const euRun = await dev.api<RunBody>("GET", `/api/v1/runs/${eu.runId}`)
    expect(euRun.body.steps.map((s) => [s.key, s.partition, s.status])).toEqual([
      ["regional", "eu", "succeeded"]
    ])
    const parts = await dev.api<{
      items: Array<{ partition: string; status: string }>
      next: string | null
      total: number
    }>("GET", "/api/v1/assets/regional/partitions?limit=2")
    expect(parts.body.total).toBe(3)
    expect(parts.body.items.map((p) => [p.partition, p.status])).toEqual([
      ["eu", "materialized"],
      ["us", "missing"]
    ])
    expect(parts.body.next).toBe("us")
    const rest2 = await dev.api<{ items: Array<{ partition: string }>; next: string | null }>(
      "GET",
      "/api/v1/assets/regional/partitions?limit=2&after=us"
    )
    expect(rest2.body.items.map((p) => p.partition)).toEqual(["apac"])
    expect(rest2.body.next).toBeNull()
    expect((await dev.api("GET", "/api/v1/assets/regional/partitions?after=mars")).status).toBe(400)

    // A backfill of the other two partitions: recorded, then driven to the end by the code server.
    const bf = await dev.api<{ backfillId: string }>("POST", "/api/v1/backfills", {
      select: "regional",
      partitions: "us,apac"
    })
    expect(bf.status).toBe(202)
    const done = await dev.until<{
      backfill: { status: string; progress: { total: number; succeeded: number }; runIds: string[] }
    }>(
      `/api/v1/backfills/${bf.body.backfillId}`,
      (b) => b.backfill.status !== "running",
      "the backfill's end"
    )
    expect(done.backfill).toMatchObject({ status: "succeeded", progress: { total: 2, succeeded: 2 } })
    expect(done.backfill.runIds).toHaveLength(1)
    const backfills = await dev.api<{ backfills: Array<{ backfillId: string }> }>("GET", "/api/v1/backfills")
    expect(backfills.body.backfills.map((b) => b.backfillId)).toEqual([bf.body.backfillId])
    expect((await dev.api("GET", "/api/v1/backfills/bf-nope")).status).toBe(404)
    expect(
      (await dev.api("POST", "/api/v1/backfills", { select: "regional", partitions: "mars" })).status
    ).toBe(400)
    const allParts = await dev.api<{ items: Array<{ status: string }> }>(
      "GET",
      "/api/v1/assets/regional/partitions"
    )
    expect(allParts.body.items.map((p) => p.status)).toEqual(["materialized", "materialized", "materialized"])

    // A path key passes as one URL-encoded segment; SQL sees its table.
    const orders = await launchAndWatch(dev, { select: "sales/orders" })
    expect(orders.events.at(-1)?.event).toMatchObject({ status: "succeeded" })
    expect(
      (await dev.api<{ asset: { status: string } }>("GET", "/api/v1/assets/sales%2Forders")).body.asset.status
    ).toBe("fresh")
    const query = await dev.api("POST", "/api/v1/query", {
      sql: "select region, count(*) as n from sales__orders group by 1 order by 1"
    })
    expect(query.body).toEqual({
      columns: [
        { name: "region", type: "VARCHAR" },
        { name: "n", type: "BIGINT" }
      ],
      rows: [
        ["eu", 2],
        ["us", 1]
      ],
      truncated: false
    })
    const limited = await dev.api<{ rows: unknown[]; truncated: boolean }>("POST", "/api/v1/query", {
      sql: `select id from "sales/orders"`,
      limit: 2
    })
    expect(limited.body.rows).toHaveLength(2)
    expect(limited.body.truncated).toBe(true)
    const write = await dev.api<{ error: { message: string } }>("POST", "/api/v1/query", {
      sql: "create table t as select 1"
    })
    expect(write.status).toBe(400)
    expect(write.body.error.message).toContain("only SELECT and EXPLAIN")
    const outside = await dev.api("POST", "/api/v1/query", { sql: "select * from read_csv('/etc/passwd')" })
    expect(outside.status).toBe(400)
    const slow = await dev.api<{ error: { code: string } }>("POST", "/api/v1/query", {
      sql: "select sum(a.range * b.range) from range(200000) a, range(200000) b"
    })
    expect(slow.status).toBe(504)
    expect(slow.body.error.code).toBe("QueryTimeout")

    const runs = await dev.api<{ runs: Array<{ runId: string; startedAt: number }>; next: number | null }>(
      "GET",
      "/api/v1/runs?limit=1"
    )
    expect(runs.body.runs.map((r) => r.runId)).toEqual([orders.runId])
    const older = await dev.api<{ runs: Array<{ runId: string }>; next: number | null }>(
      "GET",
      `/api/v1/runs?limit=5&before=${runs.body.next}`
    )
    expect(older.body.runs.map((r) => r.runId)).toEqual([done.backfill.runIds[0], eu.runId, runId])
    expect((await dev.api("GET", "/api/v1/openapi.json")).status).toBe(200)
    // The UI (or the page saying how to build it) is served at /.
    expect((await fetch(`${dev.url}/`)).headers.get("content-type")).toContain("text/html")
  })

  it("cancel interrupts a running step; reexecute runs again only what failed", async ({
    expect,
    onTestFinished
  }) => {
    const dev = await startDev(FIXTURE, onTestFinished)
    const launched = await dev.api<{ runId: string }>("POST", "/api/v1/runs", { select: "sleepy" })
    expect(launched.status).toBe(202)
    const runId = launched.body.runId
    const stream = await dev.sse(`/api/v1/runs/${runId}/stream`)
    onTestFinished(() => stream.close())
    await stream.waitFor(
      (e) => e.event === "run-event" && dataOf(e).event._tag === "StepStarted",
      "sleepy's start"
    )
    expect(
      (await dev.api<{ asset: { status: string } }>("GET", "/api/v1/assets/sleepy")).body.asset.status
    ).toBe("running")
    const canceled = await dev.api("POST", `/api/v1/runs/${runId}/cancel`)
    expect(canceled).toEqual({ status: 202, body: { runId, status: "canceled" } })
    await stream.waitFor((e) => e.event === "end", "the end of the canceled run")
    const run = await dev.api<RunBody>("GET", `/api/v1/runs/${runId}`)
    expect(run.body.run.status).toBe("canceled")
    expect(run.body.steps).toMatchObject([{ key: "sleepy", status: "canceled" }])
    const again = await dev.api<{ error: { code: string } }>("POST", `/api/v1/runs/${runId}/cancel`)
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe("RunFinished")

    await writeFile(dev.project.path("flaky.flag"), "")
    const failed = await launchAndWatch(dev, { select: "flaky" })
    expect(failed.events.at(-1)?.event).toMatchObject({ _tag: "RunFinished", status: "failed" })
    const failedRun = await dev.api<RunBody>("GET", `/api/v1/runs/${failed.runId}`)
    expect(failedRun.body.steps.find((s) => s.key === "flaky")).toMatchObject({
      status: "failed",
      error: 'asset "flaky" failed: flaky.flag is present'
    })
    expect(
      (await dev.api<{ asset: { status: string } }>("GET", "/api/v1/assets/flaky")).body.asset.status
    ).toBe("missing")

    await rm(dev.project.path("flaky.flag"))
    const reexecuted = await dev.api<{ runId: string }>("POST", `/api/v1/runs/${failed.runId}/reexecute`, {
      fromFailure: true
    })
    expect(reexecuted.status).toBe(202)
    expect(reexecuted.body.runId).not.toBe(failed.runId)
    const rerun = await dev.sse(`/api/v1/runs/${reexecuted.body.runId}/stream`)
    await rerun.waitFor((e) => e.event === "end", "the end of the re-execution")
    const events = rerun.events.filter((e) => e.event === "run-event").map((e) => dataOf(e).event)
    expect(events[0]).toMatchObject({ _tag: "RunStarted", parentRunId: failed.runId })
    expect(events.filter((e) => e._tag === "StepStarted").map((e) => e.key)).toEqual(["flaky"])
    expect(events.at(-1)).toMatchObject({ _tag: "RunFinished", status: "succeeded" })
    expect(
      (await dev.api<{ asset: { status: string } }>("GET", "/api/v1/assets/flaky")).body.asset.status
    ).toBe("fresh")

    // Another process changes the store (a wipe records no event): the catalog follows.
    const wiped = await dev.project.materia("wipe", "--select", "flaky", "--yes")
    expect(wiped.code, wiped.stderr).toBe(0)
    expect(
      (await dev.api<{ asset: { status: string } }>("GET", "/api/v1/assets/flaky")).body.asset.status
    ).toBe("missing")
  })

  it("restarts the code server on a change (a run in flight keeps its code) and reports a load error", async ({
    expect,
    onTestFinished
  }) => {
    const dev = await startDev(FIXTURE, onTestFinished)
    // Answered once the first code server has loaded: the stream then sees only reloads.
    const before = await dev.api<{ codeVersion: string }>("GET", "/api/v1/project")
    const instance = await dev.sse("/api/v1/events")
    onTestFinished(() => instance.close())
    const launched = await dev.api<{ runId: string }>("POST", "/api/v1/runs", { select: "sleepy" })
    const runId = launched.body.runId
    await instance.waitFor(
      (e) => e.event === "run-event" && dataOf(e).event._tag === "StepStarted",
      "sleepy's start"
    )

    await dev.project.editConfig(`description: "sorted"`, `description: "sorted, v2"`)
    const reloaded = await instance.waitFor((e) => e.event === "project-reloaded", "a reload")
    const after = await dev.api<{ codeVersion: string; loadError: unknown }>("GET", "/api/v1/project")
    expect(after.body.loadError).toBeNull()
    expect(after.body.codeVersion, dev.stderr()).not.toBe(before.body.codeVersion)
    expect(dataOf<{ codeVersion: string }>(reloaded).codeVersion).toBe(after.body.codeVersion)
    expect(
      (await dev.api<{ asset: { description: string } }>("GET", "/api/v1/assets/clean")).body.asset
        .description
    ).toBe("sorted, v2")

    // The run started on the old code is still running there; cancel reaches it.
    expect((await dev.api<RunBody>("GET", `/api/v1/runs/${runId}`)).body.run.status).toBe("running")
    expect((await dev.api("POST", `/api/v1/runs/${runId}/cancel`)).body).toEqual({
      runId,
      status: "canceled"
    })

    await dev.project.editConfig("const sleepy = asset(", "const sleepy = = asset(")
    const broken = await instance.waitFor(
      (e) => e.event === "project-reloaded" && dataOf<{ loadError: unknown }>(e).loadError !== null,
      "a reload with a load error"
    )
    const loadError = dataOf<{ loadError: { file: string; line: number; message: string } }>(broken).loadError
    expect(loadError.file).toBe(dev.project.path("materia.config.ts"))
    const text = await readFile(dev.project.path("materia.config.ts"), "utf8")
    const line = text.split("\n").findIndex((l) => l.includes("const sleepy = = asset(")) + 1
    expect(loadError.line).toBe(line)
    const state = await dev.api<{ loadError: unknown }>("GET", "/api/v1/project")
    expect(state.body.loadError).toEqual(loadError)
    const assets = await dev.api<{ error: { code: string; message: string } }>("GET", "/api/v1/assets")
    expect(assets.status).toBe(409)
    expect(assets.body.error.message).toContain(`materia.config.ts:${line}`)
    // The server stays up: the run log still answers.
    expect((await dev.api<{ runs: unknown[] }>("GET", "/api/v1/runs")).body.runs).toHaveLength(1)

    await dev.project.editConfig("const sleepy = = asset(", "const sleepy = asset(")
    const fixed = await dev.until<{ loadError: unknown }>(
      "/api/v1/project",
      (p) => p.loadError === null,
      "the fixed project"
    )
    expect(fixed.loadError).toBeNull()
    expect((await dev.api("GET", "/api/v1/assets")).status).toBe(200)
  })

  it("reports a project broken from the start, keeps its run history readable, and refuses a port in use", async ({
    expect,
    onTestFinished
  }) => {
    const project = await makeTempProject(FIXTURE, onTestFinished)
    const seeded = await project.materia("materialize", "--select", "raw")
    expect(seeded.code, seeded.stderr).toBe(0)
    await project.editConfig("const sleepy = asset(", "const sleepy = = asset(")
    const dev = await attachDev(project, project.start("dev", "--port", "0"))
    const state = await dev.api<{ name: string; loadError: { file: string; line: number } | null }>(
      "GET",
      "/api/v1/project"
    )
    expect(state.body.name).toBe("devtest")
    expect(state.body.loadError?.file).toBe(project.path("materia.config.ts"))
    expect((await dev.api("GET", "/api/v1/assets")).status).toBe(409)
    expect((await dev.api<{ runs: unknown[] }>("GET", "/api/v1/runs")).body.runs).toHaveLength(1)

    const port = new URL(dev.url).port
    const second = await project.materia("dev", "--port", port)
    expect(second.code).toBe(2)
    expect(second.stderr).toContain(`cannot listen on 127.0.0.1:${port}`)
  })
})
