/**
 * The production metadata store: StorageApi over PostgreSQL (node-postgres, a connection pool), for
 * several processes and machines writing one store at once. Same design as the SQLite store: the
 * event log is the source of truth and its projections change in the same transaction.
 */
import { randomUUID } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { PoolClient, QueryResult, QueryResultRow } from "pg"
import { BackfillRecord } from "../../backfill/BackfillRecord.ts"
import { RunEvent, RunStatus } from "../../events/RunEvent.ts"
import {
  acceptedAfterEnd,
  fenceAttempts,
  fencedEvent,
  runEndedError,
  type StepAttempts,
  staleAttemptError,
  staleAttemptReason,
  stepIdOf
} from "../Fences.ts"
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
  LATEST_POSTGRES_SCHEMA_VERSION,
  MIGRATION_LOCK_CLASS,
  POSTGRES_SCHEMA_MIGRATIONS_TABLE,
  postgresMigrations
} from "./migrations.ts"
import { inTransaction, withPooledClient } from "./PostgresClient.ts"
import {
  classifyPostgresFailure,
  POSTGRES_SCHEMA_NAME,
  postgresCauseMessage,
  postgresErrorCode
} from "./PostgresFailure.ts"
import { describePostgresUrl, redactPostgresUrl, validatePostgresUrl } from "./PostgresUrl.ts"

/** How to open a PostgreSQL store. */
export interface PostgresStorageOptions {
  /** `postgres://user[:password]@host[:port]/database`; the password never appears in messages. */
  readonly url: string
  /** The PostgreSQL schema holding Materia's tables, created when missing; `materia` by default. */
  readonly schema?: string | undefined
  /** Connections kept by this process; 10 by default. */
  readonly poolSize?: number | undefined
  /** How long opening a connection (and the ping at open) may take; 5000 ms by default. */
  readonly connectTimeoutMillis?: number | undefined
  /** Shown in `pg_stat_activity`; `materia` by default. */
  readonly applicationName?: string | undefined
  /**
   * `false` sets `synchronous_commit = off` on this store's connections: a commit returns before the
   * server flushes its WAL, so a server crash may lose the last commits (never tear one), as SQLite
   * does in WAL mode with `synchronous = NORMAL`; about 3 ms less per append on a disk that takes
   * that long to flush. `true` (the default) keeps the server's setting.
   */
  readonly synchronousCommit?: boolean | undefined
}

/** An open PostgreSQL store: the StorageApi, where it is (password redacted), and how to close it. */
export interface PostgresStorage extends StorageApi {
  /** The URL with its password replaced by `***`. */
  readonly url: string
  readonly schema: string
  /** Closes the pool once running operations end; idempotent. Later operations fail `Unavailable`. */
  readonly close: Effect.Effect<void>
}

/**
 * Retries of a whole transaction that met a transient failure (a serialization failure, a deadlock,
 * a lost connection, a server restarting): jittered exponential backoff from 10 ms, at most 1 s
 * apart, for up to one minute.
 */
const transientRetry = Schedule.max([
  Schedule.min([Schedule.exponential("10 millis"), Schedule.spaced("1 second")]).pipe(Schedule.jittered),
  Schedule.during("1 minute")
])

/** What to check when a connection cannot be made, by what went wrong. */
const connectAdvice = (url: string, cause: unknown): string => {
  const { host, port, database } = describePostgresUrl(url)
  const code = postgresErrorCode(cause)
  const ready = `\`pg_isready -h ${host} -p ${port}\``
  if (code === "3D000")
    return `The server answered, but the database "${database}" does not exist: create it (\`createdb -h ${host} -p ${port} ${database}\`) or fix the URL.`
  if (code?.startsWith("28"))
    return "The server answered but refused the user or password: check them in the URL and the server's pg_hba.conf."
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return `The host name "${host}" does not resolve: check it in the URL.`
  if (code === "ECONNREFUSED")
    return `Nothing accepts connections at ${host}:${port}: is the PostgreSQL server running there (${ready}), on that port?`
  return `Is the PostgreSQL server running and reachable at ${host}:${port} (${ready})? Check the host, the port and any firewall in between.`
}

interface EventRow {
  readonly seq: number
  readonly payload: string
}

const encodeEvent = Schema.encodeSync(RunEvent)
const decodeEvent = Schema.decodeUnknownSync(RunEvent)
const decodeCheckRecord = Schema.decodeUnknownSync(CheckRecord)
const isRunStatus = Schema.is(RunStatus)
const encodeBackfill = Schema.encodeSync(BackfillRecord)
const decodeBackfill = Schema.decodeUnknownSync(BackfillRecord)

const byBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

