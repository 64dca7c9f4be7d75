/**
 * The daemon store in PostgreSQL, beside a production project's metadata: its own `daemon_*` tables
 * in the metadata store's schema, created by versioned migrations under an advisory lock (a version
 * track of their own, so core's migrations never need to know about them). Every daemon of every
 * machine shares one lease here, taken by compare-and-set. `pg` loads only when a store is opened.
 */

import {
  classifyPostgresFailure,
  describePostgresUrl,
  inTransaction,
  POSTGRES_SCHEMA_NAME,
  postgresCauseMessage,
  redactPostgresUrl,
  validatePostgresUrl,
  withPooledClient
} from "@materia/core/postgres"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Pool, PoolClient, QueryResultRow } from "pg"
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

/** One step of the daemon tables' schema; `version` is strictly increasing. Never edit a released one. */
export interface DaemonMigration {
  readonly version: number
  readonly description: string
  /** Runs with `search_path` set to the store's schema: table names are unqualified. */
  readonly sql: string
}

/**
 * The first key of the advisory locks the daemon store takes ("MTDA"; core's migrations use
 * "MTRA"): its migrations lock `(class, hashtext(schema))`, a tick's commit `(class + 1, hashtext(
 * schema:kind:name))`, so commits of one schedule or sensor take turns and others never wait.
 */
export const DAEMON_LOCK_CLASS = 0x4d544441

export const daemonPostgresMigrations: ReadonlyArray<DaemonMigration> = [
  {
    version: 1,
    description: "schedule and sensor state, ticks, the run queue, run keys and the lease",
    sql: `
CREATE TABLE daemon_state (
  kind TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  status TEXT NOT NULL,
  started_at DOUBLE PRECISION,
  last_tick_at DOUBLE PRECISION,
  cursor TEXT,
  PRIMARY KEY (kind, name)
);
-- seq is the listing order (newest first); tick_id makes a commit idempotent.
CREATE TABLE daemon_ticks (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE INDEX daemon_ticks_by_name ON daemon_ticks (kind, name, seq);
CREATE INDEX daemon_ticks_by_evaluated ON daemon_ticks (evaluated_at);
-- The run queue in queue order (seq); request is a RunRequest as JSON.
CREATE TABLE daemon_runs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE INDEX daemon_runs_by_status ON daemon_runs (status, seq);
CREATE INDEX daemon_runs_by_tick ON daemon_runs (tick_id);
CREATE TABLE daemon_run_keys (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  run_key TEXT NOT NULL,
  tick_id TEXT NOT NULL,
  at DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (kind, name, run_key)
);
CREATE INDEX daemon_run_keys_by_at ON daemon_run_keys (at);
-- At most one row: who works on this store, until when.
CREATE TABLE daemon_lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  owner TEXT NOT NULL,
  expires_at DOUBLE PRECISION NOT NULL
);
`
  },
  {
    version: 2,
    description: "the host and the daemon that launched each run",
    sql: `
-- Only a daemon on the launching host can judge a run's pid; others watch its Materia run.
ALTER TABLE daemon_runs ADD COLUMN host TEXT, ADD COLUMN lease_owner TEXT;
`
  }
]

/** The newest version of the daemon tables this code knows. */
export const DAEMON_POSTGRES_SCHEMA_VERSION =
  daemonPostgresMigrations[daemonPostgresMigrations.length - 1]!.version

/** How to open a PostgreSQL daemon store. */
export interface PostgresDaemonStoreOptions {
  /** `postgres://user[:password]@host[:port]/database`; the password never appears in messages. */
  readonly url: string
  /** The schema of the project's metadata store (the daemon tables go beside it); `materia` by default. */
  readonly schema?: string | undefined
  /** Connections kept by this process; 4 by default (the daemon works one statement at a time). */
  readonly poolSize?: number | undefined
  /** How long opening a connection may take; 5000 ms by default. */
  readonly connectTimeoutMillis?: number | undefined
}

/**
 * Whether the whole operation may be tried again: a serialization failure or deadlock, a lost
 * connection, a server restarting. A commit whose reply was lost is safe to retry: the tick id
 * makes the second try change nothing.
 */
const isTransient = (cause: unknown): boolean => classifyPostgresFailure(cause).retryable

/** Jittered exponential backoff from 10 ms, at most 1 s apart, for up to 30 seconds. */
const transientRetry = Schedule.max([
  Schedule.min([Schedule.exponential("10 millis"), Schedule.spaced("1 second")]).pipe(Schedule.jittered),
  Schedule.during("30 seconds")
])

