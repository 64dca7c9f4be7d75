/**
 * The client of the Materia HTTP API v1 (see the README's "HTTP API"): the wire shapes the UI reads
 * and one `request` that turns every failure — an error answer, bad JSON, a network error — into an
 * `ApiError` whose message the UI shows. The browser sends the token as the `materia_token` cookie.
 */

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

export type AssetStatus = "fresh" | "stale" | "missing" | "failed" | "skipped" | "source" | "running"

export interface Project {
  readonly name: string
  readonly root: string
  readonly codeVersion: string
  readonly loadError: null | { readonly file: string; readonly line: number | null; readonly message: string }
}

export interface AssetSummary {
  readonly key: string
  readonly kind: "asset" | "source"
  readonly group: string
  readonly tags: Readonly<Record<string, string>>
  readonly pool: string
  readonly description: string | null
  readonly partitions: null | { readonly kind: string; readonly description: string }
  readonly status: AssetStatus
  readonly reasons: ReadonlyArray<string>
  readonly upstream: ReadonlyArray<string>
  readonly latest: null | {
    readonly runId: string
    readonly at: number
    readonly dataVersion: string
    readonly codeVersion: string
  }
}

export interface CheckResult {
  readonly check: string
  readonly passed: boolean
  readonly severity: string
  readonly message: string | null
  readonly at: number
  readonly runId: string
}

export interface AssetDetail extends AssetSummary {
  readonly downstream: ReadonlyArray<string>
  readonly codeVersion: string
  readonly checks: ReadonlyArray<CheckResult>
  readonly latestMetadata: Readonly<Record<string, Json>> | null
}

export interface HistoryItem {
  readonly runId: string
  readonly at: number
  readonly dataVersion: string
  readonly codeVersion: string
  readonly metadata: Readonly<Record<string, Json>>
  readonly durationMillis: number | null
}

export interface PartitionItem {
  readonly partition: string
  readonly status: "materialized" | "missing" | "failed"
  readonly at: number | null
}

export interface Lineage {
  readonly nodes: ReadonlyArray<{
    readonly key: string
    readonly group: string
    readonly status: AssetStatus
  }>
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string }>
}

export type RunStatus = "running" | "succeeded" | "failed" | "canceled"

export interface Run {
  readonly runId: string
  readonly status: RunStatus
  readonly startedAt: number
  readonly endedAt: number | null
  readonly targets: ReadonlyArray<string>
}

export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "skipped" | "unchanged" | "canceled"

export interface Step {
  readonly key: string
  readonly partition: string | null
  readonly status: StepStatus
  readonly startedAt: number | null
  readonly endedAt: number | null
  readonly attempts: number
  readonly error: string | null
  /** Why a running step cannot run yet (`waiting for a worker of pool gpu`), from its StepWaiting event. */
  readonly waiting?: string | null
}

/**
 * A run event as stored. Only the fields the UI reads are named; the API may send more. Step events
 * carry `key` (and `partition` for partitioned steps).
 */
export interface RunEvent {
  readonly _tag: string
  readonly runId: string
  readonly at: number
  readonly key?: string
  readonly partition?: string | null
  readonly attempt?: number
  readonly status?: string
  readonly outcome?: string
  readonly level?: string
  readonly message?: string
  readonly stream?: "stdout" | "stderr"
  readonly lines?: ReadonlyArray<string>
  readonly text?: string
  readonly reason?: string
  readonly error?: { readonly tag?: string; readonly message: string }
  readonly check?: string
  readonly passed?: boolean
  readonly steps?: ReadonlyArray<{ readonly key: string; readonly partition?: string | null }>
}

export interface StoredEvent {
  readonly seq: number
  readonly event: RunEvent
}

export interface QueryResult {
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>
  readonly rows: ReadonlyArray<ReadonlyArray<unknown>>
  readonly truncated: boolean
}

export interface LaunchRequest {
  readonly select: string
  readonly partitions?: string
  readonly force?: boolean
  readonly config?: Readonly<Record<string, Json>>
}

export type BackfillStatus = "queued" | "running" | "succeeded" | "failed" | "canceled" | "dead"

export interface Backfill {
  readonly backfillId: string
  /** `dead`: still recorded as running, but the process driving it stopped. */
  readonly status: BackfillStatus
  readonly select: string
  readonly partitions: string
  readonly onlyStale: boolean
  readonly createdAt: number
  readonly updatedAt: number
  readonly endedAt: number | null
  readonly runIds: ReadonlyArray<string>
  readonly progress: {
    readonly total: number
    readonly succeeded: number
    readonly failed: number
    readonly skipped: number
    readonly canceled: number
    readonly running: number
    readonly fresh: number
  }
  readonly reason: string | null
}

