/**
 * Paged reads of a project's run log for the HTTP API: runs before a time, a run's events after a
 * seq, an asset's materializations, and a watermark that changes with every appended event (and
 * every wipe), which keys the catalog's cache. Two implementations over the tables of core's stores: the embedded
 * SQLite file (`.materia/materia.db`, opened read-only beside the writers) and PostgreSQL (the
 * project's `storage: { kind: "postgres" }` or MATERIA_DATABASE_URL). Neither loads the project's
 * code, so they answer even while it fails to load. Core's StorageApi has no paged or per-asset
 * reads yet; these queries use the columns of its first migrations only.
 */
import { existsSync } from "node:fs"
import type { StorageConfig } from "@materia/assets"
import { foldRunEvents, type RunEvent } from "@materia/core"
import {
  describePostgresUrl,
  POSTGRES_SCHEMA_NAME,
  postgresCauseMessage,
  postgresErrorCode,
  redactPostgresUrl,
  resolvePostgresUrl
} from "@materia/core/postgres"
import { defaultSqlitePath } from "@materia/core/sqlite"
import Database from "better-sqlite3"
import type { Pool } from "pg"
import { ApiError, notFound } from "../http/ApiError.ts"
import type { HistoryPage, RunList, RunResponse, RunSummary } from "../http/ApiSchemas.ts"
import type { SeqEvent } from "../http/Backend.ts"

/**
 * Where a project's metadata is, as `openConfiguredStore` chooses it: the embedded SQLite file
 * under the project's root, a PostgreSQL database (the URL keeps its password: never show it, see
 * `describeStoreLocation`), or a configuration that names no usable store (why, password redacted).
 */
export type StoreLocation =
  | { readonly kind: "sqlite" }
  | { readonly kind: "postgres"; readonly url: string; readonly schema?: string | undefined }
  | { readonly kind: "invalid"; readonly message: string }

/**
 * The store `openConfiguredStore(root, configured, env)` opens: an explicit configuration wins;
 * without one, MATERIA_DATABASE_URL when set; else the embedded SQLite store.
 */
export const storeLocationOf = (
  configured: StorageConfig | undefined,
  env: Readonly<Record<string, string | undefined>>
): StoreLocation => {
  if (
    configured?.kind !== "postgres" &&
    (configured !== undefined || (env.MATERIA_DATABASE_URL ?? "").trim() === "")
  )
    return { kind: "sqlite" }
  const chosen = resolvePostgresUrl(configured, env)
  if (chosen === undefined) return { kind: "sqlite" }
  if (!("url" in chosen)) return { kind: "invalid", message: chosen.message }
  const schema = configured?.kind === "postgres" ? configured.schema : undefined
  return { kind: "postgres", url: chosen.url, ...(schema === undefined ? {} : { schema }) }
}

/** `text` with every form of `url`'s password replaced by `***` (a driver's message may quote it). */
const redactIn = (text: string, url: string): string => {
  let out = text.split(url).join(redactPostgresUrl(url))
  try {
    const parsed = new URL(url)
    const secrets = [parsed.password, ...parsed.searchParams.getAll("password")]
    for (const secret of secrets)
      for (const form of new Set([secret, decodeURIComponent(secret)]))
        if (form.length > 0) out = out.split(form).join("***")
  } catch {
    // Not a URL: the pattern-redacted form above is all there is.
  }
  return out
}

/** Where a location is, for messages (never the password). */
export const describeStoreLocation = (location: StoreLocation): string => {
  switch (location.kind) {
    case "sqlite":
      return "the project's local store (.materia/materia.db)"
    case "postgres":
      return `the PostgreSQL metadata store ${redactPostgresUrl(location.url)} (schema ${location.schema ?? "materia"})`
    case "invalid":
      return "no usable metadata store"
  }
}

export interface StoreReader {
  /** Changes whenever an event is recorded or an asset wiped; 0 when nothing is stored yet. */
  readonly watermark: () => Promise<number>
  readonly runs: (
    project: string,
    options: { limit: number; before?: number | undefined }
  ) => Promise<RunList>
  readonly run: (runId: string) => Promise<RunResponse>
  readonly events: (
    runId: string,
    options: { after: number; limit: number }
  ) => Promise<{ events: Array<SeqEvent>; next: number | null }>
  readonly history: (
    project: string,
    key: string,
    options: { limit: number; before?: number | undefined }
  ) => Promise<HistoryPage>
  /** The project of every recorded run, when they are all of one project. */
  readonly soleProject: () => Promise<string | undefined>
  readonly close: () => Promise<void>
}

interface RunRow {
  readonly run_id: string
  readonly status: RunSummary["status"]
  readonly started_at: number
  readonly ended_at: number | null
  readonly payload: string | null
}

interface EventRow {
  readonly seq: number
  readonly payload: string
}

