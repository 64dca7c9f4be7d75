/**
 * The daemon store in the project's SQLite metadata file (`.materia/materia.db`), beside core's
 * tables: its own `daemon_*` tables, created if missing, with their own schema version, so core's
 * migrations never need to know about them. Opens the file through core first when it is new, so
 * it is always a Materia database. better-sqlite3 loads only here.
 */

import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import {
  RUN_COLUMNS,
  type RunRow,
  type StateRow,
  type TickRow,
  toRun,
  toState,
  toTick
} from "./DaemonRows.ts"
import {
  type CommitResult,
  type DaemonStore,
  DaemonStoreError,
  dedupeRuns,
  ENDED,
  type InstigatorState,
  type LeaseResult,
  type PruneResult,
  type QueuedRun,
  type QueuedRunPatch,
  storedTick,
  type TickRecord
} from "./DaemonStore.ts"

/**
 * The steps after version 1 (the tables in SCHEMA, created if missing); `version` strictly
 * increasing. Never edit a released one: add the next.
 */
export const daemonSqliteMigrations: ReadonlyArray<{ readonly version: number; readonly sql: string }> = [
  {
    version: 2,
    // Where each run was launched and by which daemon: another host's pids are not ours to judge.
    sql: "ALTER TABLE daemon_runs ADD COLUMN host TEXT; ALTER TABLE daemon_runs ADD COLUMN lease_owner TEXT;"
  }
]

/** The version of the `daemon_*` tables this code writes. */
export const DAEMON_SCHEMA_VERSION = daemonSqliteMigrations.at(-1)?.version ?? 1

const MATERIA_APPLICATION_ID = 0x4d545241

const SCHEMA = `
CREATE TABLE IF NOT EXISTS daemon_schema (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS daemon_state (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at DOUBLE PRECISION,
  last_tick_at DOUBLE PRECISION,
  cursor TEXT,
  PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS daemon_ticks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tick_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  tick_at DOUBLE PRECISION NOT NULL,
  evaluated_at DOUBLE PRECISION NOT NULL,
  status TEXT NOT NULL,
  run_ids TEXT NOT NULL,
  skip_reason TEXT,
  reason TEXT,
  error TEXT,
  cursor TEXT
);
CREATE INDEX IF NOT EXISTS daemon_ticks_by_name ON daemon_ticks (kind, name, seq);
CREATE TABLE IF NOT EXISTS daemon_runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  tick_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  enqueued_at DOUBLE PRECISION NOT NULL,
  launched_at DOUBLE PRECISION,
  ended_at DOUBLE PRECISION,
  pid INTEGER,
  run_id TEXT,
  error TEXT
);
CREATE INDEX IF NOT EXISTS daemon_runs_by_status ON daemon_runs (status, seq);
CREATE TABLE IF NOT EXISTS daemon_run_keys (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  run_key TEXT NOT NULL,
  tick_id TEXT NOT NULL,
  at DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (kind, name, run_key)
);
CREATE TABLE IF NOT EXISTS daemon_lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  owner TEXT NOT NULL,
  expires_at DOUBLE PRECISION NOT NULL
);
`