export interface BackfillRequest {
  readonly select: string
  readonly partitions?: string
  readonly onlyStale?: boolean
}

export type InstigatorStatus = "running" | "stopped"

/** A run a tick queued for the daemon; `runId` is the Materia run once its process reported it. */
export interface TickRun {
  readonly id: string
  readonly status: "queued" | "launched" | "succeeded" | "failed" | "lost"
  readonly runId: string | null
  readonly select: string
  readonly partitions: ReadonlyArray<string> | null
  readonly enqueuedAt: number
  readonly launchedAt: number | null
  readonly endedAt: number | null
  readonly error: string | null
}

export interface Tick {
  readonly tickId: string
  readonly tickAt: number
  readonly evaluatedAt: number
  readonly status: "requested" | "skipped" | "failed"
  readonly runs: ReadonlyArray<TickRun>
  readonly skipReason: string | null
  readonly reason: string | null
  readonly error: string | null
  readonly cursor: string | null
}

export interface Schedule {
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly select: ReadonlyArray<string>
  readonly partitions: "closed window" | "fixed" | "function"
  readonly tags: Readonly<Record<string, string>>
  readonly status: InstigatorStatus
  readonly defaultStatus: InstigatorStatus
  readonly isDefault: boolean
  readonly startedAt: number | null
  readonly nextTicks: ReadonlyArray<number>
  readonly lastTick: Tick | null
}

export interface Sensor {
  readonly name: string
  readonly intervalMillis: number
  readonly timeoutMillis: number
  readonly status: InstigatorStatus
  readonly defaultStatus: InstigatorStatus
  readonly isDefault: boolean
  readonly cursor: string | null
  readonly nextTickAt: number | null
  readonly lastTick: Tick | null
}

export interface Automation {
  readonly key: string
  readonly condition: string
  readonly status: InstigatorStatus
  readonly lastTick: Tick | null
}

/** An asset's freshness policy and the daemon's last verdict (null until it evaluated it). */
export interface Freshness {
  readonly key: string
  readonly maxAgeMillis: number
  readonly verdict: "fresh" | "overdue" | null
  readonly lastTick: Tick | null
}

export interface Daemon {
  readonly state: "off" | "starting" | "running" | "waiting" | "restarting" | "failed"
  readonly pid: number | null
  readonly leaseHolder: string | null
  readonly message: string
}

/** What has ticks: a schedule, a sensor, or an asset's automation condition or freshness policy (by asset key). */
export type InstigatorKind = "schedule" | "sensor" | "automation" | "freshness"

/** A failed API call: the HTTP status (0 when the server could not be reached), code and message. */
export class ApiError extends Error {
  override readonly name = "ApiError"
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

const BASE = "/api/v1"

/** An asset key as one path segment (keys such as `models/eu` contain slashes). */
export const keySegment = (key: string): string => encodeURIComponent(key)

const errorOf = async (response: Response): Promise<ApiError> => {
  const text = await response.text().catch(() => "")
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
    if (body.error !== undefined && typeof body.error.message === "string")
      return new ApiError(
        response.status,
        typeof body.error.code === "string" ? body.error.code : String(response.status),
        body.error.message
      )
  } catch {
    // Not JSON: fall through to the status line.
  }
  const hint =
    response.status === 401
      ? " — open the URL with the token that `materia dev` printed (/auth?token=…) to sign in"
      : ""
  return new ApiError(
    response.status,
    String(response.status),
    `${response.status} ${response.statusText}${text === "" ? "" : `: ${text.slice(0, 300)}`}${hint}`
  )
}

/** Calls the API; resolves to the decoded JSON body, rejects with an ApiError. */
export const request = async <A>(
  path: string,
  init: { readonly method?: "GET" | "POST"; readonly body?: unknown; readonly signal?: AbortSignal } = {}
): Promise<A> => {
  let response: Response
  try {
    response = await fetch(`${BASE}${path}`, {
      method: init.method ?? "GET",
      credentials: "same-origin",
      headers:
        init.body === undefined ? { accept: "application/json" } : { "content-type": "application/json" },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      ...(init.signal === undefined ? {} : { signal: init.signal })
    })
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error
    throw new ApiError(
      0,
      "unreachable",
      `cannot reach the Materia server (${String(error)}): is \`materia dev\` running?`
    )
  }
  if (!response.ok) {
    const error = await errorOf(response)
    if (error.status === 401 && !error.message.includes("/auth?token"))
      throw new ApiError(
        401,
        error.code,
        `${error.message} — open the URL with the token that \`materia dev\` printed (/auth?token=…) to sign in`
      )
    throw error
  }
  try {
    return (await response.json()) as A
  } catch (error) {
    throw new ApiError(
      response.status,
      "bad-json",
      `the server answered ${path} with invalid JSON: ${String(error)}`
    )
  }
}

