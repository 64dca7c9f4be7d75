/**
 * The hono app of `materia dev`: the JSON API under `/api/v1` (every parameter and body validated
 * by the effect Schemas of ApiSchemas.ts, unknown keys refused), its OpenAPI document, live events
 * as Server-Sent Events, the token and Host guards, and the UI's static files. It talks to Materia
 * only through a `Backend`.
 */
import { sValidator } from "@hono/standard-validator"
import * as Schema from "effect/Schema"
import { type Context, Hono, type MiddlewareHandler } from "hono"
import { bodyLimit } from "hono/body-limit"
import { HTTPException } from "hono/http-exception"
import { type SSEStreamingApi, streamSSE } from "hono/streaming"
import { ApiError, type ApiStatus } from "./ApiError.ts"
import * as Api from "./ApiSchemas.ts"
import type { Backend, LiveMessage, SeqEvent } from "./Backend.ts"
import { openApiDocument, type RouteDoc } from "./OpenApi.ts"
import {
  allowedHosts,
  bearerOf,
  cookieOf,
  isLoopback,
  TOKEN_COOKIE,
  tokenCookie,
  tokenMatches
} from "./Security.ts"
import { loadStaticUi, type StaticUi } from "./StaticUi.ts"

export interface AppOptions {
  readonly backend: Backend
  readonly token: string
  /** The address the server listens on and its port: the Host header must name them (or loopback). */
  readonly host: string
  readonly port: number
  /** More names the Host header may carry (the machine's names and addresses, for `--host 0.0.0.0`). */
  readonly hostNames?: ReadonlyArray<string> | undefined
  /** The built UI (`server/ui/dist`). */
  readonly uiDir: string
  /** Largest request body accepted (default 1 MiB); larger is a 413. */
  readonly maxBodyBytes?: number | undefined
  /** How often SSE streams send a keep-alive comment (default 15 s). */
  readonly keepAliveMillis?: number | undefined
  /** How often a run's stream re-reads the stored log, for runs driven elsewhere (default 1 s). */
  readonly pollMillis?: number | undefined
}

const VERSION = "1"

/** The answer of every failure: `{ error: { code, message } }`. */
const errorResponse = (c: Context, status: ApiStatus, code: string, message: string) =>
  c.json({ error: { code, message } }, status)

/** Standard Schema of one of our Schemas, refusing unknown keys. */
const strict = <S extends Schema.Decoder<unknown>>(schema: S) =>
  Schema.toStandardSchemaV1(schema, { parseOptions: { onExcessProperty: "error", errors: "all" } })

const TARGET_NAMES = { json: "body", query: "query parameter", param: "path parameter" } as const

/** A validator whose failures are 400s naming each wrong key and what was expected. */
const validate = <T extends keyof typeof TARGET_NAMES, S extends Schema.Decoder<unknown>>(
  target: T,
  schema: S
) =>
  sValidator(target, strict(schema), (result, c) => {
    if (result.success) return
    const details = result.error.map((issue) => {
      const path = (issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".")
      const message =
        issue.message === "Expected no excess property"
          ? `unknown ${TARGET_NAMES[target]} "${path}"`
          : issue.message
      return path === "" || message.startsWith("unknown")
        ? message
        : `${TARGET_NAMES[target]} "${path}": ${message}`
    })
    return errorResponse(c, 400, "InvalidRequest", [...new Set(details)].join("; "))
  })

