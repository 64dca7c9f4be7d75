/**
 * Paged reads of a project's local run log (`.materia/materia.db`) for the HTTP API: runs before a
 * time, a run's events after a seq, an asset's materializations, and a watermark that changes with
 * every appended event (and every wipe). It opens the SQLite file read-only beside the writers (WAL), so it answers
 * even while the project's code fails to load. Core's StorageApi has no paged or per-asset reads
 * yet; these queries use the columns of its first migrations only.
 */
import { existsSync } from "node:fs"
import { foldRunEvents, type RunEvent } from "@materia/core"
import { defaultSqlitePath } from "@materia/core/sqlite"
import Database from "better-sqlite3"
import { notFound } from "../http/ApiError.ts"
import type { HistoryPage, RunList, RunResponse, RunSummary } from "../http/ApiSchemas.ts"
import type { SeqEvent } from "../http/Backend.ts"

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

export interface StoreReader {
  /** Changes whenever anything is recorded (from the newest event id, and the count wipes lower); 0 when empty. */
  readonly watermark: () => number
  readonly runs: (project: string, options: { limit: number; before?: number | undefined }) => RunList
  readonly run: (runId: string) => RunResponse
  readonly events: (
    runId: string,
    options: { after: number; limit: number }
  ) => { events: Array<SeqEvent>; next: number | null }
  readonly history: (
    project: string,
    key: string,
    options: { limit: number; before?: number | undefined }
  ) => HistoryPage
  /** The project of every recorded run, when they are all of one project. */
  readonly soleProject: () => string | undefined
  readonly close: () => void
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

/** Opens the reader of the store of the project rooted at `root` (the file may not exist yet). */
export const openStoreReader = (root: string): StoreReader => {
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
  const RUN_SELECT = `SELECT r.run_id, r.status, r.started_at, r.ended_at, e.payload
    FROM runs r LEFT JOIN events e ON e.run_id = r.run_id AND e.seq = 1`

  const run = (runId: string): RunResponse => {
    const row = open()?.prepare<[string], RunRow>(`${RUN_SELECT} WHERE r.run_id = ?`).get(runId)
    if (row === undefined) throw notFound(`no run "${runId}" is recorded in this project's store`)
    const rows = db!
      .prepare<[string], EventRow>("SELECT seq, payload FROM events WHERE run_id = ? ORDER BY seq")
      .all(runId)
    const view = foldRunEvents(
      runId,
      rows.map((r) => JSON.parse(r.payload) as RunEvent)
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
        error: s.error === undefined ? null : s.error.message
      }))
    }
  }

  return {
    watermark: () => {
      const row = open()
        ?.prepare<[], { id: number | null; n: number }>(
          "SELECT (SELECT MAX(id) FROM events) AS id, (SELECT COUNT(*) FROM asset_latest) AS n"
        )
        .get()
      // Events only grow; `materia wipe` deletes rows without an event, so the count takes part too.
      return row === undefined ? 0 : (row.id ?? 0) * 1_000_003 + row.n
    },
    runs: (project, { limit, before }) => {
      const d = open()
      if (d === undefined) return { runs: [], next: null }
      const rows = d
        .prepare<[string, number, number], RunRow>(
          `${RUN_SELECT} WHERE r.project = ? AND r.started_at < ? ORDER BY r.started_at DESC, r.id DESC LIMIT ?`
        )
        .all(project, before ?? Number.MAX_VALUE, limit + 1)
      const page = rows.slice(0, limit)
      return {
        runs: page.map(summaryOf),
        next: rows.length > limit ? page[page.length - 1]!.started_at : null
      }
    },
    run,
    events: (runId, { after, limit }) => {
      const d = open()
      const rows =
        d
          ?.prepare<[string, number, number], EventRow>(
            "SELECT seq, payload FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
          )
          .all(runId, after, limit + 1) ?? []
      if (rows.length === 0 && after === 0) run(runId) // 404 for an unknown run
      const page = rows.slice(0, limit)
      return {
        events: page.map((r) => ({ seq: r.seq, event: JSON.parse(r.payload) as SeqEvent["event"] })),
        next: rows.length > limit ? page[page.length - 1]!.seq : null
      }
    },
    history: (project, key, { limit, before }) => {
      const d = open()
      if (d === undefined) return { items: [], next: null }
      const rows = d
        .prepare<[string, string, number, number], MaterializationRow>(
          `SELECT payload FROM events WHERE project = ? AND asset_key = ? AND tag = 'Materialization'
             AND at < ? ORDER BY id DESC LIMIT ?`
        )
        .all(project, key, before ?? Number.MAX_VALUE, limit + 1)
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
    },
    soleProject: () => {
      const rows =
        open()?.prepare<[], { project: string }>("SELECT DISTINCT project FROM runs LIMIT 2").all() ?? []
      return rows.length === 1 ? rows[0]!.project : undefined
    },
    close: () => {
      db?.close()
      db = undefined
    }
  }
}