/** A failure that carries its DaemonStoreError (thrown inside a transaction, kept as it is). */
class Refused extends Error {
  constructor(readonly error: DaemonStoreError) {
    super(error.message)
  }
}

/**
 * Opens the daemon store in the PostgreSQL database at `options.url`, in the metadata store's
 * schema: makes sure core's tables are there (opening core's store once when the schema is new, so
 * the schema stays a Materia one), then applies the daemon tables' pending migrations.
 */
export const openPostgresDaemonStore = (
  options: PostgresDaemonStoreOptions
): Effect.Effect<DaemonStore, DaemonStoreError> =>
  Effect.gen(function* () {
    const url = redactPostgresUrl(options.url)
    const schema = options.schema ?? "materia"
    const where = `the PostgreSQL daemon store ${url} (schema ${schema})`
    const { host, port } = describePostgresUrl(options.url)
    const refuse = (operation: string, message: string) => new DaemonStoreError({ operation, message })
    const invalid = validatePostgresUrl(options.url, "the daemon store's options")
    if (invalid !== undefined) return yield* Effect.fail(refuse("open", invalid.message))
    if (!POSTGRES_SCHEMA_NAME.test(schema))
      return yield* Effect.fail(
        refuse(
          "open",
          `the PostgreSQL schema name "${schema}" for ${url} is not a plain lower-case identifier (a-z, 0-9, _, at most 63 characters, not starting with a digit)`
        )
      )
    const connectTimeoutMillis = Math.max(1, Math.floor(options.connectTimeoutMillis ?? 5000))
    const { default: pg } = yield* Effect.promise(() => import("pg"))
    const pool: Pool = new pg.Pool({
      connectionString: options.url,
      max: Math.max(1, options.poolSize ?? 4),
      connectionTimeoutMillis: connectTimeoutMillis,
      keepAlive: true,
      application_name: "materia daemon"
    })
    // A pooled connection that dies while idle is dropped; without listeners its error would crash the process.
    pool.on("error", () => {})
    pool.on("connect", (client) => {
      client.on("error", () => {})
    })
    let closed = false
    const end = Effect.promise(() => pool.end().catch(() => undefined))

    const toError =
      (operation: string) =>
      (cause: unknown): DaemonStoreError => {
        if (cause instanceof Refused) return cause.error
        const advice = isTransient(cause)
          ? ` Is the PostgreSQL server running and reachable at ${host}:${port} (\`pg_isready -h ${host} -p ${port}\`)?`
          : ""
        return new DaemonStoreError({
          operation,
          message: `${where}: ${operation} failed: ${postgresCauseMessage(cause)}.${advice}`,
          cause
        })
      }

    /** Runs `f` on a pooled connection; a connection that failed is destroyed, not reused. */
    const withClient = async <A>(f: (client: PoolClient) => Promise<A>): Promise<A> => {
      if (closed) throw new Error("the store is closed")
      return withPooledClient(pool, f)
    }

    const attempt = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, DaemonStoreError> =>
      Effect.tryPromise({ try: f, catch: toError(operation) }).pipe(
        Effect.retry({ schedule: transientRetry, while: (error) => isTransient(error.cause) })
      )

    /** One transaction; any error rolls it back, and the whole of it is retried on a transient failure. */
    const transaction = <A>(operation: string, f: (client: PoolClient) => Promise<A>) =>
      attempt(operation, () => withClient((client) => inTransaction(client, f)))

    const query = <R extends QueryResultRow>(
      operation: string,
      text: string,
      values: ReadonlyArray<unknown>
    ) => attempt(operation, () => withClient((client) => client.query<R>(text, [...values])))

    const s = `"${schema}"`

    // The ping, which also says whether core's tables are there yet.
    const hasCore = yield* Effect.tryPromise({
      try: () =>
        withClient((client) =>
          client.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [
            `${s}.schema_migrations`
          ])
        ),
      catch: (cause) =>
        new DaemonStoreError({
          operation: "open",
          message: `cannot connect to ${where}: ${postgresCauseMessage(cause)}. Is the PostgreSQL server running and reachable at ${host}:${port} (\`pg_isready -h ${host} -p ${port}\`)? Check the URL.`,
          cause
        })
    }).pipe(
      Effect.map((result) => result.rows[0]?.present === true),
      Effect.onError(() => end)
    )

    // Core's tables first, so the schema is a Materia metadata store (core refuses a schema holding
    // tables without its own): the daemon may open before any run was recorded.
    if (!hasCore)
      yield* Effect.tryPromise({
        try: async () => {
          const { makePostgresStorage } = await import("@materia/core/postgres")
          const storage = await Effect.runPromise(
            makePostgresStorage({ url: options.url, schema, poolSize: 1 })
          )
          await Effect.runPromise(storage.close)
        },
        catch: (cause) =>
          new DaemonStoreError({
            operation: "open",
            message: `cannot open ${where}: ${postgresCauseMessage(cause)}`,
            cause
          })
      }).pipe(Effect.onError(() => end))

    const now = yield* Clock.currentTimeMillis
    // Migrations: one transaction under an advisory lock, so daemons starting together migrate one
    // after the other; the second finds the work done.
    yield* transaction("migrate", async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [DAEMON_LOCK_CLASS, schema])
      await client.query(`SET LOCAL search_path TO ${s}`)
      await client.query(`
        CREATE TABLE IF NOT EXISTS daemon_schema_migrations (
          version INTEGER PRIMARY KEY,
          description TEXT NOT NULL,
          applied_at DOUBLE PRECISION NOT NULL
        )`)
      const current =
        (
          await client.query<{ version: number | null }>(
            "SELECT MAX(version) AS version FROM daemon_schema_migrations"
          )
        ).rows[0]?.version ?? 0
      if (current > DAEMON_POSTGRES_SCHEMA_VERSION)
        throw new Refused(
          refuse(
            "migrate",
            `the daemon tables of ${where} have schema version ${current}, newer than this Materia knows ` +
              `(${DAEMON_POSTGRES_SCHEMA_VERSION}): they were written by a newer Materia. Upgrade @materia/server, ` +
              "or point this one at another database or schema."
          )
        )
      for (const migration of daemonPostgresMigrations) {
        if (migration.version <= current) continue
        await client.query(migration.sql)
        await client.query(
          "INSERT INTO daemon_schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
          [migration.version, migration.description, now]
        )
      }
    }).pipe(Effect.onError(() => end))

    const upsertState = `
      INSERT INTO ${s}.daemon_state (kind, name, status, started_at, last_tick_at, cursor)
      VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (kind, name) DO UPDATE SET status = EXCLUDED.status, started_at = EXCLUDED.started_at,
        last_tick_at = EXCLUDED.last_tick_at, cursor = EXCLUDED.cursor`
    const insertStateIfAbsent = `
      INSERT INTO ${s}.daemon_state (kind, name, status, started_at, last_tick_at, cursor)
      VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (kind, name) DO NOTHING
      RETURNING 1 AS stored`
    // A tick writes only what it owns: status and started_at stay as start and stop left them.
    const upsertTickedState = `
      INSERT INTO ${s}.daemon_state (kind, name, status, started_at, last_tick_at, cursor)
      VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (kind, name) DO UPDATE SET last_tick_at = EXCLUDED.last_tick_at, cursor = EXCLUDED.cursor`
    const stateValues = (st: InstigatorState) => [
      st.kind,
      st.name,
      st.status,
      st.startedAt ?? null,
      st.lastTickAt ?? null,
      st.cursor ?? null
    ]

    /**
     * The commit of one tick. Commits of one schedule or sensor take turns under an advisory lock,
     * so the run keys it reads are those of every commit before; the tick's unique id makes a second
     * commit of it (another daemon, a retried one whose reply was lost) change nothing.
     */
    const commit = async (
      client: PoolClient,
      tick: TickRecord,
      runs: ReadonlyArray<QueuedRun>,
      state: InstigatorState
    ): Promise<CommitResult> => {
      const notCommitted: CommitResult = { committed: false, tick, droppedRunKeys: [] }
      await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [
        DAEMON_LOCK_CLASS + 1,
        `${schema}:${tick.kind}:${tick.name}`
      ])
      const exists = await client.query(`SELECT 1 FROM ${s}.daemon_ticks WHERE tick_id = $1`, [tick.tickId])
      if (exists.rows.length > 0) return notCommitted
      const keys = runs.flatMap((r) => (r.request.runKey === undefined ? [] : [r.request.runKey]))
      const seen = new Set(
        keys.length === 0
          ? []
          : (
              await client.query<{ run_key: string }>(
                `SELECT run_key FROM ${s}.daemon_run_keys WHERE kind = $1 AND name = $2 AND run_key = ANY($3::text[])`,
                [tick.kind, tick.name, keys]
              )
            ).rows.map((r) => r.run_key)
      )
      const { kept, dropped } = dedupeRuns(runs, (k) => seen.has(k))
      const t = storedTick(tick, kept, dropped)
      // ON CONFLICT: a commit of the same id under another kind or name (never made by Materia) still counts once.
      const inserted = await client.query(
        `INSERT INTO ${s}.daemon_ticks (tick_id, kind, name, tick_at, evaluated_at, status, run_ids, skip_reason, reason, error, cursor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tick_id) DO NOTHING RETURNING seq`,
        [
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
        ]
      )
      if (inserted.rows.length === 0) return notCommitted
      if (kept.length > 0)
        await client.query(
          `INSERT INTO ${s}.daemon_runs (id, tick_id, kind, name, request, status, enqueued_at, launched_at, ended_at, pid, run_id, error, host, lease_owner)
           SELECT id, tick_id, kind, name, request, status, enqueued_at, launched_at, ended_at, pid, run_id, error, host, lease_owner
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[],
                       $8::float8[], $9::float8[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[]) WITH ORDINALITY
             AS u(id, tick_id, kind, name, request, status, enqueued_at, launched_at, ended_at, pid, run_id, error, host, lease_owner, ord)
           ORDER BY ord`,
          [
            kept.map((r) => r.id),
            kept.map((r) => r.tickId),
            kept.map((r) => r.kind),
            kept.map((r) => r.name),
            kept.map((r) => JSON.stringify(r.request)),
            kept.map((r) => r.status),
            kept.map((r) => r.enqueuedAt),
            kept.map((r) => r.launchedAt ?? null),
            kept.map((r) => r.endedAt ?? null),
            kept.map((r) => r.pid ?? null),
            kept.map((r) => r.runId ?? null),
            kept.map((r) => r.error ?? null),
            kept.map((r) => r.host ?? null),
            kept.map((r) => r.leaseOwner ?? null)
          ]
        )
      const keptKeys = kept.flatMap((r) => (r.request.runKey === undefined ? [] : [r.request.runKey]))
      if (keptKeys.length > 0)
        await client.query(
          `INSERT INTO ${s}.daemon_run_keys (kind, name, run_key, tick_id, at)
           SELECT $1, $2, k, $3, $4 FROM unnest($5::text[]) AS k`,
          [tick.kind, tick.name, tick.tickId, tick.evaluatedAt, keptKeys]
        )
      await client.query(upsertTickedState, stateValues(state))
      return { committed: true, tick: t, droppedRunKeys: dropped }
    }

    /**
     * The lease as one compare-and-set: the upsert writes only when the row is missing, held by
     * `owner` or `replacing`, or expired; PostgreSQL evaluates that condition on the row's latest
     * version under its lock, so of daemons racing on different connections exactly one wins.
     */
    const lease = async (
      client: PoolClient,
      owner: string,
      now: number,
      ttl: number,
      replacing: string | undefined
    ): Promise<LeaseResult> => {
      // A lease released between the two statements: ask again (bounded; each turn someone made progress).
      for (let turn = 0; turn < 10; turn++) {
        const taken = await client.query(
          `INSERT INTO ${s}.daemon_lease AS l (id, owner, expires_at) VALUES (1, $1, $2)
           ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
           WHERE l.owner = $1 OR l.owner = $3 OR l.expires_at <= $4
           RETURNING owner`,
          [owner, now + ttl, replacing ?? null, now]
        )
        if (taken.rows.length > 0) return { acquired: true }
        const held = await client.query<{ owner: string; expires_at: number }>(
          `SELECT owner, expires_at FROM ${s}.daemon_lease WHERE id = 1`
        )
        const row = held.rows[0]
        if (row !== undefined) return { acquired: false, holder: row.owner, expiresAt: row.expires_at }
      }
      throw new Refused(
        refuse(
          "acquireLease",
          `${where}: the lease kept changing hands while ${owner} asked for it; try again`
        )
      )
    }

    const store: DaemonStore = {
      state: (kind, name) =>
        Effect.map(
          query<StateRow>("state", `SELECT * FROM ${s}.daemon_state WHERE kind = $1 AND name = $2`, [
            kind,
            name
          ]),
          (r) => (r.rows[0] === undefined ? undefined : toState(r.rows[0]))
        ),
      states: () =>
        Effect.map(
          query<StateRow>("states", `SELECT * FROM ${s}.daemon_state ORDER BY kind, name`, []),
          (r) => r.rows.map(toState)
        ),
      setState: (state) => Effect.asVoid(query("setState", upsertState, stateValues(state))),
      initState: (state) =>
        Effect.map(
          query("initState", insertStateIfAbsent, stateValues(state)),
          (result) => result.rows.length > 0
        ),
      commitTick: ({ tick, runs, state }) =>
        transaction("commitTick", (client) => commit(client, tick, runs, state)),
      ticks: (filter) => {
        const conditions: Array<string> = []
        const values: Array<string | number> = []
        if (filter?.kind !== undefined) {
          values.push(filter.kind)
          conditions.push(`kind = $${values.length}`)
        }
        if (filter?.name !== undefined) {
          values.push(filter.name)
          conditions.push(`name = $${values.length}`)
        }
        let limit = ""
        if (filter?.limit !== undefined) {
          values.push(filter.limit)
          limit = `LIMIT $${values.length}`
        }
        return Effect.map(
          query<TickRow>(
            "ticks",
            `SELECT * FROM ${s}.daemon_ticks ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""} ORDER BY seq DESC ${limit}`,
            values
          ),
          (r) => r.rows.map(toTick)
        )
      },
      runs: (filter) => {
        const conditions: Array<string> = []
        const values: Array<unknown> = []
        if (filter?.status !== undefined) {
          values.push([...filter.status])
          conditions.push(`status = ANY($${values.length}::text[])`)
        }
        if (filter?.tickId !== undefined) {
          values.push(filter.tickId)
          conditions.push(`tick_id = $${values.length}`)
        }
        return Effect.flatMap(
          query<RunRow>(
            "runs",
            `SELECT * FROM ${s}.daemon_runs ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""} ORDER BY seq`,
            values
          ),
          (r) =>
            Effect.try({
              try: () => r.rows.map(toRun),
              catch: (cause) =>
                new DaemonStoreError({
                  operation: "runs",
                  message: `${where}: a queued run's request does not decode (${postgresCauseMessage(cause)}); it was written by another program or a damaged Materia`,
                  cause
                })
            })
        )
      },
      updateRun: (id, patch) => {
        const fields = (Object.keys(RUN_COLUMNS) as Array<keyof QueuedRunPatch>).filter(
          (k) => patch[k] !== undefined
        )
        const text =
          fields.length === 0
            ? `SELECT 1 FROM ${s}.daemon_runs WHERE id = $1`
            : `UPDATE ${s}.daemon_runs SET ${fields.map((k, i) => `${RUN_COLUMNS[k]} = $${i + 2}`).join(", ")} WHERE id = $1`
        return Effect.flatMap(query("updateRun", text, [id, ...fields.map((k) => patch[k])]), (r) =>
          (r.rowCount ?? 0) === 0
            ? Effect.fail(refuse("updateRun", `no queued run ${id} in ${where}`))
            : Effect.void
        )
      },
      acquireLease: (owner, now, ttlMillis, replacing) =>
        attempt("acquireLease", () =>
          withClient((client) => lease(client, owner, now, ttlMillis, replacing))
        ),
      lease: () =>
        Effect.map(
          query<{ owner: string; expires_at: number }>(
            "lease",
            `SELECT owner, expires_at FROM ${s}.daemon_lease WHERE id = 1`,
            []
          ),
          (r) =>
            r.rows[0] === undefined ? undefined : { holder: r.rows[0].owner, expiresAt: r.rows[0].expires_at }
        ),
      releaseLease: (owner) =>
        Effect.asVoid(
          query("releaseLease", `DELETE FROM ${s}.daemon_lease WHERE id = 1 AND owner = $1`, [owner])
        ),
      prune: (before) =>
        transaction("prune", async (client): Promise<PruneResult> => {
          const runs = await client.query<{ id: string }>(
            `WITH gone AS (DELETE FROM ${s}.daemon_runs WHERE status = ANY($1::text[]) AND ended_at < $2 RETURNING seq, id)
             SELECT id FROM gone ORDER BY seq`,
            [[...ENDED], before]
          )
          const ticks = await client.query(`DELETE FROM ${s}.daemon_ticks WHERE evaluated_at < $1`, [before])
          const keys = await client.query(`DELETE FROM ${s}.daemon_run_keys WHERE at < $1`, [before])
          return {
            ticks: ticks.rowCount ?? 0,
            runIds: runs.rows.map((r) => r.id),
            runKeys: keys.rowCount ?? 0
          }
        }),
      close: () =>
        Effect.suspend(() => {
          if (closed) return Effect.void
          closed = true
          return end
        })
    }
    return store
  })
