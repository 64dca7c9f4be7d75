/**
 * The HTTP app on a real server (a free 127.0.0.1 port) over a real project in a temporary folder
 * (its SQLite store included), served in process: the Host and token guards, validation with 400s
 * that name the key, 404s, 413, the OpenAPI document and the static UI.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { serve } from "@hono/node-server"
import { asset, automate, defineProject, eager, schedule, sensor } from "@materia/assets"
import * as Effect from "effect/Effect"
import type { Hono } from "hono"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openDaemonStore } from "../daemon/OpenDaemonStore.ts"
import { makeDevBackend } from "../dev/DevBackend.ts"
import { inProcessProject } from "../dev/InProcessProject.ts"
import { makeApp } from "./App.ts"

const TOKEN = "test-token-1234"

interface Served {
  readonly url: string
  readonly port: number
  readonly close: () => Promise<void>
}

/** Serves the app of a project rooted at `root` on a free port, as `host` (the name it answers to). */
const serveApp = async (root: string, uiDir: string, host = "127.0.0.1"): Promise<Served> => {
  const raw = asset("raw", { group: "ingest" }, () => [3, 1, 2])
  const sorted = asset("sorted", { ins: { raw }, freshness: { maxAge: "1 hour" } }, ({ raw }) =>
    [...raw].sort()
  )
  const project = defineProject({
    name: "apptest",
    assets: [raw, sorted],
    root,
    schedules: [
      schedule("nightly", { cron: "0 1 * * *", timezone: "Europe/Berlin", select: "sorted" }),
      schedule("every_second", { cron: "* * * * * *", select: "raw", defaultStatus: "running" })
    ],
    sensors: [sensor("watcher", { interval: "30 seconds", evaluate: () => ({ skipReason: "nothing new" }) })],
    automations: [automate("sorted", eager())]
  })
  const backend = makeDevBackend(await inProcessProject(project, root))
  let app: Hono | undefined
  const server = serve({ fetch: (r, env) => app!.fetch(r, env), hostname: "127.0.0.1", port: 0 })
  await new Promise<void>((resolve) => server.once("listening", resolve))
  const port = (server.address() as AddressInfo).port
  app = makeApp({ backend, token: TOKEN, host, port, uiDir, maxBodyBytes: 64 * 1024 })
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await backend.close()
    }
  }
}

let dir: string
let served: Served
const auth = { Authorization: `Bearer ${TOKEN}` }
const json = { "Content-Type": "application/json" }

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "materia-app-"))
  await mkdir(join(dir, "ui", "assets"), { recursive: true })
  await writeFile(join(dir, "ui", "index.html"), "<!doctype html><title>ui</title>")
  await writeFile(join(dir, "ui", "assets", "app-1.js"), "console.log(1)")
  served = await serveApp(dir, join(dir, "ui"))
})

