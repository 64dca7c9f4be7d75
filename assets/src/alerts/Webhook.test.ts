import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import { TestClock } from "effect/testing"
import { afterEach, describe, expect, it } from "vitest"
import { AlertSummary } from "./AlertSummary.ts"
import { redactUrl, webhookAlert } from "./Webhook.ts"

interface Received {
  readonly at: number
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

type Answer = (res: ServerResponse, request: number) => void

const servers: Array<Server> = []

/** A real HTTP server on 127.0.0.1 and a free port; `answer` replies to the n-th request (from 1). */
const serve = async (answer: Answer) => {
  const received: Array<Received> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      received.push({
        at: Date.now(),
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8")
      })
      answer(res, received.length)
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hook`, port, received }
}

/** A port that was just free and is now closed: connecting to it is refused. */
const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())))
  return port
}

const reply =
  (status: number, body = "", headers: Record<string, string> = {}): Answer =>
  (res) => {
    res.writeHead(status, headers)
    res.end(body)
  }

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

const summary: AlertSummary = {
  version: 1,
  kind: "run",
  project: "shop",
  runId: "r-42",
  status: "failed",
  failedSteps: [
    { key: "model", error: { tag: "UserCodeError", message: "loss is NaN" } },
    { key: "ml/eval", error: { tag: "UserCodeError", message: "no model" } }
  ],
  skippedSteps: 3,
  checks: [
    { asset: "orders", check: "not_empty", passed: true },
    { asset: "orders", check: "no_nulls", passed: false, message: "null_count: 17" }
  ],
  durationMillis: 1234,
  at: 1_700_000_000_000,
  url: "http://localhost:3000/runs/r-42"
}

// Real sockets and real time: these effects run on the default clock, with small bounds.
const send = (alert: ReturnType<typeof webhookAlert>, s: AlertSummary = summary) =>
  Effect.runPromise(alert.send(s))

describe("webhookAlert", () => {
  it("POSTs the summary as JSON that decodes with the AlertSummary schema", async () => {
    const server = await serve(reply(204))
    const alert = webhookAlert({ url: server.url, headers: { authorization: "Bearer t0ken" } })
    const outcome = await send(alert)
    expect(outcome).toMatchObject({ ok: true, attempts: 1, status: 204 })
    expect(outcome.error).toBeUndefined()
    expect(server.received).toHaveLength(1)
    const [req] = server.received
    expect(req!.method).toBe("POST")
    expect(req!.url).toBe("/hook")
    expect(req!.headers["content-type"]).toBe("application/json")
    expect(req!.headers.authorization).toBe("Bearer t0ken")
    expect(Schema.decodeUnknownSync(AlertSummary)(JSON.parse(req!.body))).toEqual(summary)
  })

  it("posts a Slack-compatible body with a one-line text and blocks", async () => {
    const server = await serve(reply(200, "ok"))
    const outcome = await send(webhookAlert({ url: server.url, format: "slack" }))
    expect(outcome.ok).toBe(true)
    const body = JSON.parse(server.received[0]!.body) as { text: string; blocks: Array<{ type: string }> }
    expect(body.text).toBe(
      ":x: run r-42 of shop failed in 1.2 s: 2 steps failed (model: loss is NaN; ml/eval: no model), " +
        "check no_nulls on orders failed, 3 steps skipped"
    )
    expect(body.blocks.map((b) => b.type)).toEqual(["section", "section", "section", "context"])
    expect(JSON.stringify(body.blocks)).toContain("<http://localhost:3000/runs/r-42|View the run>")
  })

  it("retries 5xx answers and succeeds on the third attempt", async () => {
    const server = await serve((res, n) => reply(n <= 2 ? 500 : 200, n <= 2 ? "busy" : "")(res, n))
    const outcome = await send(webhookAlert({ url: server.url, backoff: "5 millis" }))
    expect(outcome).toMatchObject({ ok: true, attempts: 3, status: 200 })
    expect(server.received).toHaveLength(3)
  })

  it("gives up on the last 5xx with its status and body", async () => {
    const server = await serve(reply(502, "bad gateway"))
    const outcome = await send(webhookAlert({ url: server.url, attempts: 2, backoff: "5 millis" }))
    expect(outcome).toMatchObject({ ok: false, attempts: 2, status: 502 })
    expect(outcome.error).toContain("answered 502 Bad Gateway: bad gateway")
  })

  it("does not retry a 4xx answer", async () => {
    const server = await serve(reply(400, "invalid_payload"))
    const outcome = await send(webhookAlert({ url: server.url, backoff: "5 millis" }))
    expect(outcome).toMatchObject({ ok: false, attempts: 1, status: 400 })
    expect(outcome.error).toContain("400 Bad Request: invalid_payload")
    expect(server.received).toHaveLength(1)
  })

  it("does not follow redirects", async () => {
    const target = await serve(reply(200))
    const server = await serve(reply(307, "", { location: target.url }))
    const outcome = await send(webhookAlert({ url: server.url }))
    expect(outcome).toMatchObject({ ok: false, attempts: 1, status: 307 })
    expect(outcome.error).toContain("redirects are not followed")
    expect(target.received).toHaveLength(0)
  })

  it("waits for a 429's Retry-After before the next attempt", async () => {
    const server = await serve((res, n) =>
      reply(n === 1 ? 429 : 200, "", n === 1 ? { "retry-after": "1" } : {})(res, n)
    )
    const outcome = await send(
      webhookAlert({ url: server.url, backoff: "1 millis", totalTimeout: "10 seconds" })
    )
    expect(outcome).toMatchObject({ ok: true, attempts: 2, status: 200 })
    // A lower bound only: the second attempt cannot come before the server allowed it.
    expect(server.received[1]!.at - server.received[0]!.at).toBeGreaterThanOrEqual(950)
  })

  it("stops at once when Retry-After ends past the total bound", async () => {
    const server = await serve(reply(503, "", { "retry-after": "3600" }))
    const outcome = await send(webhookAlert({ url: server.url, backoff: "1 millis" }))
    expect(outcome).toMatchObject({ ok: false, attempts: 1, status: 503 })
    expect(outcome.error).toContain("not retried: Retry-After 3600 s ends after the total timeout of 30s")
  })

  it("times out each attempt on a server that never answers", async () => {
    const server = await serve(() => {})
    const alert = webhookAlert({
      url: server.url,
      timeout: "200 millis",
      totalTimeout: "1 second",
      backoff: "5 millis"
    })
    const outcome = await send(alert)
    expect(outcome.ok).toBe(false)
    expect(outcome.attempts).toBe(3)
    expect(outcome.status).toBeUndefined()
    expect(outcome.error).toContain("timed out after 200ms")
    expect(server.received).toHaveLength(3)
  })

  it("gives up at the total timeout, whatever attempts remain", async () => {
    const server = await serve(() => {})
    const alert = webhookAlert({
      url: server.url,
      attempts: 100,
      timeout: "200 millis",
      totalTimeout: "500 millis",
      backoff: "5 millis"
    })
    const outcome = await send(alert)
    expect(outcome.ok).toBe(false)
    expect(outcome.attempts).toBeLessThan(100)
    expect(outcome.error).toMatch(
      /^gave up after the total timeout of 500ms \(\d+ attempts; last: .*timed out/
    )
  })

  it("keeps the default 30 s bound in Effect time (a TestClock ends a hung delivery)", async () => {
    const server = await serve(() => {})
    const alert = webhookAlert({ url: server.url, attempts: 100 })
    const outcome = await Effect.runPromise(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(alert.send(summary))
        // Let the first request reach the server before the clock moves.
        yield* Effect.promise(async () => {
          while (server.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
        })
        yield* TestClock.adjust("30 seconds")
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(TestClock.layer()))
    )
    expect(outcome.ok).toBe(false)
    expect(outcome.error).toMatch(/^gave up after the total timeout of 30s/)
    expect(outcome.durationMillis).toBe(30_000)
  })

  it("sends nothing for an invalid summary", async () => {
    const server = await serve(reply(200))
    const outcome = await send(webhookAlert({ url: server.url }), { ...summary, skippedSteps: -1 })
    expect(outcome).toMatchObject({ ok: false, attempts: 0 })
    expect(outcome.error).toContain("invalid alert summary")
    expect(server.received).toHaveLength(0)
  })

  it("retries and reports a refused connection", async () => {
    const port = await closedPort()
    const outcome = await send(
      webhookAlert({ url: `http://127.0.0.1:${port}/hook`, attempts: 2, backoff: "5 millis" })
    )
    expect(outcome).toMatchObject({ ok: false, attempts: 2 })
    expect(outcome.error).toContain(`POST http://127.0.0.1:${port}/hook failed: fetch failed`)
    expect(outcome.error).toContain("ECONNREFUSED")
  })

  it("rejects a URL that is not http(s) at construction, naming it", () => {
    expect(() => webhookAlert({ url: "not a url" })).toThrow(TypeError)
    expect(() => webhookAlert({ url: "not a url" })).toThrow('invalid url "not a url"')
    expect(() => webhookAlert({ url: "ftp://example.com/hook" })).toThrow(
      'unsupported url "ftp://example.com/hook": expected an http:// or https:// URL, got ftp'
    )
    expect(() => webhookAlert({ url: "https://example.com/hook", attempts: 0 })).toThrow(TypeError)
    expect(() => webhookAlert({ url: "https://example.com/hook", timeout: "Infinity" })).toThrow(
      /timeout must be a positive, finite duration/
    )
  })

  it("never shows credentials of a bad URL", () => {
    expect(() => webhookAlert({ url: "ftp://bob:hunter22@example.com/x?token=abc123" })).toThrow(
      'unsupported url "ftp://***:***@example.com/x?token=***"'
    )
  })

  it("redacts user info, query values and Slack's secret path", () => {
    expect(redactUrl("https://bob:hunter22@example.com/h?token=abc123&v=2#frag")).toBe(
      "https://***:***@example.com/h?token=***&v=***#***"
    )
    expect(redactUrl("https://k3y@example.com/h?s3cret")).toBe("https://***@example.com/h?***")
    expect(redactUrl("https://hooks.slack.com/services/T000/B000/XXXXXXXX")).toBe(
      "https://hooks.slack.com/services/***"
    )
    expect(redactUrl("https://example.com/hook")).toBe("https://example.com/hook")
    expect(redactUrl("not a url?token=abc123")).toBe("not a url?***")
  })

  it("keeps credentials out of names and reasons", async () => {
    const port = await closedPort()
    const alert = webhookAlert({
      url: `http://bob:hunter22@127.0.0.1:${port}/hook?token=abc123`,
      attempts: 1
    })
    expect(alert.name).toBe(`webhook http://***:***@127.0.0.1:${port}/hook?token=***`)
    const refused = await send(alert)
    expect(refused.ok).toBe(false)
    expect(refused.error).toContain(`http://***:***@127.0.0.1:${port}/hook?token=***`)
    expect(refused.error).not.toMatch(/hunter22|abc123/)

    // fetch refuses URLs with credentials: they go as Basic auth, and the path keeps the query.
    const basic = await serve(reply(200))
    const withCredentials = basic.url.replace("http://", "http://bob:hunter22@")
    expect(await send(webhookAlert({ url: `${withCredentials}?token=abc123` }))).toMatchObject({ ok: true })
    expect(basic.received[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from("bob:hunter22").toString("base64")}`
    )
    expect(basic.received[0]!.url).toBe("/hook?token=abc123")

    // A server that echoes the request back in its error body.
    const server = await serve((res) => {
      res.writeHead(401)
      res.end("bad token in /hook?token=abc123")
    })
    const echoed = await send(webhookAlert({ url: `${server.url}?token=abc123` }))
    expect(echoed).toMatchObject({ ok: false, status: 401 })
    expect(echoed.error).toContain("bad token in /hook?token=***")
  })
})