interface MaterializationRow {
  readonly payload: string
}

const targetsOf = (payload: string | null): Array<string> => {
  if (payload === null) return []
  const started = JSON.parse(payload) as { _tag?: string; targets?: Array<string> }
  return started._tag === "RunStarted" ? (started.targets ?? []) : []
}

const summaryOf = (row: RunRow): RunSummary => ({
  runId: row.run_id,
  status: row.status,
  startedAt: row.started_at,
  endedAt: row.ended_at,
  targets: targetsOf(row.payload)
})

const unknownRun = (runId: string) => notFound(`no run "${runId}" is recorded in this project's store`)

/** A run's answer: its summary and its steps, folded from its events. */
const runResponseOf = (row: RunRow, events: ReadonlyArray<EventRow>): RunResponse => {
  const view = foldRunEvents(
    row.run_id,
    events.map((r) => JSON.parse(r.payload) as RunEvent)
  )
  return {
    run: summaryOf(row),
    steps: [...view.steps.values()].map((s) => ({
      key: s.key,
      partition: s.partition ?? null,
      status: s.status,
      startedAt: s.startedAt ?? null,
      endedAt: s.endedAt ?? null,
      attempts: s.attempts,
      error: s.error === undefined ? null : s.error.message,
      waiting: s.waiting ?? null
    }))
  }
}

/** The page of `limit` from rows fetched with `limit + 1`: `next` is the cursor of the last one kept. */
const runPage = (rows: ReadonlyArray<RunRow>, limit: number): RunList => {
  const page = rows.slice(0, limit)
  return { runs: page.map(summaryOf), next: rows.length > limit ? page[page.length - 1]!.started_at : null }
}

const eventPage = (rows: ReadonlyArray<EventRow>, limit: number) => {
  const page = rows.slice(0, limit)
  return {
    events: page.map((r) => ({ seq: r.seq, event: JSON.parse(r.payload) as SeqEvent["event"] })),
    next: rows.length > limit ? page[page.length - 1]!.seq : null
  }
}

const historyPage = (rows: ReadonlyArray<MaterializationRow>, limit: number): HistoryPage => {
  const items = rows.slice(0, limit).map((r) => {
    const e = JSON.parse(r.payload) as Extract<RunEvent, { _tag: "Materialization" }>
    return {
      runId: e.runId,
      at: e.at,
      dataVersion: e.dataVersion,
      codeVersion: e.codeVersion,
      metadata: e.metadata as HistoryPage["items"][number]["metadata"],
      durationMillis: e.durationMillis ?? null
    }
  })
  return { items, next: rows.length > limit ? items[items.length - 1]!.at : null }
}

/**
 * Watermark from the newest event id and a count that wipes lower: events only grow
 * (ids are never reused), so any change moves one of them.
 */
const watermarkOf = (newestEvent: number, count: number): number => newestEvent * 1_000_003 + count

/** Opens the reader of the store at `location` of the project rooted at `root` (it may hold nothing yet). */
export const openStoreReader = (root: string, location: StoreLocation = { kind: "sqlite" }): StoreReader => {
  switch (location.kind) {
    case "sqlite":
      return openSqliteReader(root)
    case "postgres":
      return openPostgresReader(location.url, location.schema ?? "materia")
    case "invalid":
      return invalidReader(location.message)
  }
}

/** A configuration that names no usable store: nothing to watch, and every read says why. */
const invalidReader = (message: string): StoreReader => {
  const fail = () =>
    Promise.reject(
      new ApiError({
        status: 503,
        code: "StoreUnavailable",
        message: `cannot read this project's runs: ${message}`
      })
    )
  return {
    watermark: async () => 0,
    runs: fail,
    run: fail,
    events: fail,
    history: fail,
    soleProject: async () => undefined,
    close: async () => {}
  }
}

const RUN_COLUMNS = `r.run_id, r.status, r.started_at, r.ended_at, e.payload`

