/**
 * The embedded metadata store: StorageApi over one SQLite file (better-sqlite3), the default for a
 * project (`.materia/materia.db`). Several processes may write the same file at once: WAL mode,
 * `busy_timeout` and a retry of the whole transaction on SQLITE_BUSY/SQLITE_LOCKED keep them apart.
 */
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import Database from "better-sqlite3"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { BackfillRecord } from "../../backfill/BackfillRecord.ts"
import { RunEvent, RunStatus } from "../../events/RunEvent.ts"
import { fenceAttempts, fencedEvent, runEndedError, staleAttemptError } from "../Fences.ts"
import { stateOfRow } from "../StateRow.ts"
import {
  CheckRecord,
  checkRecordOf,
  type RunRecord,
  Storage,
  type StorageApi,
  StorageError,
  type StoredAssetState,
  type StoredEvent,
  type StoredPartitionState
} from "../Storage.ts"
import {
  LATEST_SCHEMA_VERSION,
  MATERIA_APPLICATION_ID,
  migrations,
  SCHEMA_MIGRATIONS_TABLE
} from "./migrations.ts"

/** How to open a SQLite store. */
export interface SqliteStorageOptions {
  /** The database file; created (with its folder) when missing. */
  readonly path: string
  /** How long one statement waits for another connection's lock (SQLite `busy_timeout`); 5000 by default. */
  readonly busyTimeoutMillis?: number
}

/** An open SQLite store: the StorageApi, the file it uses, and how to close it. */
export interface SqliteStorage extends StorageApi {
  readonly path: string
  /** Closes the connection; idempotent. Operations after it fail with reason `Unavailable`. */
  readonly close: Effect.Effect<void>
}

/** Where a project keeps its embedded store: `<projectRoot>/.materia/materia.db`. */
export const defaultSqlitePath = (projectRoot: string): string => join(projectRoot, ".materia", "materia.db")

/**
 * Retries of a whole transaction that met a lock `busy_timeout` did not wait out: jittered
 * exponential backoff from 5 ms, at most 250 ms apart, for up to one minute.
 */
const busyRetry = Schedule.max([
  Schedule.min([Schedule.exponential("5 millis"), Schedule.spaced("250 millis")]).pipe(Schedule.jittered),
  Schedule.during("1 minute")
])

type Reason = StorageError["reason"]

const sqliteCode = (cause: unknown): string | undefined =>
  cause instanceof Database.SqliteError ? cause.code : undefined

const classify = (cause: unknown): { readonly reason: Reason; readonly retryable: boolean } => {
  const code = sqliteCode(cause)
  if (code === undefined) {
    // better-sqlite3 throws a TypeError for a statement on a closed connection.
    if (cause instanceof TypeError && /not open/.test(cause.message)) {
      return { reason: "Unavailable", retryable: false }
    }
    return { reason: "Unknown", retryable: false }
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return { reason: "Busy", retryable: true }
  }
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT"))
    return { reason: "Corrupt", retryable: false }
  if (code.startsWith("SQLITE_CONSTRAINT")) return { reason: "Conflict", retryable: false }
  if (
    code.startsWith("SQLITE_CANTOPEN") ||
    code.startsWith("SQLITE_IOERR") ||
    code.startsWith("SQLITE_READONLY") ||
    code === "SQLITE_FULL" ||
    code === "SQLITE_PERM" ||
    code === "SQLITE_AUTH" ||
    code === "SQLITE_NOLFS"
  ) {
    return { reason: "Unavailable", retryable: false }
  }
  return { reason: "Unknown", retryable: false }
}

const causeMessage = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const corruptMessage = (path: string, found: string): string =>
  `the metadata store ${path} is not a usable Materia database: ${found}. ` +
  "Move the file away (or delete it) and Materia creates a new, empty store there; " +
  "the runs and materializations recorded in it are then no longer known. " +
  "`materia wipe` cannot repair a file that is not a database."

