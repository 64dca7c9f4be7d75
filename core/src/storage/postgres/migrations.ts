/**
 * The versioned schema of the PostgreSQL metadata store: the same tables as the SQLite store (see
 * ../sqlite/migrations.ts), in PostgreSQL types, inside one schema of their own. PostgresStorage
 * applies the pending ones on open, in one transaction under an advisory lock; never edit a released
 * migration, append a new one. Key columns are `COLLATE "C"`: keys sort by their bytes, as in SQLite
 * and the memory store, whatever the database's locale.
 */

/** One schema step; `version` is strictly increasing and recorded in `schema_migrations`. */
export interface PostgresMigration {
  readonly version: number
  readonly description: string
  /** Runs with `search_path` set to the store's schema: table names are unqualified. */
  readonly sql: string
}

/**
 * The first key of the advisory lock taken while migrating ("MTRA", as SQLite's application id);
 * the second is `hashtext(<schema name>)`, so stores in two schemas migrate independently.
 */
export const MIGRATION_LOCK_CLASS = 0x4d545241

/** Created before any migration runs, in the same transaction as the first one. */
export const POSTGRES_SCHEMA_MIGRATIONS_TABLE = `
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at DOUBLE PRECISION NOT NULL
)`

export const postgresMigrations: ReadonlyArray<PostgresMigration> = [
  {
    version: 1,
    description:
      "runs, the event log, per-run seq counters and the latest state of every asset and partition",
    sql: `
-- One row per run; id is the insertion order (runs() lists newest first by it).
CREATE TABLE runs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id TEXT NOT NULL UNIQUE,
  project TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at DOUBLE PRECISION NOT NULL,
  ended_at DOUBLE PRECISION
);
CREATE INDEX runs_by_project ON runs (project, id);

-- The last seq given out in each run. A transaction appending to a run bumps it with one
-- INSERT ... ON CONFLICT DO UPDATE, which locks the row until commit: concurrent writers of one run
-- take turns, and a rolled-back transaction gives its numbers back, so seq stays contiguous.
CREATE TABLE run_seqs (
  run_id TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
);

-- The event log, the source of truth. seq is contiguous per run (1, 2, ...); id is global order.
-- payload is the event encoded with the RunEvent Schema, as JSON text (kept verbatim: jsonb would
-- refuse a \\u0000 in a log line). batch_id is set on the first event of each append: a transaction
-- retried after its COMMIT was sent but not acknowledged finds its own batch and records nothing twice.
CREATE TABLE events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  project TEXT NOT NULL,
  tag TEXT NOT NULL,
  asset_key TEXT,
  partition_key TEXT,
  at DOUBLE PRECISION NOT NULL,
  payload TEXT NOT NULL,
  batch_id TEXT,
  UNIQUE (run_id, seq)
);
CREATE INDEX events_by_asset ON events (project, asset_key, id);
CREATE UNIQUE INDEX events_batch_id ON events (batch_id) WHERE batch_id IS NOT NULL;

-- Projection: the committed current value of each asset (a pointer flip on Materialization),
-- whether its last attempt failed, and the versions it saw when it chose to skip.
-- run_id IS NULL when it was never materialized.
CREATE TABLE asset_latest (
  project TEXT NOT NULL,
  asset_key TEXT COLLATE "C" NOT NULL,
  last_failed BOOLEAN NOT NULL DEFAULT FALSE,
  run_id TEXT,
  at DOUBLE PRECISION,
  data_version TEXT,
  code_version TEXT,
  input_versions TEXT,
  handle TEXT,
  event_id BIGINT,
  metadata TEXT,
  skipped TEXT,
  PRIMARY KEY (project, asset_key)
);

-- Projection: the latest result of each check of each asset (record is a CheckRecord as JSON).
CREATE TABLE asset_checks (
  project TEXT NOT NULL,
  asset_key TEXT COLLATE "C" NOT NULL,
  check_name TEXT COLLATE "C" NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (project, asset_key, check_name)
);

-- Projection: asset_latest per partition of a partitioned asset (same columns, same rules).
CREATE TABLE partition_latest (
  project TEXT NOT NULL,
  asset_key TEXT COLLATE "C" NOT NULL,
  partition_key TEXT COLLATE "C" NOT NULL,
  last_failed BOOLEAN NOT NULL DEFAULT FALSE,
  run_id TEXT,
  at DOUBLE PRECISION,
  data_version TEXT,
  code_version TEXT,
  input_versions TEXT,
  handle TEXT,
  event_id BIGINT,
  metadata TEXT,
  skipped TEXT,
  PRIMARY KEY (project, asset_key, partition_key)
);

-- The keys of dynamic partitions definitions; seq keeps the order they were added in.
CREATE TABLE dynamic_partitions (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project TEXT NOT NULL,
  definition TEXT NOT NULL,
  partition_key TEXT COLLATE "C" NOT NULL,
  added_at DOUBLE PRECISION NOT NULL,
  UNIQUE (project, definition, partition_key)
);

-- Backfills: record is a BackfillRecord as JSON; the columns are what listings filter and sort on.
CREATE TABLE backfills (
  backfill_id TEXT COLLATE "C" PRIMARY KEY,
  project TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at DOUBLE PRECISION NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX backfills_by_project ON backfills (project, created_at);
`
  },
  {
    version: 2,
    description:
      "the fences: run_seqs knows which runs have ended (no more appends to them); step_attempts keeps each step's newest attempt and committed one",
    sql: `
-- How a run ended, once its RunFinished is recorded. An append bumps run_seqs under the row's lock,
-- so it reads this from the latest committed version: a run ended by another process (the dead-run
-- monitor) is fenced even when that process committed while this append waited for the lock.
ALTER TABLE run_seqs ADD COLUMN ended_status TEXT;
UPDATE run_seqs AS q SET ended_status = r.status FROM runs AS r
  WHERE r.run_id = q.run_id AND r.status <> 'running';

-- Called by an append that would add to an ended run: aborts the statement, and so the batch.
CREATE FUNCTION refuse_ended_run(run TEXT, status TEXT) RETURNS INTEGER LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'run "%" has already ended (%)', run, status
    USING ERRCODE = 'MF001', DETAIL = status, HINT = run;
END $$;

-- The attempt fence: a materialization commits only from the newest attempt started of its step,
-- and once. partition_key is '' for an unpartitioned step.
CREATE TABLE step_attempts (
  run_id TEXT NOT NULL,
  asset_key TEXT NOT NULL,
  partition_key TEXT NOT NULL,
  started INTEGER NOT NULL,
  committed INTEGER,
  PRIMARY KEY (run_id, asset_key, partition_key)
);

-- Called by an append whose materialization the attempt fence refuses: aborts the batch.
CREATE FUNCTION refuse_stale_attempt(run TEXT, asset_key TEXT, partition_key TEXT, attempt INTEGER,
                                     started INTEGER, committed INTEGER)
RETURNS INTEGER LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stale attempt % of a step of run "%"', attempt, run
    USING ERRCODE = 'MF002',
          DETAIL = json_build_array(run, asset_key, partition_key, attempt, started, committed)::text;
END $$;
`
  }
]

/** The newest schema version this code knows. */
export const LATEST_POSTGRES_SCHEMA_VERSION = postgresMigrations[postgresMigrations.length - 1]!.version