/** Builds the app. */
export const makeApp = (options: AppOptions): Hono => {
  const { backend, token } = options
  const hosts = allowedHosts(options.host, options.port, options.hostNames)
  const openReads = isLoopback(options.host)
  const keepAliveMillis = options.keepAliveMillis ?? 15_000
  const pollMillis = options.pollMillis ?? 1000
  let ui: StaticUi = loadStaticUi(options.uiDir)
  let uiCheckedAt = Date.now()
  const routes: Array<RouteDoc> = []
  const app = new Hono()

  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error.status, error.code, error.message)
    if (error instanceof HTTPException) {
      const status = error.status === 413 ? 413 : error.status >= 500 ? 500 : 400
      return errorResponse(c, status, status === 413 ? "TooLarge" : "InvalidRequest", error.message)
    }
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(
      `materia dev: ${c.req.method} ${c.req.path} failed: ${error instanceof Error ? error.stack : message}\n`
    )
    return errorResponse(c, 500, "Internal", message)
  })

  // DNS rebinding: a page on another name that resolves to us must not reach the API.
  app.use("*", async (c, next) => {
    const host = c.req.header("host")?.toLowerCase()
    if (host === undefined || !hosts.has(host))
      return errorResponse(
        c,
        403,
        "ForbiddenHost",
        `Host "${host ?? ""}" is not this server's name; use one of ${[...hosts].join(", ")}`
      )
    await next()
  })

  const authorized = (c: Context): boolean =>
    tokenMatches(token, bearerOf(c.req.header("authorization"))) ||
    tokenMatches(token, cookieOf(c.req.header("cookie"), TOKEN_COOKIE))

  const requireToken: MiddlewareHandler = async (c, next) => {
    if (!authorized(c))
      return errorResponse(
        c,
        401,
        "Unauthorized",
        "this endpoint needs the token: send `Authorization: Bearer <token>`, or open the URL `materia dev` printed (/auth?token=…) to get the cookie"
      )
    await next()
  }

  app.use("/api/*", async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return requireToken(c, next)
    if (!openReads) return requireToken(c, next)
    await next()
  })
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: options.maxBodyBytes ?? 1024 * 1024,
      onError: (c) =>
        errorResponse(
          c,
          413,
          "TooLarge",
          `the request body is larger than ${options.maxBodyBytes ?? 1024 * 1024} bytes`
        )
    })
  )

  const doc = (route: RouteDoc) => routes.push(route)

  // ---- auth ----------------------------------------------------------------------------------
  app.get("/auth", validate("query", Api.AuthQuery), (c) => {
    if (!tokenMatches(token, c.req.valid("query").token))
      return errorResponse(c, 401, "Unauthorized", "the token in this URL is not the server's token")
    c.header("Set-Cookie", tokenCookie(token))
    c.header("Cache-Control", "no-store")
    return c.redirect("/", 302)
  })
  doc({
    method: "get",
    path: "/auth",
    summary: "check the token, set the cookie and redirect to /",
    query: Api.AuthQuery,
    status: 302
  })

  // ---- project and assets ----------------------------------------------------------------------
  const base = "/api/v1"
  const sendJsonText = (c: Context, text: string | Uint8Array) =>
    c.body(text as string | Uint8Array<ArrayBuffer>, 200, { "Content-Type": "application/json" })

  app.get(`${base}/project`, validate("query", Api.EmptyQuery), async (c) => c.json(await backend.project()))
  doc({
    method: "get",
    path: `${base}/project`,
    summary: "the project: name, root, code version, load error",
    response: Api.ProjectInfo
  })

  app.get(`${base}/assets`, validate("query", Api.EmptyQuery), async (c) =>
    backend.assetsJson !== undefined
      ? sendJsonText(c, await backend.assetsJson())
      : c.json({ assets: await backend.assets() })
  )
  doc({
    method: "get",
    path: `${base}/assets`,
    summary: "every asset with its status",
    response: Api.AssetList
  })

  app.get(
    `${base}/assets/:key`,
    validate("param", Api.KeyParam),
    validate("query", Api.EmptyQuery),
    async (c) => c.json({ asset: await backend.asset(c.req.valid("param").key) })
  )
  doc({
    method: "get",
    path: `${base}/assets/:key`,
    summary: "one asset (key URL-encoded as one segment): definition, neighbours, checks, latest metadata",
    params: Api.KeyParam,
    response: Api.AssetResponse
  })

  app.get(
    `${base}/assets/:key/history`,
    validate("param", Api.KeyParam),
    validate("query", Api.HistoryQuery),
    async (c) => {
      const q = c.req.valid("query")
      return c.json(
        await backend.history(c.req.valid("param").key, { limit: q.limit ?? 50, before: q.before })
      )
    }
  )
  doc({
    method: "get",
    path: `${base}/assets/:key/history`,
    summary: "materializations of an asset, newest first",
    params: Api.KeyParam,
    query: Api.HistoryQuery,
    response: Api.HistoryPage
  })

  app.get(
    `${base}/assets/:key/partitions`,
    validate("param", Api.KeyParam),
    validate("query", Api.PartitionsQuery),
    async (c) => {
      const q = c.req.valid("query")
      return c.json(
        await backend.partitions(c.req.valid("param").key, { limit: q.limit ?? 100, after: q.after })
      )
    }
  )
  doc({
    method: "get",
    path: `${base}/assets/:key/partitions`,
    summary: "the status of each partition of an asset",
    params: Api.KeyParam,
    query: Api.PartitionsQuery,
    response: Api.PartitionPage
  })

  app.get(`${base}/lineage`, validate("query", Api.EmptyQuery), async (c) =>
    backend.lineageJson !== undefined
      ? sendJsonText(c, await backend.lineageJson())
      : c.json(await backend.lineage())
  )
  doc({
    method: "get",
    path: `${base}/lineage`,
    summary: "the asset graph (edges from upstream to downstream)",
    response: Api.Lineage
  })

  // ---- runs ------------------------------------------------------------------------------------
  app.get(`${base}/runs`, validate("query", Api.RunsQuery), async (c) => {
    const q = c.req.valid("query")
    return c.json(await backend.runs({ limit: q.limit ?? 50, before: q.before }))
  })
  doc({
    method: "get",
    path: `${base}/runs`,
    summary: "runs, newest first",
    query: Api.RunsQuery,
    response: Api.RunList
  })

  app.get(
    `${base}/runs/:id`,
    validate("param", Api.RunIdParam),
    validate("query", Api.EmptyQuery),
    async (c) => c.json(await backend.run(c.req.valid("param").id))
  )
  doc({
    method: "get",
    path: `${base}/runs/:id`,
    summary: "one run and its steps",
    params: Api.RunIdParam,
    response: Api.RunResponse
  })

  app.get(
    `${base}/runs/:id/events`,
    validate("param", Api.RunIdParam),
    validate("query", Api.EventsQuery),
    async (c) => {
      const q = c.req.valid("query")
      return c.json(
        await backend.events(c.req.valid("param").id, { after: q.after ?? 0, limit: q.limit ?? 500 })
      )
    }
  )
  doc({
    method: "get",
    path: `${base}/runs/:id/events`,
    summary: "a run's stored events (logs and captured output included), paged by seq",
    params: Api.RunIdParam,
    query: Api.EventsQuery,
    response: Api.EventPage
  })

  app.post(`${base}/runs`, validate("json", Api.LaunchBody), async (c) =>
    c.json(await backend.launch(c.req.valid("json")), 202)
  )
  doc({
    method: "post",
    path: `${base}/runs`,
    summary: "launch a materialization of a selection",
    body: Api.LaunchBody,
    response: Api.Accepted,
    status: 202,
    auth: true
  })

  app.post(`${base}/runs/:id/cancel`, validate("param", Api.RunIdParam), async (c) =>
    c.json(await backend.cancel(c.req.valid("param").id), 202)
  )
  doc({
    method: "post",
    path: `${base}/runs/:id/cancel`,
    summary: "cancel a running run (its running steps are interrupted)",
    params: Api.RunIdParam,
    response: Api.CancelResponse,
    status: 202,
    auth: true
  })

  app.post(
    `${base}/runs/:id/reexecute`,
    validate("param", Api.RunIdParam),
    validate("json", Api.ReexecuteBody),
    async (c) => c.json(await backend.reexecute(c.req.valid("param").id), 202)
  )
  doc({
    method: "post",
    path: `${base}/runs/:id/reexecute`,
    summary: "run again the failed, skipped and canceled steps of a run",
    params: Api.RunIdParam,
    body: Api.ReexecuteBody,
    response: Api.Accepted,
    status: 202,
    auth: true
  })

  app.post(`${base}/query`, validate("json", Api.QueryBody), async (c) =>
    c.json(await backend.query(c.req.valid("json")))
  )
  doc({
    method: "post",
    path: `${base}/query`,
    summary:
      "read-only SQL over the materialized table assets (DuckDB), with a row limit and a timeout (504)",
    body: Api.QueryBody,
    response: Api.QueryResponse,
    auth: true
  })

  // ---- backfills ------------------------------------------------------------------------------
  app.get(`${base}/backfills`, validate("query", Api.BackfillsQuery), async (c) =>
    c.json({ backfills: await backend.backfills({ limit: c.req.valid("query").limit ?? 50 }) })
  )
  doc({
    method: "get",
    path: `${base}/backfills`,
    summary: "backfills, newest first",
    query: Api.BackfillsQuery,
    response: Api.BackfillList
  })
  app.get(
    `${base}/backfills/:id`,
    validate("param", Api.BackfillIdParam),
    validate("query", Api.EmptyQuery),
    async (c) => c.json({ backfill: await backend.backfill(c.req.valid("param").id) })
  )
  doc({
    method: "get",
    path: `${base}/backfills/:id`,
    summary: "one backfill: its request, progress and runs",
    params: Api.BackfillIdParam,
    response: Api.BackfillResponse
  })
  app.post(`${base}/backfills`, validate("json", Api.BackfillBody), async (c) =>
    c.json(await backend.launchBackfill(c.req.valid("json")), 202)
  )
  doc({
    method: "post",
    path: `${base}/backfills`,
    summary:
      "launch a backfill of a selection's partitions (recorded, resumable with `materia backfill resume`)",
    body: Api.BackfillBody,
    response: Api.BackfillAccepted,
    status: 202,
    auth: true
  })
  app.post(`${base}/backfills/:id/cancel`, validate("param", Api.BackfillIdParam), async (c) =>
    c.json({ backfill: await backend.cancelBackfill(c.req.valid("param").id) }, 202)
  )
  doc({
    method: "post",
    path: `${base}/backfills/:id/cancel`,
    summary: "cancel a running backfill",
    params: Api.BackfillIdParam,
    response: Api.BackfillResponse,
    status: 202,
    auth: true
  })

  // ---- schedules, sensors, automation conditions, the daemon ---------------------------------------
  app.get(`${base}/schedules`, validate("query", Api.EmptyQuery), async (c) =>
    c.json({ schedules: await backend.schedules() })
  )
  doc({
    method: "get",
    path: `${base}/schedules`,
    summary:
      "schedules: cron, timezone, selection, status (and whether it is the default), next ticks, last tick",
    response: Api.ScheduleList
  })
  app.get(`${base}/sensors`, validate("query", Api.EmptyQuery), async (c) =>
    c.json({ sensors: await backend.sensors() })
  )
  doc({
    method: "get",
    path: `${base}/sensors`,
    summary: "sensors: interval, status (and whether it is the default), cursor, next and last tick",
    response: Api.SensorList
  })
  for (const [action, status] of [
    ["start", "running"],
    ["stop", "stopped"]
  ] as const) {
    app.post(`${base}/schedules/:name/${action}`, validate("param", Api.NameParam), async (c) =>
      c.json({ schedule: await backend.setScheduleStatus(c.req.valid("param").name, status) })
    )
    doc({
      method: "post",
      path: `${base}/schedules/:name/${action}`,
      summary: `${action} a schedule (recorded in the daemon store; the daemon follows at its next tick)`,
      params: Api.NameParam,
      response: Api.ScheduleResponse,
      auth: true
    })
    app.post(`${base}/sensors/:name/${action}`, validate("param", Api.NameParam), async (c) =>
      c.json({ sensor: await backend.setSensorStatus(c.req.valid("param").name, status) })
    )
    doc({
      method: "post",
      path: `${base}/sensors/:name/${action}`,
      summary: `${action} a sensor (recorded in the daemon store; the daemon follows at its next tick)`,
      params: Api.NameParam,
      response: Api.SensorResponse,
      auth: true
    })
  }
  app.get(`${base}/automation`, validate("query", Api.EmptyQuery), async (c) =>
    c.json({ automations: await backend.automations() })
  )
  doc({
    method: "get",
    path: `${base}/automation`,
    summary: "each asset's automation condition with its last evaluation (and its reason)",
    response: Api.AutomationList
  })
  // Tick histories, newest first: a schedule's, a sensor's (with cursors), an asset's automation evaluations.
  const tickRoutes = [
    [
      "schedules/:name",
      "schedule",
      Api.NameParam,
      "a schedule's ticks, newest first, each with its status, runs and skip reason or error"
    ],
    [
      "sensors/:name",
      "sensor",
      Api.NameParam,
      "a sensor's ticks, newest first, each with its status, runs, cursor and skip reason or error"
    ],
    [
      "automation/:key",
      "automation",
      Api.KeyParam,
      "the evaluations of an asset's automation condition, newest first (key URL-encoded)"
    ],
    [
      "freshness/:key",
      "freshness",
      Api.KeyParam,
      "the daemon's verdicts on an asset's freshness policy (fresh or overdue, with why), newest first (key URL-encoded)"
    ]
  ] as const
  for (const [path, kind, param, summary] of tickRoutes) {
    app.get(
      `${base}/${path}/ticks`,
      validate("param", param),
      validate("query", Api.TicksQuery),
      async (c) => {
        const p: { readonly name?: string; readonly key?: string } = c.req.valid("param")
        return c.json({
          ticks: await backend.ticks(
            { kind, name: p.name ?? p.key ?? "" },
            { limit: c.req.valid("query").limit ?? 20 }
          )
        })
      }
    )
    doc({
      method: "get",
      path: `${base}/${path}/ticks`,
      summary,
      params: param,
      query: Api.TicksQuery,
      response: Api.TickList
    })
  }
  app.get(`${base}/freshness`, validate("query", Api.EmptyQuery), async (c) =>
    c.json({ policies: await backend.freshness() })
  )
  doc({
    method: "get",
    path: `${base}/freshness`,
    summary:
      "each asset's freshness policy (maxAge) with the daemon's last verdict: fresh or overdue, and why",
    response: Api.FreshnessList
  })
  app.get(`${base}/daemon`, validate("query", Api.EmptyQuery), async (c) => c.json(await backend.daemon()))
  doc({
    method: "get",
    path: `${base}/daemon`,
    summary: "the daemon `materia dev` runs: its state, process and who holds the store's lease",
    response: Api.DaemonInfo
  })

  // ---- live events -----------------------------------------------------------------------------
  /** Runs `body` as an SSE stream that sends keep-alive comments and ends when the client leaves. */
  const sse = (c: Context, body: (stream: SSEStreamingApi, closed: Promise<void>) => Promise<void>) =>
    streamSSE(c, async (stream) => {
      let close = () => {}
      const closed = new Promise<void>((resolve) => {
        close = resolve
      })
      stream.onAbort(close)
      const keepAlive = setInterval(() => {
        void stream.write(": keep-alive\n\n").catch(close)
      }, keepAliveMillis)
      try {
        await body(stream, closed)
      } finally {
        clearInterval(keepAlive)
      }
    })

  app.get(`${base}/events`, validate("query", Api.EmptyQuery), (c) =>
    sse(c, async (stream, closed) => {
      let chain = Promise.resolve()
      const unsubscribe = backend.subscribe((message: LiveMessage) => {
        chain = chain
          .then(() => stream.writeSSE({ event: message.type, data: JSON.stringify(message.data) }))
          .catch(() => {})
      })
      await stream.write(": connected\n\n")
      await closed
      unsubscribe()
    })
  )
  doc({
    method: "get",
    path: `${base}/events`,
    summary: "live events of the instance (run-event, project-reloaded)",
    stream: true
  })

  app.get(
    `${base}/runs/:id/stream`,
    validate("param", Api.RunIdParam),
    validate("query", Api.EmptyQuery),
    async (c) => {
      const runId = c.req.valid("param").id
      const { run } = await backend.run(runId) // 404 before the stream starts
      // A reconnecting EventSource sends the seq it saw last: go on from there.
      const resumeFrom = Number(c.req.header("last-event-id") ?? "0")
      return sse(c, async (stream, closed) => {
        let last = Number.isSafeInteger(resumeFrom) && resumeFrom > 0 ? resumeFrom : 0
        let finished = false
        let wake = () => {}
        let pending = false
        const poke = () => {
          pending = true
          wake()
        }
        // Live events arrive before the executor's buffer reaches storage; stored events cover what
        // happened before we subscribed and runs driven by other processes. Both carry the seq.
        const live = new Map<number, SeqEvent>()
        const unsubscribe = backend.subscribe((message) => {
          if (message.type !== "run-event" || message.data.event.runId !== runId) return
          if (message.data.seq > last) live.set(message.data.seq, message.data)
          poke()
        })
        for (const item of backend.recent?.(runId) ?? []) live.set(item.seq, item)
        const poll = setInterval(poke, pollMillis)
        let open = true
        void closed.then(() => {
          open = false
          wake()
        })
        const send = async (item: SeqEvent) => {
          await stream.writeSSE({ event: "run-event", data: JSON.stringify(item), id: String(item.seq) })
          last = item.seq
          live.delete(item.seq)
          if (item.event._tag === "RunFinished") finished = true
        }
        try {
          while (open && !finished) {
            pending = false
            for (;;) {
              const page = await backend.events(runId, { after: last, limit: 1000 })
              for (const item of page.events) if (item.seq === last + 1) await send(item)
              if (page.next === null || page.events.length === 0) break
            }
            // A run that had finished when the stream opened is all in storage (a resumed stream may
            // start past its RunFinished).
            if (run.status !== "running") finished = true
            for (const seq of live.keys()) if (seq <= last) live.delete(seq)
            for (let next = live.get(last + 1); next !== undefined && open; next = live.get(last + 1))
              await send(next)
            if (finished || !open) break
            if (!pending) await new Promise<void>((resolve) => (wake = resolve))
          }
          if (finished) await stream.writeSSE({ event: "end", data: JSON.stringify({ runId, seq: last }) })
        } finally {
          clearInterval(poll)
          unsubscribe()
        }
      })
    }
  )
  doc({
    method: "get",
    path: `${base}/runs/:id/stream`,
    summary: "live events of one run: the stored ones first, then as they happen; `end` when it finishes",
    params: Api.RunIdParam,
    stream: true
  })

  // ---- the document ----------------------------------------------------------------------------
  let document: string | undefined
  app.get(`${base}/openapi.json`, (c) => {
    document ??= JSON.stringify(
      openApiDocument(
        [...routes, { method: "get", path: `${base}/openapi.json`, summary: "this document" }],
        VERSION
      )
    )
    return sendJsonText(c, document)
  })

  app.all(`${base}/*`, (c) => errorResponse(c, 404, "NotFound", `no endpoint ${c.req.method} ${c.req.path}`))
  app.all("/api/*", (c) =>
    errorResponse(c, 404, "NotFound", `no endpoint ${c.req.method} ${c.req.path}; the API is under /api/v1`)
  )

  // ---- the UI ----------------------------------------------------------------------------------
  app.get("*", (c) => {
    if (!ui.built && Date.now() - uiCheckedAt > 1000) {
      ui = loadStaticUi(options.uiDir)
      uiCheckedAt = Date.now()
    }
    const file = ui.get(c.req.path)
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": file.type,
      "Cache-Control": file.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "X-Content-Type-Options": "nosniff"
    })
  })
  app.all("*", (c) => errorResponse(c, 404, "NotFound", `no route ${c.req.method} ${c.req.path}`))
  return app
}

export type { SeqEvent }