/** Maps anything thrown by a SQLite operation to a StorageError naming the file and the operation. */
const toStorageError =
  (path: string, operation: string) =>
  (cause: unknown): StorageError => {
    if (cause instanceof StorageError) return cause
    const { reason, retryable } = classify(cause)
    const detail = causeMessage(cause)
    const message =
      reason === "Corrupt"
        ? corruptMessage(path, `SQLite says "${detail}" (${operation})`)
        : reason === "Busy"
          ? `the metadata store ${path} stayed locked by other processes (${operation}): ${detail}`
          : `the metadata store ${path} failed (${operation}): ${detail}`
    return new StorageError({ reason, message, retryable, cause })
  }

/** Runs a synchronous SQLite operation as an Effect, retrying it whole while the database is busy. */
const attempt = <A>(path: string, operation: string, f: () => A): Effect.Effect<A, StorageError> =>
  Effect.try({ try: f, catch: toStorageError(path, operation) }).pipe(
    Effect.retry({ schedule: busyRetry, while: (error) => error.retryable })
  )

interface TableRow {
  readonly name: string
}

/**
 * Tells a Materia database (our application id and a `schema_migrations` table) from a fresh file
 * (no tables, no application id) and from anything else; throws a StorageError for anything else.
 */
const inspect = (db: Database.Database, path: string): "fresh" | "materia" => {
  const applicationId = db.pragma("application_id", { simple: true })
  const tables = db
    .prepare<[], TableRow>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    )
    .all()
    .map((row) => row.name)
  if (applicationId === MATERIA_APPLICATION_ID) {
    if (tables.includes("schema_migrations")) return "materia"
    throw new StorageError({
      reason: "Corrupt",
      retryable: false,
      message: corruptMessage(path, "it is marked as a Materia database but has no schema_migrations table")
    })
  }
  if (applicationId === 0 && tables.length === 0) return "fresh"
  const shown = tables.length > 8 ? `${tables.slice(0, 8).join(", ")}, ...` : tables.join(", ")
  throw new StorageError({
    reason: "Conflict",
    retryable: false,
    message:
      `${path} is a SQLite database of another application, not a Materia metadata store ` +
      `(${tables.length === 0 ? `application id ${String(applicationId)}` : `it holds the tables ${shown}`}). ` +
      "Point Materia at another file, or move this one away (delete it only if nothing else needs it); " +
      "Materia never writes into a database it did not create."
  })
}

interface VersionRow {
  readonly version: number | null
}

/** Applies the pending migrations in one write transaction; refuses a schema newer than this code. */
const migrate = (db: Database.Database, path: string, now: number): void => {
  const run = db.transaction(() => {
    let current = 0
    if (inspect(db, path) === "fresh") {
      db.exec(SCHEMA_MIGRATIONS_TABLE)
    } else {
      current =
        db.prepare<[], VersionRow>("SELECT MAX(version) AS version FROM schema_migrations").get()?.version ??
        0
    }
    if (current > LATEST_SCHEMA_VERSION) {
      throw new StorageError({
        reason: "Conflict",
        retryable: false,
        message:
          `the metadata store ${path} has schema version ${current}, newer than this version of Materia ` +
          `knows (${LATEST_SCHEMA_VERSION}): it was written by a newer Materia. Upgrade @materia/core, ` +
          "or point this one at another database file."
      })
    }
    const record = db.prepare<[number, string, number]>(
      "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)"
    )
    for (const migration of migrations) {
      if (migration.version <= current) continue
      db.exec(migration.sql)
      record.run(migration.version, migration.description, now)
    }
  })
  // BEGIN IMMEDIATE: two processes opening a fresh file migrate one after the other.
  run.immediate()
}