interface AssetRow {
  readonly asset_key: string
  readonly last_failed: boolean
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

/** The latest value an event points an asset (or partition) at. */
interface LatestValue {
  readonly runId: string
  /** Index of the event in the batch; its id is known once inserted. */
  readonly index: number
  readonly at: number
  readonly dataVersion: string
  readonly codeVersion: string
  readonly inputVersions: string
  readonly handle: string | null
  readonly metadata: string | null
}

/** What a batch changes in one asset_latest / partition_latest row; an absent field is kept. */
interface StatePatch {
  readonly key: string
  readonly partition: string | undefined
  failed?: boolean
  latest?: LatestValue
  /** `null` clears a skip decision. */
  skipped?: string | null
}

/** The projections of a batch, folded in JS so that each row is written once per transaction. */
interface Folded {
  readonly starts: Map<string, number>
  readonly finishes: Map<string, { readonly status: string; readonly at: number }>
  readonly assets: Map<string, StatePatch>
  readonly partitions: Map<string, StatePatch>
  readonly checks: Map<string, { readonly key: string; readonly check: string; readonly record: string }>
}

const fold = (events: ReadonlyArray<RunEvent>): Folded => {
  const folded: Folded = {
    starts: new Map(),
    finishes: new Map(),
    assets: new Map(),
    partitions: new Map(),
    checks: new Map()
  }
  const patchOf = (key: string, partition: string | undefined): StatePatch => {
    const map = partition === undefined ? folded.assets : folded.partitions
    const id = partition === undefined ? key : `${key}\u0000${partition}`
    let patch = map.get(id)
    if (patch === undefined) {
      patch = { key, partition }
      map.set(id, patch)
    }
    return patch
  }
  for (const [index, event] of events.entries()) {
    const partition = "partition" in event ? event.partition : undefined
    switch (event._tag) {
      case "RunStarted":
        folded.starts.set(event.runId, event.at)
        folded.finishes.delete(event.runId)
        break
      case "RunFinished":
        folded.finishes.set(event.runId, { status: event.status, at: event.at })
        break
      case "Materialization": {
        const patch = patchOf(event.key, partition)
        patch.failed = false
        patch.skipped = null
        patch.latest = {
          runId: event.runId,
          index,
          at: event.at,
          dataVersion: event.dataVersion,
          codeVersion: event.codeVersion,
          inputVersions: JSON.stringify(event.inputVersions),
          handle: event.handle === null ? null : JSON.stringify(event.handle),
          metadata: JSON.stringify(event.metadata)
        }
        break
      }
      case "SourceObserved": {
        const patch = patchOf(event.key, undefined)
        patch.failed = false
        patch.skipped = null
        patch.latest = {
          runId: event.runId,
          index,
          at: event.at,
          dataVersion: event.dataVersion,
          codeVersion: "",
          inputVersions: "{}",
          handle: null,
          metadata: null
        }
        break
      }
      case "StepSkipped":
        if (event.decision !== undefined) {
          const patch = patchOf(event.key, partition)
          patch.failed = false
          patch.skipped = JSON.stringify(event.decision)
        }
        break
      case "StepFailed":
        patchOf(event.key, partition).failed = true
        break
      case "CheckEvaluated":
        // The latest result of each check of the asset, whichever partition it saw.
        patchOf(event.key, undefined)
        folded.checks.set(`${event.key}\u0000${event.check}`, {
          key: event.key,
          check: event.check,
          record: JSON.stringify(checkRecordOf(event))
        })
        break
      default:
        break
    }
  }
  return folded
}

/** The sorted entries of a map: rows are locked in one order by every writer, so no deadlock. */
const sortedValues = <V>(map: ReadonlyMap<string, V>): Array<V> =>
  [...map.entries()].sort(([a], [b]) => byBytes(a, b)).map(([, v]) => v)

/**
 * Opens the PostgreSQL store at `options.url`: pings the server (failing within
 * `connectTimeoutMillis` with an error naming the URL and what to check), then applies pending
 * migrations under an advisory lock. The caller closes it; `PostgresStorageLive` does so with the
 * Layer's scope.
 */
export const makePostgresStorage = (
  options: PostgresStorageOptions
): Effect.Effect<PostgresStorage, StorageError> =>
  Effect.gen(function* () {
    const url = redactPostgresUrl(options.url)
    const invalidUrl = validatePostgresUrl(options.url, "the storage options")
    if (invalidUrl !== undefined) return yield* Effect.fail(invalidUrl)
    const schema = options.schema ?? "materia"
    if (!POSTGRES_SCHEMA_NAME.test(schema))
      return yield* Effect.fail(
        new StorageError({
          reason: "Unknown",
          retryable: false,
          message: `the PostgreSQL schema name "${schema}" for ${url} is not a plain lower-case identifier (a-z, 0-9, _, at most 63 characters, not starting with a digit)`
        })
      )
    const connectTimeoutMillis = Math.max(1, Math.floor(options.connectTimeoutMillis ?? 5000))
    const where = `the PostgreSQL metadata store ${url} (schema ${schema})`

    const toStorageError =
      (operation: string) =>
      (cause: unknown): StorageError => {
        if (cause instanceof StorageError) return cause
        const { reason, retryable } = classifyPostgresFailure(cause)
        const detail = postgresCauseMessage(cause)
        const message =
          reason === "Busy"
            ? `${where} kept meeting concurrent writers (${operation}): ${detail}`
            : reason === "Unavailable"
              ? `${where} is unavailable (${operation}): ${detail}. ${connectAdvice(options.url, cause)}`
              : `${where} failed (${operation}): ${detail}`
        return new StorageError({ reason, message, retryable, cause })
      }

    // Loaded here, not when the module is: `resolvePostgresUrl` and the types come without pg.
    const { default: pg } = yield* Effect.promise(() => import("pg"))
    const pool = new pg.Pool({
      connectionString: options.url,
      max: Math.max(1, options.poolSize ?? 10),
      connectionTimeoutMillis: connectTimeoutMillis,
      keepAlive: true,
      application_name: options.applicationName ?? "materia"
    })
    // An idle connection that dies (server restart, pg_terminate_backend) is dropped by the pool;
    // without a listener its error would crash the process.
    pool.on("error", () => {})
    // A connection killed between its start-up and our first statement reports it while no one
    // listens yet: keep a listener on every connection (its next statement fails anyway).
    pool.on("connect", (client) => {
      client.on("error", () => {})
      // Queued before any statement of ours on this connection; a failure here fails the next one.
      if (options.synchronousCommit === false)
        client.query("SET synchronous_commit TO off").catch(() => undefined)
    })
    let closed = false
    const end = Effect.promise(() => pool.end().catch(() => undefined))

    /** Runs `f` on a pooled connection; a connection that failed is destroyed, not reused. */
    const withClient = <A>(f: (client: PoolClient) => Promise<A>): Promise<A> => {
      if (closed)
        return Promise.reject(
          new StorageError({ reason: "Unavailable", retryable: false, message: `${where} is closed` })
        )
      return withPooledClient(pool, f)
    }

    /** One transaction; any error rolls it back. The whole of it is retried on a transient failure. */
    const transaction = <A>(
      operation: string,
      f: (client: PoolClient) => Promise<A>,
      begin = "BEGIN"
    ): Effect.Effect<A, StorageError> =>
      attempt(operation, () => withClient((client) => inTransaction(client, f, begin)))

    /** One statement outside a transaction, retried on a transient failure. */
    const query = <R extends QueryResultRow>(
      operation: string,
      text: string,
      values: ReadonlyArray<unknown>
    ): Effect.Effect<Array<R>, StorageError> =>
      attempt(operation, () => withClient((client) => client.query<R>(text, [...values]))).pipe(
        Effect.map((result) => result.rows)
      )

    const attempt = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, StorageError> =>
      Effect.tryPromise({ try: f, catch: toStorageError(operation) }).pipe(
        Effect.retry({ schedule: transientRetry, while: (error) => error.retryable })
      )

    // The ping: its own connection, under its own timeout (a server that accepts and never answers
    // must not hang the caller), with the advice the failure calls for.
    yield* Effect.tryPromise({
      try: () => withClient((client) => client.query("SELECT 1")),
      catch: (cause) =>
        new StorageError({
          reason:
            classifyPostgresFailure(cause).reason === "Unknown"
              ? "Unavailable"
              : classifyPostgresFailure(cause).reason,
          retryable: classifyPostgresFailure(cause).retryable,
          message: `cannot connect to the PostgreSQL metadata store ${url}: ${postgresCauseMessage(cause)}. ${connectAdvice(options.url, cause)}`,
          cause
        })
    }).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(connectTimeoutMillis),
        orElse: () =>
          Effect.fail(
            new StorageError({
              reason: "Unavailable",
              retryable: true,
              message:
                `cannot connect to the PostgreSQL metadata store ${url}: no answer within ${connectTimeoutMillis} ms. ` +
                connectAdvice(options.url, undefined)
            })
          )
      }),
      Effect.onError(() => end)
    )

    const s = `"${schema}"`
    const now = yield* Clock.currentTimeMillis

    // Migrations: one transaction under a transaction-level advisory lock, so processes starting
    // together migrate one after the other; the second finds the work done.
    yield* Effect.tryPromise({
      try: () =>
        withClient(async (client) => {
          await client.query("BEGIN")
          try {
            await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [
              MIGRATION_LOCK_CLASS,
              schema
            ])
            await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`)
            await client.query(`SET LOCAL search_path TO ${s}`)
            const tables = (
              await client.query<{ table_name: string }>(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
                [schema]
              )
            ).rows.map((row) => row.table_name)
            let current = 0
            if (tables.length === 0) {
              await client.query(POSTGRES_SCHEMA_MIGRATIONS_TABLE)
            } else if (tables.includes("schema_migrations")) {
              current =
                (
                  await client.query<{ version: number | null }>(
                    "SELECT MAX(version) AS version FROM schema_migrations"
                  )
                ).rows[0]?.version ?? 0
            } else {
              const shown = tables.length > 8 ? `${tables.slice(0, 8).join(", ")}, ...` : tables.join(", ")
              throw new StorageError({
                reason: "Conflict",
                retryable: false,
                message:
                  `the schema "${schema}" of ${url} holds tables of another application (${shown}), not a ` +
                  "Materia metadata store. Give Materia a schema of its own (the `schema` option), or another " +
                  "database; Materia never writes into tables it did not create."
              })
            }
            if (current > LATEST_POSTGRES_SCHEMA_VERSION)
              throw new StorageError({
                reason: "Conflict",
                retryable: false,
                message:
                  `${where} has schema version ${current}, newer than this version of Materia knows ` +
                  `(${LATEST_POSTGRES_SCHEMA_VERSION}): it was written by a newer Materia. Upgrade @materia/core, ` +
                  "or point this one at another database or schema."
              })
            for (const migration of postgresMigrations) {
              if (migration.version <= current) continue
              await client.query(migration.sql)
              await client.query(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
                [migration.version, migration.description, now]
              )
            }
            await client.query("COMMIT")
          } catch (cause) {
            await client.query("ROLLBACK").catch(() => undefined)
            throw cause
          }
        }),
      catch: toStorageError("migrate")
    }).pipe(Effect.onError(() => end))

    const corrupt = (what: string, cause: unknown): StorageError =>
      new StorageError({
        reason: "Corrupt",
        retryable: false,
        message:
          `${where} holds ${what} that does not decode (${postgresCauseMessage(cause)}). It was written by another ` +
          "program or a damaged Materia; `materia wipe` of the asset forgets its state, the event log stays.",
        cause
      })

    /** Stored events, decoded; one that does not decode names its seq and where it is. */
    const decodeRows = (rows: ReadonlyArray<EventRow>, place: string, operation: string) =>
      Effect.try({
        try: () =>
          rows.map((row): StoredEvent => {
            try {
              return { seq: row.seq, event: decodeEvent(JSON.parse(row.payload)) }
            } catch (cause) {
              throw corrupt(`event ${row.seq} of ${place}`, cause)
            }
          }),
        catch: toStorageError(operation)
      })

    const toState = (
      projectName: string,
      row: AssetRow,
      checks: ReadonlyArray<CheckRecord> | undefined
    ): StoredAssetState => {
      try {
        return stateOfRow(row, row.last_failed, checks)
      } catch (cause) {
        throw corrupt(`the state of asset "${row.asset_key}" of project "${projectName}"`, cause)
      }
    }

    const assetColumns =
      "asset_key, last_failed, run_id, at, data_version, code_version, input_versions, handle, metadata, skipped"

    /** The columns of one state upsert (asset_latest or partition_latest) as parameter arrays. */
    const stateArrays = (patches: ReadonlyArray<StatePatch>, back: ReadonlyArray<number>) => {
      const latest = <A>(f: (l: LatestValue) => A) =>
        patches.map((p) => (p.latest === undefined ? null : f(p.latest)))
      return [
        patches.map((p) => p.key),
        patches.map((p) => p.partition ?? ""),
        // Only a patch of check results alone leaves last_failed unset: see the upserts.
        patches.map((p) => p.failed ?? false),
        latest((l) => l.runId),
        latest((l) => back[l.index]!),
        latest((l) => l.at),
        latest((l) => l.dataVersion),
        latest((l) => l.codeVersion),
        latest((l) => l.inputVersions),
        latest((l) => l.handle),
        latest((l) => l.metadata),
        patches.map((p) => p.skipped ?? null)
      ]
    }

    /**
     * How one upsert of asset_latest / partition_latest applies a patch to an existing row. A patch
     * carries no flags, its values say what to set: a latest value always has a run id; a skip
     * decision is cleared only by a new latest value; and a patch that sets nothing (check results
     * alone) is the only one with no run id, no skip decision and last_failed false, since every
     * other event that clears last_failed also sets a latest value or a skip decision.
     *
     * A latest value older than the row's (a smaller event id) is not applied: event ids come from a
     * sequence, handed out before commit, so two runs materializing one asset can commit in the other
     * order. The pointer then always names the newest materialization event, as replaying the events
     * in id order would.
     */
    const keepLatest = "(EXCLUDED.run_id IS NULL OR COALESCE(EXCLUDED.event_id < t.event_id, false))"
    const stateUpdate = `
      last_failed = CASE WHEN EXCLUDED.run_id IS NULL AND EXCLUDED.skipped IS NULL AND NOT EXCLUDED.last_failed
                         THEN t.last_failed ELSE EXCLUDED.last_failed END,
      ${["run_id", "at", "data_version", "code_version", "input_versions", "handle", "event_id", "metadata"]
        .map((c) => `${c} = CASE WHEN ${keepLatest} THEN t.${c} ELSE EXCLUDED.${c} END`)
        .join(",\n      ")},
      skipped = CASE WHEN EXCLUDED.skipped IS NOT NULL THEN EXCLUDED.skipped
                     WHEN NOT ${keepLatest} THEN NULL ELSE t.skipped END`

    /** The rows of a state upsert, from the parameters at `$first...`, with the id of the latest's event. */
    const stateRows = (first: number) => {
      const p = (i: number) => `$${first + i}`
      return `
        SELECT $3, u.asset_key, u.partition_key, u.failed, u.run_id, u.at, u.data_version, u.code_version,
               u.input_versions, u.handle, ev.id, u.metadata, u.skipped
        FROM unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::boolean[], ${p(3)}::text[], ${p(4)}::int[],
                    ${p(5)}::float8[], ${p(6)}::text[], ${p(7)}::text[], ${p(8)}::text[], ${p(9)}::text[],
                    ${p(10)}::text[], ${p(11)}::text[])
          AS u(asset_key, partition_key, failed, run_id, back, at, data_version, code_version, input_versions,
               handle, metadata, skipped)
        LEFT JOIN alloc a ON a.run_id = u.run_id
        LEFT JOIN ev ON ev.run_id = u.run_id AND ev.seq = a.last_seq - u.back`
    }

    /**
     * The whole append as one statement (so one round trip, and its own transaction). Seq numbers
     * come from run_seqs: the upsert bumps each run's counter and keeps its row locked until commit,
     * so concurrent appends to one run take turns and a rolled-back one gives its numbers back.
     * Every projection row is written once (the batch is folded first), rows in key order.
     */
    const appendStatement = `
      WITH alloc AS (
        INSERT INTO ${s}.run_seqs AS t (run_id, last_seq, ended_status)
        SELECT * FROM unnest($1::text[], $2::int[], $46::text[])
        ON CONFLICT (run_id) DO UPDATE SET
          last_seq = CASE
            WHEN t.ended_status IS NOT NULL
                 AND (SELECT f.fenced FROM unnest($1::text[], $47::boolean[]) AS f(run_id, fenced)
                      WHERE f.run_id = t.run_id)
            THEN ${s}.refuse_ended_run(t.run_id, t.ended_status)
            ELSE t.last_seq + EXCLUDED.last_seq END,
          ended_status = COALESCE(t.ended_status, EXCLUDED.ended_status)
        RETURNING run_id, last_seq
      ), ev AS (
        INSERT INTO ${s}.events (run_id, seq, project, tag, asset_key, partition_key, at, payload, batch_id)
        SELECT u.run_id, a.last_seq - u.back, $3, u.tag, u.asset_key, u.partition_key, u.at, u.payload,
               CASE WHEN u.ord = 1 THEN $4 END
        FROM unnest($5::text[], $6::int[], $7::text[], $8::text[], $9::text[], $10::float8[], $11::text[])
          WITH ORDINALITY AS u(run_id, back, tag, asset_key, partition_key, at, payload, ord)
        JOIN alloc a ON a.run_id = u.run_id
        RETURNING id, run_id, seq
      ), started AS (
        INSERT INTO ${s}.runs AS t (run_id, project, status, started_at, ended_at)
        SELECT u.run_id, $3, u.status, u.started_at, u.ended_at
        FROM unnest($12::text[], $13::text[], $14::float8[], $15::float8[]) AS u(run_id, status, started_at, ended_at)
        ON CONFLICT (run_id) DO UPDATE SET project = EXCLUDED.project, status = EXCLUDED.status,
          started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at
        RETURNING 1
      ), finished AS (
        UPDATE ${s}.runs AS t SET status = u.status, ended_at = u.at
        FROM unnest($16::text[], $17::text[], $18::float8[]) AS u(run_id, status, at)
        WHERE t.run_id = u.run_id
        RETURNING 1
      ), checks AS (
        INSERT INTO ${s}.asset_checks (project, asset_key, check_name, record)
        SELECT $3, u.k, u.c, u.r FROM unnest($19::text[], $20::text[], $21::text[]) AS u(k, c, r)
        ON CONFLICT (project, asset_key, check_name) DO UPDATE SET record = EXCLUDED.record
        RETURNING 1
      ), assets AS (
        INSERT INTO ${s}.asset_latest AS t
          (project, asset_key, last_failed, run_id, at, data_version, code_version, input_versions, handle,
           event_id, metadata, skipped)
        SELECT project, asset_key, failed, run_id, at, data_version, code_version, input_versions, handle,
               event_id, metadata, skipped
        FROM (${stateRows(22)}) AS r(project, asset_key, partition_key, failed, run_id, at, data_version,
                                     code_version, input_versions, handle, event_id, metadata, skipped)
        ON CONFLICT (project, asset_key) DO UPDATE SET ${stateUpdate}
        RETURNING 1
      ), parts AS (
        INSERT INTO ${s}.partition_latest AS t
          (project, asset_key, partition_key, last_failed, run_id, at, data_version, code_version,
           input_versions, handle, event_id, metadata, skipped)
        ${stateRows(34)}
        ON CONFLICT (project, asset_key, partition_key) DO UPDATE SET ${stateUpdate}
        RETURNING 1
      ), attempts AS (
        INSERT INTO ${s}.step_attempts AS t (run_id, asset_key, partition_key, started, committed)
        SELECT * FROM unnest($48::text[], $49::text[], $50::text[], $51::int[], $52::int[])
        ON CONFLICT (run_id, asset_key, partition_key) DO UPDATE SET
          started = GREATEST(t.started, EXCLUDED.started),
          committed = CASE
            WHEN EXCLUDED.committed IS NULL THEN t.committed
            WHEN t.committed IS NOT NULL OR EXCLUDED.committed < t.started
              THEN ${s}.refuse_stale_attempt(t.run_id, t.asset_key, t.partition_key, EXCLUDED.committed,
                                             t.started, t.committed)
            ELSE EXCLUDED.committed END
        RETURNING 1
      )
      SELECT (SELECT COUNT(*) FROM ev)::int AS events`

    /** Returns false when the batch was already committed (an earlier try whose COMMIT reply was lost). */
    const appendBatch = async (
      client: PoolClient,
      projectName: string,
      events: ReadonlyArray<RunEvent>,
      payloads: ReadonlyArray<string>,
      batchId: string,
      /** The attempt fence's records of the batch (checked within it by `append`). */
      attempts: ReadonlyArray<StepAttempts>
    ): Promise<boolean> => {
      // How many events each run gets, and each event's distance from its run's last one.
      const counts = new Map<string, number>()
      for (const event of events) counts.set(event.runId, (counts.get(event.runId) ?? 0) + 1)
      const seen = new Map<string, number>()
      const back = events.map((event) => {
        const k = (seen.get(event.runId) ?? 0) + 1
        seen.set(event.runId, k)
        return counts.get(event.runId)! - k
      })
      const runIds = [...counts.keys()].sort(byBytes)
      const folded = fold(events)
      const starts = [...folded.starts.keys()].sort(byBytes)
      const finishes = [...folded.finishes.keys()].filter((id) => !folded.starts.has(id)).sort(byBytes)
      const checks = sortedValues(folded.checks)
      let result: QueryResult<{ events: number }>
      try {
        // Named: each connection parses and plans it once.
        result = await client.query<{ events: number }>({
          name: `materia_append_${schema}`,
          text: appendStatement,
          values: [
            runIds,
            runIds.map((id) => counts.get(id)!),
            projectName,
            batchId,
            events.map((e) => e.runId),
            back,
            events.map((e) => e._tag),
            events.map((e) => ("key" in e ? e.key : null)),
            events.map((e) => ("partition" in e ? (e.partition ?? null) : null)),
            events.map((e) => e.at),
            payloads,
            starts,
            starts.map((id) => folded.finishes.get(id)?.status ?? "running"),
            starts.map((id) => folded.starts.get(id)!),
            starts.map((id) => folded.finishes.get(id)?.at ?? null),
            finishes,
            finishes.map((id) => folded.finishes.get(id)!.status),
            finishes.map((id) => folded.finishes.get(id)!.at),
            checks.map((c) => c.key),
            checks.map((c) => c.check),
            checks.map((c) => c.record),
            ...stateArrays(sortedValues(folded.assets), back),
            ...stateArrays(sortedValues(folded.partitions), back),
            // The run fence: how each run ends in this batch, and whether the batch adds to it.
            runIds.map((id) => folded.finishes.get(id)?.status ?? null),
            runIds.map((id) => events.some((e) => e.runId === id && !acceptedAfterEnd(e))),
            // The attempt fence: each step's newest attempt started and committed in this batch.
            attempts.map((a) => a.runId),
            attempts.map((a) => a.key),
            attempts.map((a) => a.partition ?? ""),
            attempts.map((a) => a.started),
            attempts.map((a) => a.committed ?? null)
          ]
        })
      } catch (cause) {
        if (postgresErrorCode(cause) === "MF001") {
          const { hint, detail } = cause as { readonly hint?: string; readonly detail?: string }
          const refused = events.find((e) => e.runId === hint && !acceptedAfterEnd(e))
          throw runEndedError(where, hint ?? "?", detail ?? "?", refused?._tag ?? "?")
        }
        if (postgresErrorCode(cause) === "MF002") {
          const [runId, key, partition, attempt, started, committed] = JSON.parse(
            (cause as { readonly detail?: string }).detail ?? "[]"
          ) as [string, string, string, number, number, number | null]
          const step = stepIdOf({ key, partition: partition === "" ? undefined : partition })
          throw staleAttemptError(
            where,
            staleAttemptReason(runId, step, attempt, started, committed ?? undefined)
          )
        }
        // Committed by an earlier try whose reply was lost: nothing more to do.
        if (
          postgresErrorCode(cause) === "23505" &&
          (cause as { constraint?: unknown }).constraint === "events_batch_id"
        )
          return false
        throw cause
      }
      const inserted = result.rows[0]?.events
      if (inserted !== events.length)
        throw new StorageError({
          reason: "Unknown",
          retryable: false,
          message: `${where} recorded ${String(inserted)} of the ${events.length} events of a batch`
        })
      return true
    }

    const toBackfill = (row: { readonly record: string }): BackfillRecord => {
      try {
        return decodeBackfill(JSON.parse(row.record))
      } catch (cause) {
        throw corrupt("a backfill record", cause)
      }
    }

    const storage: PostgresStorage = {
      url,
      schema,
      close: Effect.suspend(() => {
        if (closed) return Effect.void
        closed = true
        return end
      }),

      append: (projectName, events) =>
        Effect.suspend(() => {
          if (events.length === 0) return Effect.void
          // Checked and encoded before the transaction: an invalid event leaves nothing behind.
          const payloads: Array<string> = []
          for (const [index, event] of events.entries()) {
            try {
              payloads.push(JSON.stringify(encodeEvent(event)))
            } catch (cause) {
              return Effect.fail(
                new StorageError({
                  reason: "Unknown",
                  retryable: false,
                  message:
                    `cannot append to ${where}: event ${index + 1} of ${events.length} ` +
                    `(${String(event?._tag)} of run "${String(event?.runId)}") does not match the RunEvent schema; ` +
                    `nothing of the batch was written: ${postgresCauseMessage(cause)}`,
                  cause
                })
              )
            }
          }
          // The fence within the batch; the store applies it against earlier batches (run_seqs).
          const fenced = fencedEvent(events, () => undefined)
          if (fenced !== undefined) {
            const event = events[fenced.index]!
            return Effect.fail(runEndedError(where, event.runId, fenced.status, event._tag))
          }
          // Within the batch here; against earlier batches by appendBatch's upsert, under the row's lock.
          const attempts = fenceAttempts(events, () => undefined)
          if (attempts.refused !== undefined)
            return Effect.fail(staleAttemptError(where, attempts.refused.reason))
          // One id per append, kept across retries: a retry of a batch that did commit is a no-op.
          const batchId = randomUUID()
          return attempt("append", () =>
            withClient((client) =>
              appendBatch(client, projectName, events, payloads, batchId, attempts.records)
            )
          )
        }).pipe(Effect.asVoid),

      snapshot: (projectName, keys) =>
        Effect.suspend(() => {
          if (keys !== undefined && keys.length === 0)
            return Effect.succeed(new Map<string, StoredAssetState>())
          const filter = keys === undefined ? "" : "AND asset_key = ANY($2::text[])"
          const values = keys === undefined ? [projectName] : [projectName, [...keys]]
          // One read-only snapshot: the checks and the states are of the same moment.
          return transaction(
            "snapshot",
            async (client) => {
              const checkRows = await client.query<{ asset_key: string; record: string }>(
                `SELECT asset_key, record FROM ${s}.asset_checks WHERE project = $1 ${filter}
               ORDER BY asset_key, check_name`,
                values
              )
              const rows = await client.query<AssetRow>(
                `SELECT ${assetColumns} FROM ${s}.asset_latest WHERE project = $1 ${filter} ORDER BY asset_key`,
                values
              )
              return { checkRows: checkRows.rows, rows: rows.rows }
            },
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
          ).pipe(
            Effect.flatMap(({ checkRows, rows }) =>
              Effect.try({
                try: () => {
                  const checks = new Map<string, Array<CheckRecord>>()
                  for (const row of checkRows) {
                    const list = checks.get(row.asset_key) ?? []
                    if (list.length === 0) checks.set(row.asset_key, list)
                    try {
                      list.push(decodeCheckRecord(JSON.parse(row.record)))
                    } catch (cause) {
                      throw corrupt(`a check result of asset "${row.asset_key}"`, cause)
                    }
                  }
                  const byKey = new Map(rows.map((row) => [row.asset_key, row]))
                  const out = new Map<string, StoredAssetState>()
                  for (const key of keys ?? byKey.keys()) {
                    const row = byKey.get(key)
                    if (row !== undefined && !out.has(key))
                      out.set(key, toState(projectName, row, checks.get(key)))
                  }
                  return out as ReadonlyMap<string, StoredAssetState>
                },
                catch: toStorageError("snapshot")
              })
            )
          )
        }),

      runs: (projectName, options) =>
        query<{
          run_id: string
          project: string
          status: string
          started_at: number
          ended_at: number | null
        }>(
          "runs",
          `SELECT run_id, project, status, started_at, ended_at FROM ${s}.runs
           WHERE project = $1 ORDER BY id DESC LIMIT $2`,
          [projectName, options?.limit ?? null]
        ).pipe(
          Effect.flatMap((rows) =>
            Effect.try({
              try: () =>
                rows.map((row): RunRecord => {
                  if (!isRunStatus(row.status))
                    throw corrupt(`the status "${row.status}" of run "${row.run_id}"`, row.status)
                  const base = {
                    runId: row.run_id,
                    project: row.project,
                    status: row.status,
                    startedAt: row.started_at
                  }
                  return row.ended_at === null ? base : { ...base, endedAt: row.ended_at }
                }),
              catch: toStorageError("runs")
            })
          )
        ),

      events: (runId, options) =>
        query<EventRow>(
          "events",
          `SELECT seq, payload FROM ${s}.events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
          [runId, options?.afterSeq ?? 0, options?.limit ?? null]
        ).pipe(Effect.flatMap((rows) => decodeRows(rows, `run "${runId}"`, "events"))),

      wipe: (projectName, keys) =>
        keys.length === 0
          ? Effect.succeed(0)
          : transaction("wipe", async (client) => {
              const list = [...new Set(keys)]
              const assets = await client.query(
                `DELETE FROM ${s}.asset_latest WHERE project = $1 AND asset_key = ANY($2::text[])`,
                [projectName, list]
              )
              const parts = await client.query(
                `DELETE FROM ${s}.partition_latest WHERE project = $1 AND asset_key = ANY($2::text[])`,
                [projectName, list]
              )
              await client.query(
                `DELETE FROM ${s}.asset_checks WHERE project = $1 AND asset_key = ANY($2::text[])`,
                [projectName, list]
              )
              return (assets.rowCount ?? 0) + (parts.rowCount ?? 0)
            }),

      eventsByTag: (projectName, tags, options) =>
        query<EventRow>(
          "events by tag",
          options?.key === undefined
            ? `SELECT seq, payload FROM ${s}.events WHERE project = $1 AND tag = ANY($2::text[]) ORDER BY id DESC LIMIT $3`
            : `SELECT seq, payload FROM ${s}.events WHERE project = $1 AND tag = ANY($2::text[]) AND asset_key = $4 ORDER BY id DESC LIMIT $3`,
          options?.key === undefined
            ? [projectName, [...tags], options?.limit ?? null]
            : [projectName, [...tags], options?.limit ?? null, options.key]
        ).pipe(Effect.flatMap((rows) => decodeRows(rows, `project "${projectName}"`, "events by tag"))),

      deleteRuns: (projectName, runIds) =>
        runIds.length === 0
          ? Effect.succeed(0)
          : transaction("delete runs", async (client) => {
              const ended = await client.query<{ run_id: string }>(
                `DELETE FROM ${s}.runs WHERE project = $1 AND run_id = ANY($2::text[]) AND status <> 'running' RETURNING run_id`,
                [projectName, [...new Set(runIds)]]
              )
              const gone = ended.rows.map((r) => r.run_id)
              if (gone.length > 0) {
                await client.query(`DELETE FROM ${s}.events WHERE run_id = ANY($1::text[])`, [gone])
                await client.query(`DELETE FROM ${s}.run_seqs WHERE run_id = ANY($1::text[])`, [gone])
                await client.query(`DELETE FROM ${s}.step_attempts WHERE run_id = ANY($1::text[])`, [gone])
              }
              return gone.length
            }),

      partitions: (projectName, key, partitionQuery) => {
        const only = partitionQuery?.only
        if (only !== undefined && only.length === 0) return Effect.succeed([])
        return query<PartitionRow>(
          "partitions",
          `SELECT partition_key, ${assetColumns} FROM ${s}.partition_latest
           WHERE project = $1 AND asset_key = $2 AND partition_key > $3
             ${only === undefined ? "" : "AND partition_key = ANY($5::text[])"}
           ORDER BY partition_key LIMIT $4`,
          [
            projectName,
            key,
            partitionQuery?.after ?? "",
            partitionQuery?.limit ?? null,
            ...(only === undefined ? [] : [[...only]])
          ]
        ).pipe(
          Effect.flatMap((rows) =>
            Effect.try({
              try: () =>
                rows.map(
                  (row): StoredPartitionState => ({
                    ...toState(projectName, row, undefined),
                    partition: row.partition_key
                  })
                ),
              catch: toStorageError("partitions")
            })
          )
        )
      },

      partitionCounts: (projectName, key) =>
        query<{ stored: number; materialized: number; failed: number }>(
          "partition counts",
          `SELECT COUNT(*)::int AS stored, COUNT(run_id)::int AS materialized,
                  (COUNT(*) FILTER (WHERE last_failed))::int AS failed
           FROM ${s}.partition_latest WHERE project = $1 AND asset_key = $2`,
          [projectName, key]
        ).pipe(
          Effect.map(([row]) => ({
            stored: row?.stored ?? 0,
            materialized: row?.materialized ?? 0,
            failed: row?.failed ?? 0
          }))
        ),

      dynamicPartitions: (projectName, definition) =>
        query<{ partition_key: string }>(
          "dynamic partitions",
          `SELECT partition_key FROM ${s}.dynamic_partitions WHERE project = $1 AND definition = $2 ORDER BY seq`,
          [projectName, definition]
        ).pipe(Effect.map((rows) => rows.map((row) => row.partition_key))),

      addDynamicPartitions: (projectName, definition, keys) =>
        keys.length === 0
          ? Effect.succeed(0)
          : Effect.flatMap(Clock.currentTimeMillis, (at) =>
              transaction("add dynamic partitions", async (client) => {
                // In the given order, so that seq keeps it; a key given twice is added once.
                const result = await client.query(
                  `INSERT INTO ${s}.dynamic_partitions (project, definition, partition_key, added_at)
                   SELECT $1, $2, u.k, $4 FROM unnest($3::text[]) WITH ORDINALITY AS u(k, i) ORDER BY u.i
                   ON CONFLICT (project, definition, partition_key) DO NOTHING`,
                  [projectName, definition, [...keys], at]
                )
                return result.rowCount ?? 0
              })
            ),

      deleteDynamicPartitions: (projectName, definition, keys) =>
        keys.length === 0
          ? Effect.succeed(0)
          : transaction("delete dynamic partitions", async (client) => {
              const result = await client.query(
                `DELETE FROM ${s}.dynamic_partitions
                 WHERE project = $1 AND definition = $2 AND partition_key = ANY($3::text[])`,
                [projectName, definition, [...keys]]
              )
              return result.rowCount ?? 0
            }),

      saveBackfill: (record) =>
        Effect.suspend(() => {
          const encoded = JSON.stringify(encodeBackfill(record))
          return query(
            "save backfill",
            `INSERT INTO ${s}.backfills (backfill_id, project, status, created_at, record) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (backfill_id) DO UPDATE SET project = EXCLUDED.project, status = EXCLUDED.status,
               created_at = EXCLUDED.created_at, record = EXCLUDED.record`,
            [record.backfillId, record.project, record.status, record.createdAt, encoded]
          )
        }).pipe(Effect.asVoid),

      backfill: (backfillId) =>
        query<{ record: string }>("backfill", `SELECT record FROM ${s}.backfills WHERE backfill_id = $1`, [
          backfillId
        ]).pipe(
          Effect.flatMap((rows) =>
            Effect.try({
              try: () => (rows[0] === undefined ? undefined : toBackfill(rows[0])),
              catch: toStorageError("backfill")
            })
          )
        ),

      backfills: (projectName, options) =>
        query<{ record: string }>(
          "backfills",
          `SELECT record FROM ${s}.backfills WHERE project = $1
           ORDER BY created_at DESC, backfill_id DESC LIMIT $2`,
          [projectName, options?.limit ?? null]
        ).pipe(
          Effect.flatMap((rows) =>
            Effect.try({ try: () => rows.map(toBackfill), catch: toStorageError("backfills") })
          )
        )
    }
    return storage
  })

/** A Layer providing the PostgreSQL store at `url`, closed when the Layer's scope closes. */
export const PostgresStorageLive = (
  url: string,
  options?: Omit<PostgresStorageOptions, "url">
): Layer.Layer<Storage, StorageError> =>
  Layer.effect(
    Storage,
    Effect.acquireRelease(makePostgresStorage({ ...options, url }), (storage) => storage.close)
  )