afterAll(async () => {
  await served?.close()
  await rm(dir, { recursive: true, force: true })
})

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${served.url}${path}`, { headers })
const post = (
  path: string,
  body: string | undefined,
  headers: Record<string, string> = { ...auth, ...json }
) => fetch(`${served.url}${path}`, { method: "POST", headers, ...(body === undefined ? {} : { body }) })
const errorOf = async (response: Response) =>
  ((await response.json()) as { error: { code: string; message: string } }).error

describe("guards", () => {
  it("refuses a Host header that is not the server's name (403), accepts the loopback names", async () => {
    // fetch cannot override Host: go through node:http.
    const { request } = await import("node:http")
    const statusWith = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: served.port, path: "/api/v1/project", headers: { Host: host } },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          }
        )
        req.on("error", reject)
        req.end()
      })
    expect(await statusWith("evil.example:80")).toBe(403)
    expect(await statusWith(`evil.example:${served.port}`)).toBe(403)
    expect(await statusWith("127.0.0.1")).toBe(403) // another port (80)
    expect(await statusWith(`localhost:${served.port}`)).toBe(200)
    expect(await statusWith(`127.0.0.1:${served.port}`)).toBe(200)
  })

  it("needs the token for mutations and SQL (401), as a bearer or the cookie from /auth", async () => {
    const launch = JSON.stringify({ select: "raw" })
    expect((await post("/api/v1/runs", launch, json)).status).toBe(401)
    expect((await post("/api/v1/runs", launch, { ...json, Authorization: "Bearer nope" })).status).toBe(401)
    expect((await post("/api/v1/query", JSON.stringify({ sql: "select 1" }), json)).status).toBe(401)
    expect((await post("/api/v1/runs/r1/cancel", undefined, {})).status).toBe(401)
    expect(await errorOf(await post("/api/v1/runs", launch, json))).toMatchObject({ code: "Unauthorized" })

    const wrong = await fetch(`${served.url}/auth?token=nope`, { redirect: "manual" })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get("set-cookie")).toBeNull()
    const login = await fetch(`${served.url}/auth?token=${TOKEN}`, { redirect: "manual" })
    expect(login.status).toBe(302)
    expect(login.headers.get("location")).toBe("/")
    const cookie = login.headers.get("set-cookie")!
    expect(cookie).toContain(`materia_token=${TOKEN}`)
    expect(cookie).toContain("HttpOnly")
    expect(cookie).toContain("SameSite=Strict")
    const query = await post("/api/v1/query", JSON.stringify({ sql: "select 41 + 1 as answer" }), {
      ...json,
      Cookie: `materia_token=${TOKEN}`
    })
    expect(query.status).toBe(200)
    expect(await query.json()).toEqual({
      columns: [{ name: "answer", type: "INTEGER" }],
      rows: [[42]],
      truncated: false
    })
  })

  it("opens reads on loopback only: served under another name, reads need the token too", async () => {
    const other = await serveApp(dir, join(dir, "ui"), "localhost")
    try {
      const { request } = await import("node:http")
      const read = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const req = request(
            {
              host: "127.0.0.1",
              port: other.port,
              path: "/api/v1/assets",
              headers: { Host: `localhost:${other.port}`, ...headers }
            },
            (res) => {
              res.resume()
              resolve(res.statusCode ?? 0)
            }
          )
          req.on("error", reject)
          req.end()
        })
      // "localhost" is a loopback name: reads are open.
      expect(await read({})).toBe(200)
    } finally {
      await other.close()
    }
    const exposed = await serveApp(dir, join(dir, "ui"), "192.0.2.10")
    try {
      const response = await fetch(`${exposed.url}/api/v1/assets`)
      expect(response.status).toBe(401)
      expect((await fetch(`${exposed.url}/api/v1/assets`, { headers: auth })).status).toBe(200)
    } finally {
      await exposed.close()
    }
  })
})

describe("validation", () => {
  it("names an unknown body key, a wrong type and an unknown query parameter (400)", async () => {
    const unknown = await post("/api/v1/runs", JSON.stringify({ select: "raw", selekt: "x" }))
    expect(unknown.status).toBe(400)
    expect((await errorOf(unknown)).message).toBe('unknown body "selekt"')
    const typed = await post("/api/v1/runs", JSON.stringify({ select: 3 }))
    expect(typed.status).toBe(400)
    expect((await errorOf(typed)).message).toContain('body "select": Expected string')
    const query = await get("/api/v1/runs?limit=10&sort=asc")
    expect(query.status).toBe(400)
    expect((await errorOf(query)).message).toBe('unknown query parameter "sort"')
    const limit = await get("/api/v1/runs?limit=0")
    expect(limit.status).toBe(400)
    expect((await errorOf(limit)).message).toContain('query parameter "limit"')
    const reexecute = await post("/api/v1/runs/r1/reexecute", JSON.stringify({ fromFailure: false }))
    expect(reexecute.status).toBe(400)
  })

  it("answers malformed JSON and a wrong content type with 400, a huge body with 413", async () => {
    const malformed = await post("/api/v1/runs", "{ not json")
    expect(malformed.status).toBe(400)
    expect(await errorOf(malformed)).toMatchObject({ code: "InvalidRequest" })
    expect(
      (
        await post("/api/v1/runs", "select=raw", {
          ...auth,
          "Content-Type": "application/x-www-form-urlencoded"
        })
      ).status
    ).toBe(400)
    const huge = await post("/api/v1/query", JSON.stringify({ sql: `select '${"x".repeat(100_000)}'` }))
    expect(huge.status).toBe(413)
    expect(await errorOf(huge)).toMatchObject({ code: "TooLarge" })
  })

  it("refuses a selection that matches nothing, naming the nearest key", async () => {
    const response = await post("/api/v1/runs", JSON.stringify({ select: "sortd" }))
    expect(response.status).toBe(400)
    expect((await errorOf(response)).message).toContain('"sorted"')
  })
})

describe("reads", () => {
  it("lists assets and lineage, and 404s an unknown asset, run or endpoint with its name", async () => {
    const assets = (await (await get("/api/v1/assets")).json()) as {
      assets: Array<{ key: string; status: string; upstream: Array<string> }>
    }
    expect(assets.assets.map((a) => [a.key, a.status, a.upstream])).toEqual([
      ["raw", "missing", []],
      ["sorted", "missing", ["raw"]]
    ])
    expect(await (await get("/api/v1/lineage")).json()).toEqual({
      nodes: [
        { key: "raw", group: "ingest", status: "missing" },
        { key: "sorted", group: "default", status: "missing" }
      ],
      edges: [{ from: "raw", to: "sorted" }]
    })
    const asset = await get("/api/v1/assets/sortd")
    expect(asset.status).toBe(404)
    expect((await errorOf(asset)).message).toBe(
      'no asset "sortd" in project "apptest" (did you mean "sorted"?)'
    )
    const run = await get("/api/v1/runs/20260101T000000-abcdef")
    expect(run.status).toBe(404)
    expect((await errorOf(run)).message).toContain('"20260101T000000-abcdef"')
    expect((await get("/api/v1/runs/20260101T000000-abcdef/events")).status).toBe(404)
    expect((await get("/api/v1/runs/20260101T000000-abcdef/stream")).status).toBe(404)
    expect((await post("/api/v1/runs/20260101T000000-abcdef/cancel", undefined, auth)).status).toBe(404)
    expect((await get("/api/v1/nothing")).status).toBe(404)
  })

  it("serves an OpenAPI 3.1 document generated from the Schemas", async () => {
    const doc = (await (await get("/api/v1/openapi.json")).json()) as {
      openapi: string
      paths: Record<string, Record<string, { requestBody?: unknown }>>
      components: { schemas: Record<string, { additionalProperties?: unknown; required?: Array<string> }> }
    }
    expect(doc.openapi).toBe("3.1.0")
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/auth",
        "/api/v1/project",
        "/api/v1/assets",
        "/api/v1/assets/{key}",
        "/api/v1/assets/{key}/history",
        "/api/v1/assets/{key}/partitions",
        "/api/v1/lineage",
        "/api/v1/runs",
        "/api/v1/runs/{id}",
        "/api/v1/runs/{id}/events",
        "/api/v1/runs/{id}/cancel",
        "/api/v1/runs/{id}/reexecute",
        "/api/v1/query",
        "/api/v1/backfills",
        "/api/v1/backfills/{id}",
        "/api/v1/backfills/{id}/cancel",
        "/api/v1/schedules",
        "/api/v1/schedules/{name}/ticks",
        "/api/v1/schedules/{name}/start",
        "/api/v1/schedules/{name}/stop",
        "/api/v1/sensors",
        "/api/v1/sensors/{name}/ticks",
        "/api/v1/sensors/{name}/start",
        "/api/v1/sensors/{name}/stop",
        "/api/v1/automation",
        "/api/v1/automation/{key}/ticks",
        "/api/v1/freshness/{key}/ticks",
        "/api/v1/freshness",
        "/api/v1/daemon",
        "/api/v1/events",
        "/api/v1/runs/{id}/stream",
        "/api/v1/openapi.json"
      ].sort()
    )
    expect(doc.components.schemas.LaunchRequest).toMatchObject({
      additionalProperties: false,
      required: ["select"]
    })
    expect(doc.components.schemas.AssetSummary?.required).toContain("status")
    expect(doc.paths["/api/v1/runs"]?.post?.requestBody).toBeDefined()
  })
})

describe("schedules, sensors and automation conditions", () => {
  interface Schedule {
    name: string
    cron: string
    timezone: string
    select: Array<string>
    status: string
    defaultStatus: string
    isDefault: boolean
    startedAt: number | null
    nextTicks: Array<number>
    lastTick: unknown
  }
  const schedules = async () =>
    ((await (await get("/api/v1/schedules")).json()) as { schedules: Array<Schedule> }).schedules
  const storedState = async (kind: "schedule" | "sensor", name: string) => {
    const store = await openDaemonStore(dir, undefined, {})
    try {
      return await Effect.runPromise(store.state(kind, name))
    } finally {
      await Effect.runPromise(store.close())
    }
  }

  it("lists schedules with their default status and next ticks; start and stop change the stored state", async () => {
    const listed = await schedules()
    expect(listed.map((s) => [s.name, s.cron, s.timezone, s.select, s.status, s.isDefault])).toEqual([
      ["nightly", "0 1 * * *", "Europe/Berlin", ["sorted"], "stopped", true],
      ["every_second", "* * * * * *", "UTC", ["raw"], "running", true]
    ])
    const [nightly, everySecond] = listed
    expect(nightly).toMatchObject({ nextTicks: [], lastTick: null, startedAt: null })
    expect(everySecond!.nextTicks).toHaveLength(5)
    expect(everySecond!.nextTicks.every((t, i, all) => i === 0 || t - all[i - 1]! === 1000)).toBe(true)

    expect((await post("/api/v1/schedules/nightly/start", undefined, {})).status).toBe(401)
    expect(await storedState("schedule", "nightly")).toBeUndefined()
    const started = await post("/api/v1/schedules/nightly/start", undefined, auth)
    expect(started.status).toBe(200)
    const body = (await started.json()) as { schedule: Schedule }
    expect(body.schedule).toMatchObject({ name: "nightly", status: "running", isDefault: false })
    expect(body.schedule.nextTicks).toHaveLength(5)
    expect(body.schedule.startedAt).toBeTypeOf("number")
    expect(await storedState("schedule", "nightly")).toMatchObject({ status: "running" })
    expect((await schedules())[0]).toMatchObject({ status: "running", isDefault: false })

    const stopped = await post("/api/v1/schedules/nightly/stop", undefined, auth)
    expect(((await stopped.json()) as { schedule: Schedule }).schedule).toMatchObject({
      status: "stopped",
      isDefault: true,
      nextTicks: []
    })
    expect(await storedState("schedule", "nightly")).toMatchObject({ status: "stopped" })
  })

  it("404s an unknown schedule, sensor or automated asset naming the known ones; 400s a bad name or limit", async () => {
    const start = await post("/api/v1/schedules/nightli/start", undefined, auth)
    expect(start.status).toBe(404)
    expect((await errorOf(start)).message).toBe(
      'no schedule "nightli" in project "apptest" (did you mean "nightly"?); schedules: nightly, every_second'
    )
    const ticks = await get("/api/v1/sensors/nope/ticks")
    expect(ticks.status).toBe(404)
    expect((await errorOf(ticks)).message).toContain("sensors: watcher")
    const automation = await get("/api/v1/automation/sortd/ticks")
    expect(automation.status).toBe(404)
    expect((await errorOf(automation)).message).toContain('did you mean "sorted"')
    expect(await storedState("schedule", "nightli")).toBeUndefined()

    const badName = await get("/api/v1/schedules/bad%20name/ticks")
    expect(badName.status).toBe(400)
    expect((await errorOf(badName)).message).toContain('path parameter "name"')
    const badLimit = await get("/api/v1/schedules/nightly/ticks?limit=0")
    expect(badLimit.status).toBe(400)
    expect((await errorOf(badLimit)).message).toContain('query parameter "limit"')
    expect((await get("/api/v1/schedules/nightly/ticks?limit=5&order=asc")).status).toBe(400)
  })

  it("answers the tick history newest first with each tick's runs, skip reason and error", async () => {
    const store = await openDaemonStore(dir, undefined, {})
    try {
      const commit = (at: number, status: "requested" | "skipped" | "failed", runIds: Array<string>) =>
        Effect.runPromise(
          store.commitTick({
            tick: {
              tickId: `schedule:every_second@${at}`,
              kind: "schedule",
              name: "every_second",
              tickAt: at,
              evaluatedAt: at + 5,
              status,
              runIds,
              ...(status === "skipped" ? { skipReason: "nothing to do" } : {}),
              ...(status === "failed" ? { error: "boom" } : {})
            },
            runs: runIds.map((id) => ({
              id,
              tickId: `schedule:every_second@${at}`,
              kind: "schedule" as const,
              name: "every_second",
              request: { select: ["raw"], partitions: ["p1"] },
              status: "queued" as const,
              enqueuedAt: at + 5
            })),
            state: { kind: "schedule", name: "every_second", status: "running", startedAt: 0, lastTickAt: at }
          })
        )
      await commit(1000, "requested", ["q1"])
      await commit(2000, "skipped", [])
      await commit(3000, "failed", [])
      await Effect.runPromise(store.updateRun("q1", { status: "succeeded", runId: "run-1", endedAt: 1100 }))
    } finally {
      await Effect.runPromise(store.close())
    }
    const response = await get("/api/v1/schedules/every_second/ticks?limit=10")
    expect(response.status).toBe(200)
    const { ticks } = (await response.json()) as {
      ticks: Array<{ tickAt: number; status: string; runs: Array<unknown>; skipReason: string | null }>
    }
    expect(ticks.map((t) => [t.tickAt, t.status])).toEqual([
      [3000, "failed"],
      [2000, "skipped"],
      [1000, "requested"]
    ])
    expect(ticks[0]).toMatchObject({ error: "boom", runs: [], skipReason: null })
    expect(ticks[1]).toMatchObject({ skipReason: "nothing to do" })
    expect(ticks[2]!.runs).toEqual([
      {
        id: "q1",
        status: "succeeded",
        runId: "run-1",
        select: "raw",
        partitions: ["p1"],
        enqueuedAt: 1005,
        launchedAt: null,
        endedAt: 1100,
        error: null
      }
    ])
    const limited = (await (await get("/api/v1/schedules/every_second/ticks?limit=1")).json()) as {
      ticks: Array<{ tickAt: number }>
    }
    expect(limited.ticks.map((t) => t.tickAt)).toEqual([3000])
    expect((await schedules())[1]?.lastTick).toMatchObject({ tickAt: 3000, status: "failed" })
  })

  it("lists sensors and automation conditions, starts and stops a sensor, and says no daemon runs", async () => {
    const sensors = (await (await get("/api/v1/sensors")).json()) as { sensors: Array<unknown> }
    expect(sensors.sensors).toEqual([
      {
        name: "watcher",
        intervalMillis: 30_000,
        timeoutMillis: 60_000,
        status: "stopped",
        defaultStatus: "stopped",
        isDefault: true,
        cursor: null,
        nextTickAt: null,
        lastTick: null
      }
    ])
    const started = await post("/api/v1/sensors/watcher/start", undefined, auth)
    expect(started.status).toBe(200)
    expect(await started.json()).toMatchObject({ sensor: { status: "running", isDefault: false } })
    expect(await storedState("sensor", "watcher")).toMatchObject({ status: "running" })
    await post("/api/v1/sensors/watcher/stop", undefined, auth)
    expect(await storedState("sensor", "watcher")).toMatchObject({ status: "stopped" })
    expect(await (await get("/api/v1/automation")).json()).toEqual({
      automations: [{ key: "sorted", condition: "eager", status: "running", lastTick: null }]
    })
    expect(await (await get("/api/v1/daemon")).json()).toMatchObject({ state: "off", pid: null })
  })
})

describe("freshness policies", () => {
  it("lists each policy with the daemon's last verdict, and its verdicts newest first", async () => {
    expect(await (await get("/api/v1/freshness")).json()).toEqual({
      policies: [{ key: "sorted", maxAgeMillis: 3_600_000, verdict: null, lastTick: null }]
    })
    const store = await openDaemonStore(dir, undefined, {})
    try {
      const verdict = (at: number, status: "fresh" | "overdue", reason: string) =>
        Effect.runPromise(
          store.commitTick({
            tick: {
              tickId: `freshness:sorted@${at}`,
              kind: "freshness",
              name: "sorted",
              tickAt: at,
              evaluatedAt: at,
              status,
              runIds: [],
              reason,
              cursor: status
            },
            runs: [],
            state: { kind: "freshness", name: "sorted", status: "running", lastTickAt: at, cursor: status }
          })
        )
      await verdict(1000, "fresh", "materialized 10 minutes ago")
      await verdict(2000, "overdue", "materialized 2 hours ago, older than its 1 hour freshness policy")
    } finally {
      await Effect.runPromise(store.close())
    }
    const listed = (await (await get("/api/v1/freshness")).json()) as {
      policies: Array<{ verdict: string; lastTick: { status: string; reason: string } }>
    }
    expect(listed.policies[0]).toMatchObject({
      verdict: "overdue",
      lastTick: { status: "overdue", reason: expect.stringContaining("older than") }
    })
    const ticks = (await (await get("/api/v1/freshness/sorted/ticks")).json()) as {
      ticks: Array<{ tickAt: number; status: string; runs: Array<unknown> }>
    }
    expect(ticks.ticks.map((t) => [t.tickAt, t.status, t.runs.length])).toEqual([
      [2000, "overdue", 0],
      [1000, "fresh", 0]
    ])
    const unknown = await get("/api/v1/freshness/raw/ticks")
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain(
      "assets with a freshness policy: sorted"
    )
  })
})

describe("the UI", () => {
  it("serves the built files, index.html for app paths, and never a file outside the build", async () => {
    const index = await get("/")
    expect(index.headers.get("content-type")).toContain("text/html")
    expect(await index.text()).toContain("<title>ui</title>")
    const script = await get("/assets/app-1.js")
    expect(script.headers.get("content-type")).toContain("javascript")
    expect(script.headers.get("cache-control")).toContain("immutable")
    expect(await (await get("/runs/abc")).text()).toContain("<title>ui</title>")
    for (const path of [
      "/../../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/assets/..%2f..%2fApp.test.ts"
    ]) {
      const body = await (await get(path)).text()
      expect(body).toContain("<title>ui</title>")
      expect(body).not.toContain("root:")
    }
  })

  it("says how to build the UI when it is not built", async () => {
    const bare = await serveApp(dir, join(dir, "no-ui"))
    try {
      const text = await (await fetch(`${bare.url}/`)).text()
      expect(text).toContain("npm run build:ui -w server")
    } finally {
      await bare.close()
    }
  })
})