/** The SQLite file, read-only beside the writers (WAL); answers empty until the file and its tables exist. */
const openSqliteReader = (root: string): StoreReader => {
  const path = defaultSqlitePath(root)
  let db: Database.Database | undefined
  const open = (): Database.Database | undefined => {
    if (db !== undefined) return db
    if (!existsSync(path)) return undefined
    try {
      db = new Database(path, { readonly: true, fileMustExist: true })
      db.pragma("busy_timeout = 5000")
      // A store created by a Materia without the runs table yet (mid-migration): try again later.
      db.prepare("SELECT 1 FROM runs LIMIT 1").get()
      db.prepare("SELECT 1 FROM events LIMIT 1").get()
      return db
    } catch {
      db?.close()
      db = undefined
      return undefined
    }
  }
  const RUN_SELECT = `SELECT ${RUN_COLUMNS} FROM runs r LEFT JOIN events e ON e.run_id = r.run_id AND e.seq = 1`

  const run = (runId: string): RunResponse => {
    const d = open()
    const row = d?.prepare<[string], RunRow>(`${RUN_SELECT} WHERE r.run_id = ?`).get(runId)
    if (d === undefined || row === undefined) throw unknownRun(runId)
    const rows = d
      .prepare<[string], EventRow>("SELECT seq, payload FROM events WHERE run_id = ? ORDER BY seq")
      .all(runId)
    return runResponseOf(row, rows)
  }

  return {
    watermark: async () => {
      const row = open()
        ?.prepare<[], { id: number | null; n: number }>(
          // The partitioned assets by a loose index scan (one lookup per asset, not per partition).
          `WITH RECURSIVE partitioned(project, asset_key) AS (
             SELECT * FROM (SELECT project, asset_key FROM partition_latest ORDER BY project, asset_key LIMIT 1)
             UNION ALL
             SELECT p.project, p.asset_key FROM partitioned k, partition_latest p
              WHERE p.rowid = (SELECT q.rowid FROM partition_latest q
                                WHERE (q.project, q.asset_key) > (k.project, k.asset_key)
                                ORDER BY q.project, q.asset_key LIMIT 1)
           )
           SELECT (SELECT MAX(id) FROM events) AS id,
                  (SELECT COUNT(*) FROM asset_latest) + (SELECT COUNT(*) FROM partitioned) AS n`
        )
        .get()
      // `materia wipe` deletes rows (an asset's, all its partitions') without an event, so the count takes part too.
      return row === undefined ? 0 : watermarkOf(row.id ?? 0, row.n)
    },
    runs: async (project, { limit, before }) => {
      const d = open()
      if (d === undefined) return { runs: [], next: null }
      const rows = d
        .prepare<[string, number, number], RunRow>(
          `${RUN_SELECT} WHERE r.project = ? AND r.started_at < ? ORDER BY r.started_at DESC, r.id DESC LIMIT ?`
        )
        .all(project, before ?? Number.MAX_VALUE, limit + 1)
      return runPage(rows, limit)
    },
    run: async (runId) => run(runId),
    events: async (runId, { after, limit }) => {
      const rows =
        open()
          ?.prepare<[string, number, number], EventRow>(
            "SELECT seq, payload FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
          )
          .all(runId, after, limit + 1) ?? []
      if (rows.length === 0 && after === 0) run(runId) // 404 for an unknown run
      return eventPage(rows, limit)
    },
    history: async (project, key, { limit, before }) => {
      const d = open()
      if (d === undefined) return { items: [], next: null }
      const rows = d
        .prepare<[string, string, number, number], MaterializationRow>(
          `SELECT payload FROM events WHERE project = ? AND asset_key = ? AND tag = 'Materialization'
             AND at < ? ORDER BY id DESC LIMIT ?`
        )
        .all(project, key, before ?? Number.MAX_VALUE, limit + 1)
      return historyPage(rows, limit)
    },
    soleProject: async () => {
      const rows =
        open()?.prepare<[], { project: string }>("SELECT DISTINCT project FROM runs LIMIT 2").all() ?? []
      return rows.length === 1 ? rows[0]!.project : undefined
    },
    close: async () => {
      db?.close()
      db = undefined
    }
  }
}

/**
 * PostgreSQL, through a small pool of its own (`pg` loads with the first read). Tables not created
 * yet (no Materia process has opened the store) read as an empty store; any other failure is a 503
 * naming the store (password redacted), the operation and what to check.
 */
