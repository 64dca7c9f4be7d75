/**
 * 1,000 malformed requests against a real `materia dev`: bad JSON, huge bodies, unknown keys, wrong
 * types, path traversal, bad selections and partitions, wrong methods, foreign Host headers and
 * missing tokens. Every answer is a 4xx, the server stays up, and no run or backfill is launched.
 */
import { request } from "node:http"
import { describe, it } from "vitest"
import { CLI_TEST_TIMEOUT } from "../cli/TempProject.ts"
import { startDev } from "./DevProcess.ts"

/** A small deterministic PRNG (mulberry32), so a failure is reproducible. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Malformed {
  readonly method: string
  readonly path: string
  readonly body?: string | undefined
  readonly headers?: Record<string, string> | undefined
  /** Leave the token out. */
  readonly anonymous?: boolean
}

const BAD_SELECTIONS = [
  "zz_nothing",
  "+",
  "++",
  "a,,b",
  ",",
  "group:",
  "group:no_such_group",
  "tag:",
  "tag:=x",
  "tag:team=nobody",
  "+zz+",
  "raw+x",
  "1+",
  "../raw",
  "raw/../../etc",
  "%00",
  "\u0000",
  "𝕣𝕒𝕨",
  "' or 1=1 --",
  "key:raw",
  "*zz*",
  "changed-since:",
  "raww",
  "RAW"
]

const TRAVERSALS = [
  "..%2F..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "..%5C..%5Cwindows",
  "%252e%252e%252f",
  "....%2F%2F",
  "%2Fetc%2Fpasswd",
  "raw%00.json",
  "%C0%AE%C0%AE%2F",
  "a".repeat(600)
]

const JUNK_JSON = [
  "{",
  "}",
  "{ select: raw }",
  "{'select':'raw'}",
  '{"select":"raw",}',
  '{"select":"raw"',
  "[]",
  "null",
  "42",
  '"raw"',
  "",
  "\u0000\u0001",
  '{"select":"raw"}{"select":"raw"}',
  '{"select":"\\ud800"',
  "NaN"
]

const pick = <A>(random: () => number, items: ReadonlyArray<A>): A =>
  items[Math.floor(random() * items.length)]!

/** The `i`-th malformed request; each kind is refused for a reason the server must catch. */
const malformed = (random: () => number, i: number): Malformed => {
  const json = { "Content-Type": "application/json" }
  switch (i % 14) {
    case 0:
      return { method: "POST", path: "/api/v1/runs", body: pick(random, JUNK_JSON), headers: json }
    case 1:
      return {
        method: "POST",
        path: "/api/v1/runs",
        body: JSON.stringify({ select: pick(random, BAD_SELECTIONS) }),
        headers: json
      }
    case 2: {
      const extra = pick(random, [
        "selekt",
        "force ",
        "__proto__",
        "constructor",
        "runId",
        "targets",
        "partition"
      ])
      return { method: "POST", path: "/api/v1/runs", body: `{"select":"raw","${extra}":1}`, headers: json }
    }
    case 3: {
      const body = pick(random, [
        { select: 1 },
        { select: "" },
        { select: ["raw"] },
        { select: "raw", force: "yes" },
        { select: "raw", config: [] },
        { select: "raw", partitions: "2026-01-01" },
        {},
        { sql: "select 1" }
      ])
      return { method: "POST", path: "/api/v1/runs", body: JSON.stringify(body), headers: json }
    }
    case 4:
      // Huge bodies: a few, each over the 1 MiB limit.
      return i % 70 === 4
        ? {
            method: "POST",
            path: "/api/v1/runs",
            body: `{"select":"${"r".repeat(1_100_000)}"}`,
            headers: json
          }
        : {
            method: "POST",
            path: "/api/v1/query",
            body: JSON.stringify({ sql: "select 1", limit: pick(random, [0, -1, 1e9, 1.5, "10"]) }),
            headers: json
          }
    case 5:
      return { method: "GET", path: `/api/v1/assets/${pick(random, TRAVERSALS)}` }
    case 6:
      return { method: "GET", path: `/api/v1/runs/${pick(random, TRAVERSALS)}` }
    case 7:
      return {
        method: "POST",
        path: `/api/v1/runs/${pick(random, ["nope", "20260101T000000-000000", "..", "%2e%2e"])}/${pick(random, ["cancel", "reexecute"])}`,
        body: JSON.stringify({ fromFailure: true }),
        headers: json
      }
    case 8: {
      // Each query is wrong for its endpoint: a bad number, an unknown or repeated parameter.
      const [path, query] = pick(random, [
        [
          "runs",
          pick(random, [
            "limit=0",
            "limit=-5",
            "limit=abc",
            "limit=1e99",
            "before=x",
            "limit=1&limit=2",
            "unknown=1"
          ])
        ],
        ["assets/raw/history", pick(random, ["limit=0", "before=yesterday", "limit=1.5", "after=1"])],
        ["runs/x/events", pick(random, ["after=-1", "limit=0", "after=x", "seq=1"])],
        ["assets/raw/partitions", pick(random, ["limit=0", "limit=x", "before=1", "limit=1&%00=1"])]
      ] as const)
      return { method: "GET", path: `/api/v1/${path}?${query}` }
    }
    case 9:
      return {
        method: pick(random, ["PUT", "DELETE", "PATCH"]),
        path: pick(random, ["/api/v1/runs", "/api/v1/assets/raw", "/api/v1/project"])
      }
    case 10:
      return {
        method: "POST",
        path: "/api/v1/runs",
        body: JSON.stringify({ select: "raw" }),
        headers: {
          ...json,
          ...pick(random, [
            {},
            { Authorization: "Bearer wrong" },
            { Authorization: "Basic abc" },
            { Cookie: "materia_token=wrong" }
          ])
        },
        anonymous: true
      }
    case 11:
      return {
        method: "GET",
        path: "/api/v1/project",
        headers: {
          Host: pick(random, [
            "evil.example",
            "attacker.test:3000",
            "127.0.0.1.nip.io",
            "localhost.evil",
            "localhost:1"
          ])
        }
      }
    case 12:
      return {
        method: "POST",
        path: "/api/v1/runs",
        body: "select=raw",
        headers: {
          "Content-Type": pick(random, [
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=x"
          ])
        }
      }
    default:
      return random() < 0.5
        ? {
            method: "POST",
            path: "/api/v1/query",
            body: JSON.stringify(
              pick(random, [{ sql: "" }, { sql: 5 }, { sql: "select 1", extra: true }, { query: "select 1" }])
            ),
            headers: json
          }
        : {
            method: "POST",
            path: "/api/v1/backfills",
            body: JSON.stringify(
              pick(random, [
                { select: pick(random, BAD_SELECTIONS) },
                { select: "regional", partitions: "mars" },
                { select: "regional", partitions: "" },
                { select: "regional", onlyStale: "yes" },
                { select: "regional", force: true }
              ])
            ),
            headers: json
          }
  }
}