/** Opens the file, checks what it is, turns on WAL and migrates; closes it again on any failure. */
const open = (path: string, busyTimeoutMillis: number, now: number): Database.Database => {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { timeout: busyTimeoutMillis })
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMillis))}`)
    // Read-only first: never switch someone else's database to WAL.
    inspect(db, path)
    db.pragma("journal_mode = WAL")
    // Safe from corruption in WAL mode; a power loss may drop the last commits, never tear one.
    db.pragma("synchronous = NORMAL")
    migrate(db, path, now)
    return db
  } catch (cause) {
    db.close()
    throw cause
  }
}

interface SeqRow {
  readonly seq: number
}

interface EventRow {
  readonly seq: number
  readonly payload: string
}

interface RunRow {
  readonly run_id: string
  readonly project: string
  readonly status: string
  readonly started_at: number
  readonly ended_at: number | null
}

interface AssetRow {
  readonly asset_key: string
  readonly last_failed: number
  readonly run_id: string | null
  readonly at: number | null
  readonly data_version: string | null
  readonly code_version: string | null
  readonly input_versions: string | null
  readonly handle: string | null
  readonly metadata: string | null
  readonly skipped: string | null
}

interface PartitionRow extends AssetRow {
  readonly partition_key: string
}

interface CountRow {
  readonly stored: number
  readonly materialized: number | null
  readonly failed: number | null
}

interface KeyRow {
  readonly partition_key: string
}

interface RecordRow {
  readonly record: string
}

interface CheckRow {
  readonly asset_key: string
  readonly record: string
}

/** An event checked against its Schema and encoded, ready for the transaction. */
interface EncodedEvent {
  readonly event: RunEvent
  readonly payload: string
  readonly key: string | null
}

const encodeEvent = Schema.encodeSync(RunEvent)
const decodeEvent = Schema.decodeUnknownSync(RunEvent)
const decodeCheckRecord = Schema.decodeUnknownSync(CheckRecord)
const decodeCheck = (key: string, u: unknown): CheckRecord => {
  try {
    return decodeCheckRecord(u)
  } catch (cause) {
    throw new Error(`the stored result of a check of asset "${key}" does not decode: ${String(cause)}`)
  }
}
const isRunStatus = Schema.is(RunStatus)
const encodeBackfill = Schema.encodeSync(BackfillRecord)
const decodeBackfill = Schema.decodeUnknownSync(BackfillRecord)

const keyOf = (event: RunEvent): string | null => ("key" in event ? event.key : null)

/**
 * Opens (creating and migrating when needed) the SQLite store at `options.path`. The caller closes
 * it; `SqliteStorageLive` does so with the Layer's scope.
 */
export const makeSqliteStorage = (
  options: SqliteStorageOptions
): Effect.Effect<SqliteStorage, StorageError> =>
  Effect.gen(function* () {
    const path = options.path
    const now = yield* Clock.currentTimeMillis
    const db = yield* attempt(path, "open", () => open(path, options.busyTimeoutMillis ?? 5000, now))

    // Prepared once, reused by every call.
    const maxSeq = db.prepare<[string], SeqRow>(
      "SELECT COALESCE(MAX(seq), 0) AS seq FROM events WHERE run_id = ?"
    )
    const insertEvent = db.prepare<[string, number, string, string, string | null, number, string]>(
      "INSERT INTO events (run_id, seq, project, tag, asset_key, at, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    const startRun = db.prepare<[string, string, number]>(
      `INSERT INTO runs (run_id, project, status, started_at, ended_at) VALUES (?, ?, 'running', ?, NULL)
       ON CONFLICT (run_id) DO UPDATE SET project = excluded.project, status = 'running',
         started_at = excluded.started_at, ended_at = NULL`
    )
    const finishRun = db.prepare<[string, number, string]>(
      "UPDATE runs SET status = ?, ended_at = ? WHERE run_id = ?"
    )
    const setLatest = db.prepare<
      [string, string, string, number, string, string, string, string | null, number | bigint, string | null]
    >(
      `INSERT INTO asset_latest
         (project, asset_key, last_failed, run_id, at, data_version, code_version, input_versions, handle, event_id, metadata, skipped)
       VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
       ON CONFLICT (project, asset_key) DO UPDATE SET last_failed = 0, run_id = excluded.run_id,
         at = excluded.at, data_version = excluded.data_version, code_version = excluded.code_version,
         input_versions = excluded.input_versions, handle = excluded.handle, event_id = excluded.event_id,
         metadata = excluded.metadata, skipped = NULL`
    )
    const setSkipped = db.prepare<[string, string, string]>(
      `INSERT INTO asset_latest (project, asset_key, last_failed, skipped) VALUES (?, ?, 0, ?)
       ON CONFLICT (project, asset_key) DO UPDATE SET last_failed = 0, skipped = excluded.skipped`
    )
    const ensureAsset = db.prepare<[string, string]>(
      "INSERT INTO asset_latest (project, asset_key, last_failed) VALUES (?, ?, 0) ON CONFLICT (project, asset_key) DO NOTHING"
    )
    const setCheck = db.prepare<[string, string, string, string]>(
      `INSERT INTO asset_checks (project, asset_key, check_name, record) VALUES (?, ?, ?, ?)
       ON CONFLICT (project, asset_key, check_name) DO UPDATE SET record = excluded.record`
    )
    const allChecks = db.prepare<[string], CheckRow>(
      "SELECT asset_key, record FROM asset_checks WHERE project = ? ORDER BY asset_key, check_name"
    )
    const someChecks = db.prepare<[string, string], CheckRow>(
      `SELECT asset_key, record FROM asset_checks
       WHERE project = ? AND asset_key IN (SELECT value FROM json_each(?)) ORDER BY asset_key, check_name`
    )
    const deleteChecks = db.prepare<[string, string]>(
      "DELETE FROM asset_checks WHERE project = ? AND asset_key = ?"
    )
    const setFailed = db.prepare<[string, string]>(
      `INSERT INTO asset_latest (project, asset_key, last_failed) VALUES (?, ?, 1)
       ON CONFLICT (project, asset_key) DO UPDATE SET last_failed = 1`
    )
    const assetColumns =
      "asset_key, last_failed, run_id, at, data_version, code_version, input_versions, handle, metadata, skipped"
    const allAssets = db.prepare<[string], AssetRow>(
      `SELECT ${assetColumns} FROM asset_latest WHERE project = ? ORDER BY asset_key`
    )
    const someAssets = db.prepare<[string, string], AssetRow>(
      `SELECT ${assetColumns} FROM asset_latest
       WHERE project = ? AND asset_key IN (SELECT value FROM json_each(?))`
    )
    const selectRuns = db.prepare<[string, number], RunRow>(
      `SELECT run_id, project, status, started_at, ended_at FROM runs
       WHERE project = ? ORDER BY id DESC LIMIT ?`
    )
    const selectEvents = db.prepare<[string, number, number], EventRow>(
      "SELECT seq, payload FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
    )
    const deleteAsset = db.prepare<[string, string]>(
      "DELETE FROM asset_latest WHERE project = ? AND asset_key = ?"
    )

    // The same projection per partition.
    const setLatestP = db.prepare<
      [
        string,
        string,
        string,
        string,
        number,
        string,
        string,
        string,
        string | null,
        number | bigint,
        string | null
      ]
    >(
      `INSERT INTO partition_latest
         (project, asset_key, partition_key, last_failed, run_id, at, data_version, code_version, input_versions, handle, event_id, metadata, skipped)
       VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
       ON CONFLICT (project, asset_key, partition_key) DO UPDATE SET last_failed = 0, run_id = excluded.run_id,
         at = excluded.at, data_version = excluded.data_version, code_version = excluded.code_version,
         input_versions = excluded.input_versions, handle = excluded.handle, event_id = excluded.event_id,
         metadata = excluded.metadata, skipped = NULL`
    )
    const setSkippedP = db.prepare<[string, string, string, string]>(
      `INSERT INTO partition_latest (project, asset_key, partition_key, last_failed, skipped) VALUES (?, ?, ?, 0, ?)
       ON CONFLICT (project, asset_key, partition_key) DO UPDATE SET last_failed = 0, skipped = excluded.skipped`
    )
    const setFailedP = db.prepare<[string, string, string]>(
      `INSERT INTO partition_latest (project, asset_key, partition_key, last_failed) VALUES (?, ?, ?, 1)
       ON CONFLICT (project, asset_key, partition_key) DO UPDATE SET last_failed = 1`
    )
    const partitionColumns = `partition_key, ${assetColumns}`
    const pagePartitions = db.prepare<[string, string, string, number], PartitionRow>(
      `SELECT ${partitionColumns} FROM partition_latest
       WHERE project = ? AND asset_key = ? AND partition_key > ? ORDER BY partition_key LIMIT ?`
    )
    const somePartitions = db.prepare<[string, string, string, string, number], PartitionRow>(
      `SELECT ${partitionColumns} FROM partition_latest
       WHERE project = ? AND asset_key = ? AND partition_key IN (SELECT value FROM json_each(?))
         AND partition_key > ? ORDER BY partition_key LIMIT ?`
    )
    const countPartitions = db.prepare<[string, string], CountRow>(
      `SELECT COUNT(*) AS stored, SUM(run_id IS NOT NULL) AS materialized, SUM(last_failed) AS failed
       FROM partition_latest WHERE project = ? AND asset_key = ?`
    )
    const deletePartitions = db.prepare<[string, string]>(
      "DELETE FROM partition_latest WHERE project = ? AND asset_key = ?"
    )
    const selectDynamic = db.prepare<[string, string], KeyRow>(
      "SELECT partition_key FROM dynamic_partitions WHERE project = ? AND definition = ? ORDER BY seq"
    )
    const insertDynamic = db.prepare<[string, string, string, number]>(
      `INSERT INTO dynamic_partitions (project, definition, partition_key, added_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (project, definition, partition_key) DO NOTHING`
    )
    const deleteDynamic = db.prepare<[string, string, string]>(
      "DELETE FROM dynamic_partitions WHERE project = ? AND definition = ? AND partition_key = ?"
    )
    const upsertBackfill = db.prepare<[string, string, string, number, string]>(
      `INSERT INTO backfills (backfill_id, project, status, created_at, record) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (backfill_id) DO UPDATE SET project = excluded.project, status = excluded.status,
         created_at = excluded.created_at, record = excluded.record`
    )
    const eventsByTagAll = db.prepare<[string, string, number], EventRow>(
      `SELECT seq, payload FROM events
       WHERE project = ? AND tag IN (SELECT value FROM json_each(?)) ORDER BY id DESC LIMIT ?`
    )
    const eventsByTagOfKey = db.prepare<[string, string, string, number], EventRow>(
      `SELECT seq, payload FROM events
       WHERE project = ? AND asset_key = ? AND tag IN (SELECT value FROM json_each(?)) ORDER BY id DESC LIMIT ?`
    )
    const stepAttemptsOf = db.prepare<
      [string, string],
      { readonly started: number; readonly committed: number | null }
    >("SELECT started, committed FROM step_attempts WHERE run_id = ? AND step = ?")
    const setStepAttempts = db.prepare<[string, string, number, number | null]>(
      `INSERT INTO step_attempts (run_id, step, started, committed) VALUES (?, ?, ?, ?)
       ON CONFLICT (run_id, step) DO UPDATE SET started = excluded.started, committed = excluded.committed`
    )
    const deleteStepAttempts = db.prepare<[string]>("DELETE FROM step_attempts WHERE run_id = ?")
    const runStatus = db.prepare<[string], { readonly status: string }>(
      "SELECT status FROM runs WHERE run_id = ? AND status <> 'running'"
    )
    const endedRun = db.prepare<[string, string], { readonly run_id: string }>(
      "SELECT run_id FROM runs WHERE project = ? AND run_id = ? AND status <> 'running'"
    )
    const deleteRunEvents = db.prepare<[string]>("DELETE FROM events WHERE run_id = ?")
    const deleteRunRow = db.prepare<[string]>("DELETE FROM runs WHERE run_id = ?")
    const selectBackfill = db.prepare<[string], RecordRow>(
      "SELECT record FROM backfills WHERE backfill_id = ?"
    )
    const selectBackfills = db.prepare<[string, number], RecordRow>(
      "SELECT record FROM backfills WHERE project = ? ORDER BY created_at DESC, backfill_id DESC LIMIT ?"
    )

    const projectPartition = (
      projectName: string,
      event: RunEvent,
      partition: string,
      eventId: number | bigint
    ): void => {
      switch (event._tag) {
        case "Materialization":
          setLatestP.run(
            projectName,
            event.key,
            partition,
            event.runId,
            event.at,
            event.dataVersion,
            event.codeVersion,
            JSON.stringify(event.inputVersions),
            event.handle === null ? null : JSON.stringify(event.handle),
            eventId,
            JSON.stringify(event.metadata)
          )
          break
        case "StepSkipped":
          if (event.decision !== undefined)
            setSkippedP.run(projectName, event.key, partition, JSON.stringify(event.decision))
          break
        case "CheckEvaluated":
          // The latest result of each check of the asset, whichever partition it saw.
          ensureAsset.run(projectName, event.key)
          setCheck.run(projectName, event.key, event.check, JSON.stringify(checkRecordOf(event)))
          break
        case "StepFailed":
          setFailedP.run(projectName, event.key, partition)
          break
        default:
          break
      }
    }

    const project = (projectName: string, event: RunEvent, eventId: number | bigint): void => {
      if (
        "partition" in event &&
        event.partition !== undefined &&
        "key" in event &&
        event.key !== undefined
      ) {
        projectPartition(projectName, event, event.partition, eventId)
        return
      }
      switch (event._tag) {
        case "RunStarted":
          startRun.run(event.runId, projectName, event.at)
          break
        case "RunFinished":
          finishRun.run(event.status, event.at, event.runId)
          break
        case "Materialization":
          setLatest.run(
            projectName,
            event.key,
            event.runId,
            event.at,
            event.dataVersion,
            event.codeVersion,
            JSON.stringify(event.inputVersions),
            event.handle === null ? null : JSON.stringify(event.handle),
            eventId,
            JSON.stringify(event.metadata)
          )
          break
        case "StepSkipped":
          if (event.decision !== undefined)
            setSkipped.run(projectName, event.key, JSON.stringify(event.decision))
          break
        case "CheckEvaluated": {
          const record = checkRecordOf(event)
          ensureAsset.run(projectName, event.key)
          setCheck.run(projectName, event.key, event.check, JSON.stringify(record))
          break
        }
        case "SourceObserved":
          setLatest.run(
            projectName,
            event.key,
            event.runId,
            event.at,
            event.dataVersion,
            "",
            "{}",
            null,
            eventId,
            null
          )
          break
        case "StepFailed":
          setFailed.run(projectName, event.key)
          break
        default:
          break
      }
    }

    // The events and their projections commit together or not at all; seq is max + 1 per run,
    // computed under the write lock (BEGIN IMMEDIATE), so concurrent writers never collide.
    const appendTx = db.transaction((projectName: string, batch: ReadonlyArray<EncodedEvent>) => {
      const fenced = fencedEvent(
        batch.map((b) => b.event),
        (runId) => runStatus.get(runId)?.status
      )
      if (fenced !== undefined) {
        const { event } = batch[fenced.index]!
        throw runEndedError(path, event.runId, fenced.status, event._tag)
      }
      const attempts = fenceAttempts(
        batch.map((b) => b.event),
        (runId, step) => {
          const row = stepAttemptsOf.get(runId, step)
          return row === undefined
            ? undefined
            : { started: row.started, committed: row.committed ?? undefined }
        }
      )
      if (attempts.refused !== undefined) throw staleAttemptError(path, attempts.refused.reason)
      for (const r of attempts.records) setStepAttempts.run(r.runId, r.step, r.started, r.committed ?? null)
      const nextSeq = new Map<string, number>()
      for (const { event, payload, key } of batch) {
        const seq = nextSeq.get(event.runId) ?? maxSeq.get(event.runId)!.seq + 1
        nextSeq.set(event.runId, seq + 1)
        const { lastInsertRowid } = insertEvent.run(
          event.runId,
          seq,
          projectName,
          event._tag,
          key,
          event.at,
          payload
        )
        project(projectName, event, lastInsertRowid)
      }
    })

    const wipeTx = db.transaction((projectName: string, keys: ReadonlyArray<string>) => {
      let removed = 0
      for (const key of keys) {
        removed += deleteAsset.run(projectName, key).changes
        removed += deletePartitions.run(projectName, key).changes
        deleteChecks.run(projectName, key)
      }
      return removed
    })

    const deleteRunsTx = db.transaction((projectName: string, runIds: ReadonlyArray<string>) => {
      let deleted = 0
      for (const runId of runIds) {
        if (endedRun.get(projectName, runId) === undefined) continue
        deleteRunEvents.run(runId)
        deleteStepAttempts.run(runId)
        deleteRunRow.run(runId)
        deleted++
      }
      return deleted
    })
    const addDynamicTx = db.transaction(
      (projectName: string, definition: string, keys: ReadonlyArray<string>, at: number) => {
        let added = 0
        for (const key of keys) added += insertDynamic.run(projectName, definition, key, at).changes
        return added
      }
    )
    const deleteDynamicTx = db.transaction(
      (projectName: string, definition: string, keys: ReadonlyArray<string>) => {
        let removed = 0
        for (const key of keys) removed += deleteDynamic.run(projectName, definition, key).changes
        return removed
      }
    )

    /** Stored events, decoded; one that does not decode names its seq and where it is. */
    const decodeRows = (rows: ReadonlyArray<EventRow>, where: string): Array<StoredEvent> =>
      rows.map((row): StoredEvent => {
        try {
          return { seq: row.seq, event: decodeEvent(JSON.parse(row.payload)) }
        } catch (cause) {
          throw corrupt(`event ${row.seq} of ${where}`, cause)
        }
      })

    const toBackfill = (row: RecordRow): BackfillRecord => {
      try {
        return decodeBackfill(JSON.parse(row.record))
      } catch (cause) {
        throw corrupt("a stored backfill record", cause)
      }
    }

    const corrupt = (what: string, cause: unknown): StorageError =>
      new StorageError({
        reason: "Corrupt",
        retryable: false,
        message: corruptMessage(path, `${what} does not decode (${causeMessage(cause)})`),
        cause
      })

    const toState = (
      projectName: string,
      row: AssetRow,
      checks: ReadonlyArray<CheckRecord> | undefined
    ): StoredAssetState => {
      try {
        return stateOfRow(row, row.last_failed !== 0, checks)
      } catch (cause) {
        throw corrupt(`the stored state of asset "${row.asset_key}" of project "${projectName}"`, cause)
      }
    }

    let closed = false

    const storage: SqliteStorage = {
      path,
      close: Effect.sync(() => {
        if (closed) return
        closed = true
        db.close()
      }),

      append: (projectName, events) =>
        Effect.suspend(() => {
          if (events.length === 0) return Effect.void
          // Checked and encoded before the transaction: an invalid event leaves nothing behind.
          const batch: Array<EncodedEvent> = []
          for (const [index, event] of events.entries()) {
            try {
              batch.push({ event, payload: JSON.stringify(encodeEvent(event)), key: keyOf(event) })
            } catch (cause) {
              return Effect.fail(
                new StorageError({
                  reason: "Unknown",
                  retryable: false,
                  message:
                    `cannot append to ${path}: event ${index + 1} of ${events.length} ` +
                    `(${String(event?._tag)} of run "${String(event?.runId)}") does not match the RunEvent schema; ` +
                    `nothing of the batch was written: ${causeMessage(cause)}`,
                  cause
                })
              )
            }
          }
          return attempt(path, "append", () => appendTx.immediate(projectName, batch))
        }),

      snapshot: (projectName, keys) =>
        attempt(path, "snapshot", () => {
          const out = new Map<string, StoredAssetState>()
          if (keys !== undefined && keys.length === 0) return out
          const checks = new Map<string, Array<CheckRecord>>()
          const checkRows =
            keys === undefined
              ? allChecks.all(projectName)
              : someChecks.all(projectName, JSON.stringify(keys))
          for (const row of checkRows) {
            const list = checks.get(row.asset_key) ?? []
            if (list.length === 0) checks.set(row.asset_key, list)
            list.push(decodeCheck(row.asset_key, JSON.parse(row.record)))
          }
          if (keys === undefined) {
            for (const row of allAssets.all(projectName))
              out.set(row.asset_key, toState(projectName, row, checks.get(row.asset_key)))
            return out
          }
          const rows = new Map<string, AssetRow>()
          for (const row of someAssets.all(projectName, JSON.stringify(keys))) rows.set(row.asset_key, row)
          for (const key of keys) {
            const row = rows.get(key)
            if (row !== undefined) out.set(key, toState(projectName, row, checks.get(key)))
          }
          return out
        }),

      runs: (projectName, options) =>
        attempt(path, "runs", () =>
          selectRuns.all(projectName, options?.limit ?? -1).map((row): RunRecord => {
            if (!isRunStatus(row.status)) {
              throw corrupt(`the status "${row.status}" of run "${row.run_id}"`, row.status)
            }
            const base = {
              runId: row.run_id,
              project: row.project,
              status: row.status,
              startedAt: row.started_at
            }
            return row.ended_at === null ? base : { ...base, endedAt: row.ended_at }
          })
        ),

      events: (runId, options) =>
        attempt(path, "events", () =>
          decodeRows(selectEvents.all(runId, options?.afterSeq ?? 0, options?.limit ?? -1), `run "${runId}"`)
        ),

      wipe: (projectName, keys) =>
        keys.length === 0
          ? Effect.succeed(0)
          : attempt(path, "wipe", () => wipeTx.immediate(projectName, keys)),

      eventsByTag: (projectName, tags, options) =>
        attempt(path, "events by tag", () => {
          const limit = options?.limit ?? -1
          const rows =
            options?.key === undefined
              ? eventsByTagAll.all(projectName, JSON.stringify(tags), limit)
              : eventsByTagOfKey.all(projectName, options.key, JSON.stringify(tags), limit)
          return decodeRows(rows, `project "${projectName}"`)
        }),

      deleteRuns: (projectName, runIds) =>
        runIds.length === 0
          ? Effect.succeed(0)
          : attempt(path, "delete runs", () => deleteRunsTx.immediate(projectName, runIds)),

      partitions: (projectName, key, query) =>
        attempt(path, "partitions", () => {
          const after = query?.after ?? ""
          const limit = query?.limit ?? -1
          const rows =
            query?.only === undefined
              ? pagePartitions.all(projectName, key, after, limit)
              : query.only.length === 0
                ? []
                : somePartitions.all(projectName, key, JSON.stringify(query.only), after, limit)
          return rows.map(
            (row): StoredPartitionState => ({
              ...toState(projectName, row, undefined),
              partition: row.partition_key
            })
          )
        }),

      partitionCounts: (projectName, key) =>
        attempt(path, "partition counts", () => {
          const row = countPartitions.get(projectName, key)!
          return { stored: row.stored, materialized: row.materialized ?? 0, failed: row.failed ?? 0 }
        }),

      dynamicPartitions: (projectName, definition) =>
        attempt(path, "dynamic partitions", () =>
          selectDynamic.all(projectName, definition).map((row) => row.partition_key)
        ),

      addDynamicPartitions: (projectName, definition, keys) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          attempt(path, "add dynamic partitions", () =>
            addDynamicTx.immediate(projectName, definition, keys, at)
          )
        ),

      deleteDynamicPartitions: (projectName, definition, keys) =>
        attempt(path, "delete dynamic partitions", () =>
          deleteDynamicTx.immediate(projectName, definition, keys)
        ),

      saveBackfill: (record) =>
        attempt(path, "save backfill", () => {
          upsertBackfill.run(
            record.backfillId,
            record.project,
            record.status,
            record.createdAt,
            JSON.stringify(encodeBackfill(record))
          )
        }),

      backfill: (backfillId) =>
        attempt(path, "backfill", () => {
          const row = selectBackfill.get(backfillId)
          return row === undefined ? undefined : toBackfill(row)
        }),

      backfills: (projectName, options) =>
        attempt(path, "backfills", () =>
          selectBackfills.all(projectName, options?.limit ?? -1).map(toBackfill)
        )
    }
    return storage
  })

/** A Layer providing the SQLite store at `path`, closed when the Layer's scope closes. */
export const SqliteStorageLive = (
  path: string,
  options?: Omit<SqliteStorageOptions, "path">
): Layer.Layer<Storage, StorageError> =>
  Layer.effect(
    Storage,
    Effect.acquireRelease(makeSqliteStorage({ ...options, path }), (storage) => storage.close)
  )