const query = (params: Record<string, string | number | null | undefined>): string => {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) if (value != null) search.set(name, String(value))
  const text = search.toString()
  return text === "" ? "" : `?${text}`
}

export const api = {
  project: (signal?: AbortSignal) => request<Project>("/project", signal ? { signal } : {}),
  assets: (signal?: AbortSignal) =>
    request<{ assets: ReadonlyArray<AssetSummary> }>("/assets", signal ? { signal } : {}),
  asset: (key: string, signal?: AbortSignal) =>
    request<{ asset: AssetDetail }>(`/assets/${keySegment(key)}`, signal ? { signal } : {}),
  history: (key: string, limit = 50, before?: number) =>
    request<{ items: ReadonlyArray<HistoryItem>; next: number | null }>(
      `/assets/${keySegment(key)}/history${query({ limit, before })}`
    ),
  partitions: (key: string, limit = 100, after?: string) =>
    request<{ items: ReadonlyArray<PartitionItem>; next: string | null; total: number }>(
      `/assets/${keySegment(key)}/partitions${query({ limit, after })}`
    ),
  lineage: (signal?: AbortSignal) => request<Lineage>("/lineage", signal ? { signal } : {}),
  runs: (limit = 50, before?: number) =>
    request<{ runs: ReadonlyArray<Run>; next: number | null }>(`/runs${query({ limit, before })}`),
  run: (runId: string) =>
    request<{ run: Run; steps: ReadonlyArray<Step> }>(`/runs/${encodeURIComponent(runId)}`),
  events: (runId: string, after?: number, limit = 500) =>
    request<{ events: ReadonlyArray<StoredEvent>; next: number | null }>(
      `/runs/${encodeURIComponent(runId)}/events${query({ after, limit })}`
    ),
  /** `nothingToDo`: everything selected was fresh, so no run was recorded. */
  launch: (body: LaunchRequest) =>
    request<{ runId: string; nothingToDo?: boolean }>("/runs", { method: "POST", body }),
  cancel: (runId: string) =>
    request<{ runId: string; status: RunStatus }>(`/runs/${encodeURIComponent(runId)}/cancel`, {
      method: "POST"
    }),
  reexecute: (runId: string) =>
    request<{ runId: string }>(`/runs/${encodeURIComponent(runId)}/reexecute`, {
      method: "POST",
      body: { fromFailure: true }
    }),
  backfills: (limit = 50) => request<{ backfills: ReadonlyArray<Backfill> }>(`/backfills${query({ limit })}`),
  backfill: (id: string) => request<{ backfill: Backfill }>(`/backfills/${encodeURIComponent(id)}`),
  launchBackfill: (body: BackfillRequest) =>
    request<{ backfillId: string }>("/backfills", { method: "POST", body }),
  cancelBackfill: (id: string) =>
    request<unknown>(`/backfills/${encodeURIComponent(id)}/cancel`, { method: "POST" }),
  schedules: () => request<{ schedules: ReadonlyArray<Schedule> }>("/schedules"),
  sensors: () => request<{ sensors: ReadonlyArray<Sensor> }>("/sensors"),
  automations: () => request<{ automations: ReadonlyArray<Automation> }>("/automation"),
  freshness: () => request<{ policies: ReadonlyArray<Freshness> }>("/freshness"),
  daemon: () => request<Daemon>("/daemon"),
  ticks: (kind: InstigatorKind, name: string, limit = 50) =>
    request<{ ticks: ReadonlyArray<Tick> }>(
      `/${kind === "automation" || kind === "freshness" ? kind : `${kind}s`}/${encodeURIComponent(name)}/ticks${query({ limit })}`
    ),
  setScheduleStatus: (name: string, action: "start" | "stop") =>
    request<{ schedule: Schedule }>(`/schedules/${encodeURIComponent(name)}/${action}`, { method: "POST" }),
  setSensorStatus: (name: string, action: "start" | "stop") =>
    request<{ sensor: Sensor }>(`/sensors/${encodeURIComponent(name)}/${action}`, { method: "POST" }),
  query: (sql: string, limit?: number) =>
    request<QueryResult>("/query", { method: "POST", body: limit === undefined ? { sql } : { sql, limit } })
}

/** The URL of a run's live event stream (Server-Sent Events: `run-event`, then `end`). */
export const runStreamUrl = (runId: string): string => `${BASE}/runs/${encodeURIComponent(runId)}/stream`

/** The URL of the instance's live event stream (`run-event`, `project-reloaded`). */
export const eventsUrl = `${BASE}/events`