/** Sends one request over node:http (so Host and raw bodies are as given); resolves to the status. */
const send = (port: number, token: string, m: Malformed): Promise<number> =>
  new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: `127.0.0.1:${port}`, ...(m.headers ?? {}) }
    if (!m.anonymous && headers.Authorization === undefined) headers.Authorization = `Bearer ${token}`
    const req = request({ host: "127.0.0.1", port, method: m.method, path: m.path, headers }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    // A server may answer 413 and close before reading a huge body: that is an answer too.
    req.on("error", (error: NodeJS.ErrnoException) =>
      error.code === "EPIPE" || error.code === "ECONNRESET" ? resolve(413) : reject(error)
    )
    if (m.body !== undefined) req.end(m.body)
    else req.end()
  })

describe("materia dev under malformed requests", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("answers 1,000 malformed requests with 4xx only, stays up and launches nothing", async ({
    expect,
    onTestFinished
  }) => {
    const dev = await startDev("../../server/fixtures/dev.ts", onTestFinished)
    const port = Number(new URL(dev.url).port)
    expect((await dev.api("GET", "/api/v1/project")).status).toBe(200)
    const random = prng(20261125)
    const requests = Array.from({ length: 1000 }, (_, i) => malformed(random, i))
    const statuses: Array<{ status: number; request: Malformed }> = []
    for (let i = 0; i < requests.length; i += 20) {
      const batch = requests.slice(i, i + 20)
      const answers = await Promise.all(batch.map((m) => send(port, dev.token, m)))
      for (const [j, status] of answers.entries()) statuses.push({ status, request: batch[j]! })
    }
    const wrong = statuses.filter((s) => s.status < 400 || s.status >= 500)
    expect(
      wrong.map(
        (s) => `${s.status} ${s.request.method} ${s.request.path} ${(s.request.body ?? "").slice(0, 80)}`
      ),
      "requests not answered with a 4xx"
    ).toEqual([])
    expect(statuses).toHaveLength(1000)
    expect(new Set(statuses.map((s) => s.status))).toEqual(new Set([400, 401, 403, 404, 413]))
    // Still up, and nothing ran.
    expect((await dev.api("GET", "/api/v1/project")).status).toBe(200)
    expect((await dev.api("GET", "/api/v1/runs")).body).toEqual({ runs: [], next: null })
    expect((await dev.api("GET", "/api/v1/backfills")).body).toEqual({ backfills: [] })
    const assets = await dev.api<{ assets: Array<{ status: string }> }>("GET", "/api/v1/assets")
    expect(assets.body.assets.every((a) => a.status === "missing")).toBe(true)
  })
})