/** Makes sure `path` is a Materia database (creating it through core when new), then adds our tables. */
const open = async (path: string): Promise<Database.Database> => {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true })
  const { default: SqliteDatabase } = await import("better-sqlite3")
  const probe = new SqliteDatabase(path, { timeout: 5000 })
  const isMateria = probe.pragma("application_id", { simple: true }) === MATERIA_APPLICATION_ID
  probe.close()
  if (!isMateria) {
    // Core decides whether the file may become a Materia database (it refuses other applications' files).
    const { makeSqliteStorage } = await import("@materia/core/sqlite")
    const storage = await Effect.runPromise(makeSqliteStorage({ path }))
    await Effect.runPromise(storage.close)
  }
  const db = new SqliteDatabase(path, { timeout: 5000 })
  try {
    db.pragma("busy_timeout = 5000")
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.transaction(() => {
      db.exec(SCHEMA)
      const row = db.prepare<[], { version: number }>("SELECT version FROM daemon_schema WHERE id = 1").get()
      if (row === undefined) db.prepare("INSERT INTO daemon_schema (id, version) VALUES (1, 1)").run()
      else if (row.version > DAEMON_SCHEMA_VERSION)
        throw new Error(
          `the daemon tables of ${path} have schema version ${row.version}, newer than this Materia knows (${DAEMON_SCHEMA_VERSION}); upgrade @materia/server`
        )
      const current = row?.version ?? 1
      for (const migration of daemonSqliteMigrations) {
        if (migration.version <= current) continue
        db.exec(migration.sql)
        db.prepare("UPDATE daemon_schema SET version = ? WHERE id = 1").run(migration.version)
      }
    }).immediate()
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

/** Opens the daemon store in the SQLite file at `path` (the project's `.materia/materia.db`). */
export const openSqliteDaemonStore = (path: string): Effect.Effect<DaemonStore, DaemonStoreError> =>
  Effect.tryPromise({
    try: () => open(path),
    catch: (cause) =>
      new DaemonStoreError({
        operation: "open",
        message: `cannot open the daemon store in ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  }).pipe(Effect.map((db) => makeStore(db, path)))

const makeStore = (db: Database.Database, path: string): DaemonStore => {
  const attempt = <A>(operation: string, f: () => A): Effect.Effect<A, DaemonStoreError> =>
    Effect.try({
      try: f,
      catch: (cause) =>
        new DaemonStoreError({
          operation,
          message: `daemon store ${path}: ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
    })
  const getState = db.prepare<[string, string], StateRow>(
    "SELECT * FROM daemon_state WHERE kind = ? AND name = ?"
  )
  const allStates = db.prepare<[], StateRow>("SELECT * FROM daemon_state ORDER BY kind, name")
  const putState = db.prepare(
    `INSERT INTO daemon_state (kind, name, status, started_at, last_tick_at, cursor) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (kind, name) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
       last_tick_at = excluded.last_tick_at, cursor = excluded.cursor`
  )
  const tickExists = db.prepare<[string], { one: number }>(
    "SELECT 1 AS one FROM daemon_ticks WHERE tick_id = ?"
  )
  const insertTick = db.prepare(
    `INSERT INTO daemon_ticks (tick_id, kind, name, tick_at, evaluated_at, status, run_ids, skip_reason, reason, error, cursor)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
  )
  const runKeySeen = db.prepare<[string, string, string], { one: number }>(
    "SELECT 1 AS one FROM daemon_run_keys WHERE kind = ? AND name = ? AND run_key = ?"
  )
  const insertRunKey = db.prepare(
    "INSERT INTO daemon_run_keys (kind, name, run_key, tick_id, at) VALUES (?, ?, ?, ?, ?)"
  )
  const insertRun = db.prepare(
    `INSERT INTO daemon_runs (id, tick_id, kind, name, request, status, enqueued_at, launched_at, ended_at, pid, run_id, error, host, lease_owner)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
  )
  const writeState = (s: InstigatorState) =>
    putState.run(s.kind, s.name, s.status, s.startedAt ?? null, s.lastTickAt ?? null, s.cursor ?? null)
  const insertStateIfAbsent = db.prepare(
    `INSERT INTO daemon_state (kind, name, status, started_at, last_tick_at, cursor) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (kind, name) DO NOTHING`
  )
  // A tick writes only what it owns: status and started_at stay as start and stop left them.
  const putTickedState = db.prepare(
    `INSERT INTO daemon_state (kind, name, status, started_at, last_tick_at, cursor) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (kind, name) DO UPDATE SET last_tick_at = excluded.last_tick_at, cursor = excluded.cursor`
  )
  const commit = db.transaction(
    (tick: TickRecord, runs: ReadonlyArray<QueuedRun>, state: InstigatorState): CommitResult => {
      if (tickExists.get(tick.tickId) !== undefined) return { committed: false, tick, droppedRunKeys: [] }
      const { kept, dropped } = dedupeRuns(runs, (k) => runKeySeen.get(tick.kind, tick.name, k) !== undefined)
      const t = storedTick(tick, kept, dropped)
      insertTick.run(
        t.tickId,
        t.kind,
        t.name,
        t.tickAt,
        t.evaluatedAt,
        t.status,
        JSON.stringify(t.runIds),
        t.skipReason ?? null,
        t.reason ?? null,
        t.error ?? null,
        t.cursor ?? null
      )
      for (const r of kept) {
        insertRun.run(
          r.id,
          r.tickId,
          r.kind,
          r.name,
          JSON.stringify(r.request),
          r.status,
          r.enqueuedAt,
          r.launchedAt ?? null,
          r.endedAt ?? null,
          r.pid ?? null,
          r.runId ?? null,
          r.error ?? null,
          r.host ?? null,
          r.leaseOwner ?? null
        )
        if (r.request.runKey !== undefined)
          insertRunKey.run(tick.kind, tick.name, r.request.runKey, tick.tickId, tick.evaluatedAt)
      }
      putTickedState.run(
        state.kind,
        state.name,
        state.status,
        state.startedAt ?? null,
        state.lastTickAt ?? null,
        state.cursor ?? null
      )
      return { committed: true, tick: t, droppedRunKeys: dropped }
    }
  )
  const getLease = db.prepare<[], { owner: string; expires_at: number }>(
    "SELECT owner, expires_at FROM daemon_lease WHERE id = 1"
  )
  const putLease = db.prepare(
    "INSERT INTO daemon_lease (id, owner, expires_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at"
  )
  const lease = db.transaction(
    (owner: string, now: number, ttl: number, replacing: string | undefined): LeaseResult => {
      const row = getLease.get()
      if (row === undefined || row.owner === owner || row.owner === replacing || row.expires_at <= now) {
        putLease.run(owner, now + ttl)
        return { acquired: true }
      }
      return { acquired: false, holder: row.owner, expiresAt: row.expires_at }
    }
  )
  return {
    state: (kind, name) =>
      attempt("state", () => {
        const row = getState.get(kind, name)
        return row === undefined ? undefined : toState(row)
      }),
    states: () => attempt("states", () => allStates.all().map(toState)),
    setState: (state) =>
      attempt("setState", () => {
        writeState(state)
      }),
    initState: (s) =>
      attempt(
        "initState",
        () =>
          insertStateIfAbsent.run(
            s.kind,
            s.name,
            s.status,
            s.startedAt ?? null,
            s.lastTickAt ?? null,
            s.cursor ?? null
          ).changes > 0
      ),
    // BEGIN IMMEDIATE: the tick id check and the inserts see no other writer in between.
    commitTick: ({ tick, runs, state }) => attempt("commitTick", () => commit.immediate(tick, runs, state)),
    ticks: (filter) =>
      attempt("ticks", () => {
        const where: Array<string> = []
        const params: Array<string | number> = []
        if (filter?.kind !== undefined) {
          where.push("kind = ?")
          params.push(filter.kind)
        }
        if (filter?.name !== undefined) {
          where.push("name = ?")
          params.push(filter.name)
        }
        const sql = `SELECT * FROM daemon_ticks ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC ${filter?.limit !== undefined ? "LIMIT ?" : ""}`
        if (filter?.limit !== undefined) params.push(filter.limit)
        return db
          .prepare<Array<string | number>, TickRow>(sql)
          .all(...params)
          .map(toTick)
      }),
    runs: (filter) =>
      attempt("runs", () => {
        const where: Array<string> = []
        const params: Array<string> = []
        if (filter?.status !== undefined) {
          where.push(`status IN (${filter.status.map(() => "?").join(", ") || "NULL"})`)
          params.push(...filter.status)
        }
        if (filter?.tickId !== undefined) {
          where.push("tick_id = ?")
          params.push(filter.tickId)
        }
        const sql = `SELECT * FROM daemon_runs ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq`
        return db
          .prepare<Array<string>, RunRow>(sql)
          .all(...params)
          .map(toRun)
      }),
    updateRun: (id, patch) =>
      Effect.flatMap(
        attempt("updateRun", () => {
          const fields = (Object.keys(RUN_COLUMNS) as Array<keyof QueuedRunPatch>).filter(
            (k) => patch[k] !== undefined
          )
          if (fields.length === 0)
            return db.prepare("SELECT 1 FROM daemon_runs WHERE id = ?").get(id) === undefined ? 0 : 1
          const sets = fields.map((k) => `${RUN_COLUMNS[k]} = ?`).join(", ")
          return db
            .prepare(`UPDATE daemon_runs SET ${sets} WHERE id = ?`)
            .run(...fields.map((k) => patch[k] as string | number), id).changes
        }),
        (changes) =>
          changes === 0
            ? Effect.fail(
                new DaemonStoreError({
                  operation: "updateRun",
                  message: `no queued run ${id} in the daemon store ${path}`
                })
              )
            : Effect.void
      ),
    acquireLease: (owner, now, ttlMillis, replacing) =>
      attempt("acquireLease", () => lease.immediate(owner, now, ttlMillis, replacing)),
    prune: (before) =>
      attempt("prune", () =>
        db
          .transaction((): PruneResult => {
            const ended = ENDED.map(() => "?").join(", ")
            const runIds = db
              .prepare<Array<string | number>, { id: string }>(
                `SELECT id FROM daemon_runs WHERE status IN (${ended}) AND ended_at < ? ORDER BY seq`
              )
              .all(...ENDED, before)
              .map((r) => r.id)
            db.prepare(`DELETE FROM daemon_runs WHERE status IN (${ended}) AND ended_at < ?`).run(
              ...ENDED,
              before
            )
            const ticks = db.prepare("DELETE FROM daemon_ticks WHERE evaluated_at < ?").run(before).changes
            const runKeys = db.prepare("DELETE FROM daemon_run_keys WHERE at < ?").run(before).changes
            return { ticks, runIds, runKeys }
          })
          .immediate()
      ),
    lease: () =>
      attempt("lease", () => {
        const row = getLease.get()
        return row === undefined ? undefined : { holder: row.owner, expiresAt: row.expires_at }
      }),
    releaseLease: (owner) =>
      attempt("releaseLease", () => {
        db.prepare("DELETE FROM daemon_lease WHERE id = 1 AND owner = ?").run(owner)
      }),
    close: () =>
      Effect.sync(() => {
        if (db.open) db.close()
      })
  }
}