const openPostgresReader = (url: string, schema: string): StoreReader => {
  const where = `the PostgreSQL metadata store ${redactPostgresUrl(url)} (schema ${schema})`
  if (!POSTGRES_SCHEMA_NAME.test(schema))
    return invalidReader(
      `the PostgreSQL schema name "${schema}" for ${redactPostgresUrl(url)} is not a plain lower-case identifier (a-z, 0-9, _, at most 63 characters, not starting with a digit)`
    )
  const s = `"${schema}"`
  let pool: Promise<Pool> | undefined
  let closed = false
  const poolOf = (): Promise<Pool> => {
    pool ??= import("pg").then(({ default: pg }) => {
      const made = new pg.Pool({
        connectionString: url,
        max: 2,
        idleTimeoutMillis: 30_000,
        connectionTimeoutMillis: 5000,
        application_name: "materia dev"
      })
      // An idle connection that dies is dropped by the pool; unheard, its error would crash the process.
      made.on("error", () => {})
      made.on("connect", (client) => client.on("error", () => {}))
      return made
    })
    return pool
  }
  const failure = (operation: string, cause: unknown): ApiError => {
    const code = postgresErrorCode(cause)
    const { host, port } = describePostgresUrl(url)
    const advice = code?.startsWith("28")
      ? "the server refused the user or password: check them in the URL and the server's pg_hba.conf"
      : code === "3D000"
        ? "the database does not exist: create it or fix the URL"
        : `is the PostgreSQL server running and reachable at ${host}:${port} (\`pg_isready -h ${host} -p ${port}\`)?`
    return new ApiError({
      status: 503,
      code: "StoreUnavailable",
      message: redactIn(`${where} failed (${operation}): ${postgresCauseMessage(cause)}; ${advice}`, url)
    })
  }
  /** The rows of one statement; `undefined` while the store's tables do not exist yet. */
  const query = async <R>(
    operation: string,
    text: string,
    values: ReadonlyArray<unknown> = []
  ): Promise<Array<R> | undefined> => {
    if (closed) throw failure(operation, new Error("the reader is closed"))
    try {
      const result = await (await poolOf()).query(text, [...values])
      return result.rows as Array<R>
    } catch (cause) {
      // 42P01: undefined table (the schema or its tables not created yet).
      if (postgresErrorCode(cause) === "42P01") return undefined
      throw failure(operation, cause)
    }
  }
  const RUN_SELECT = `SELECT ${RUN_COLUMNS} FROM ${s}.runs r
    LEFT JOIN ${s}.events e ON e.run_id = r.run_id AND e.seq = 1`

  const run = async (runId: string): Promise<RunResponse> => {
    const rows = await query<RunRow>("run", `${RUN_SELECT} WHERE r.run_id = $1`, [runId])
    const row = rows?.[0]
    if (row === undefined) throw unknownRun(runId)
    const events =
      (await query<EventRow>(
        "run events",
        `SELECT seq, payload FROM ${s}.events WHERE run_id = $1 ORDER BY seq`,
        [runId]
      )) ?? []
    return runResponseOf(row, events)
  }

  return {
    watermark: async () => {
      // Index lookups only, one round trip (under a millisecond with 300,000 partition rows): the
      // newest event id, the assets' rows, and the partitioned assets (a loose index scan).
      const rows = await query<{ id: string | null; n: string }>(
        "watermark",
        `WITH RECURSIVE partitioned AS (
           (SELECT project, asset_key FROM ${s}.partition_latest ORDER BY project, asset_key LIMIT 1)
           UNION ALL
           SELECT n.project, n.asset_key FROM partitioned k, LATERAL (
             SELECT p.project, p.asset_key FROM ${s}.partition_latest p
              WHERE (p.project, p.asset_key) > (k.project, k.asset_key)
              ORDER BY p.project, p.asset_key LIMIT 1) n
         )
         SELECT (SELECT MAX(id) FROM ${s}.events) AS id,
                (SELECT COUNT(*) FROM ${s}.asset_latest) + (SELECT COUNT(*) FROM partitioned) AS n`
      )
      const row = rows?.[0]
      // A wipe removes an asset's rows (all its partitions' too) without an event: the count drops.
      // Deleted runs change no asset's state, and run lists are read afresh: no count of runs.
      return row === undefined ? 0 : watermarkOf(Number(row.id ?? 0), Number(row.n))
    },
    runs: async (project, { limit, before }) => {
      const rows = await query<RunRow>(
        "runs",
        `${RUN_SELECT} WHERE r.project = $1 AND ($2::float8 IS NULL OR r.started_at < $2::float8)
         ORDER BY r.started_at DESC, r.id DESC LIMIT $3`,
        [project, before ?? null, limit + 1]
      )
      return runPage(rows ?? [], limit)
    },
    run,
    events: async (runId, { after, limit }) => {
      const rows =
        (await query<EventRow>(
          "events",
          `SELECT seq, payload FROM ${s}.events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
          [runId, after, limit + 1]
        )) ?? []
      if (rows.length === 0 && after === 0) await run(runId) // 404 for an unknown run
      return eventPage(rows, limit)
    },
    history: async (project, key, { limit, before }) => {
      const rows = await query<MaterializationRow>(
        "asset history",
        `SELECT payload FROM ${s}.events
          WHERE project = $1 AND asset_key = $2 AND tag = 'Materialization'
            AND ($3::float8 IS NULL OR at < $3::float8)
          ORDER BY id DESC LIMIT $4`,
        [project, key, before ?? null, limit + 1]
      )
      return historyPage(rows ?? [], limit)
    },
    soleProject: async () => {
      const rows =
        (await query<{ project: string }>("projects", `SELECT DISTINCT project FROM ${s}.runs LIMIT 2`)) ?? []
      return rows.length === 1 ? rows[0]!.project : undefined
    },
    close: async () => {
      closed = true
      const opened = pool
      pool = undefined
      if (opened !== undefined) await (await opened).end().catch(() => undefined)
    }
  }
}
