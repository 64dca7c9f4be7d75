/**
 * The versioned schema of the SQLite metadata store: an ordered list of migrations that
 * SqliteStorage applies on open, in one transaction. Tables use plain types so that the PostgreSQL
 * store can keep the same design; never edit a released migration, append a new one.
 */

/** One schema step; `version` is strictly increasing and recorded in `schema_migrations`. */
export interface Migration {
  readonly version: number
  readonly description: string
  readonly sql: string
}

/**
 * Written to the SQLite header (`PRAGMA application_id`) by the first migration: it tells a Materia
 * database ("MTRA") from any other SQLite file.
 */
export const MATERIA_APPLICATION_ID = 0x4d545241

/** Created before any migration runs, in the same transaction as the first one. */
export const SCHEMA_MIGRATIONS_TABLE = `
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at DOUBLE PRECISION NOT NULL
)`

export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    description: "runs, events and the latest materialization of every asset",
    sql: `
PRAGMA application_id = ${MATERIA_APPLICATION_ID};

-- One row per run; id is the insertion order (runs() lists newest first by it).
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL UNIQUE,
  project TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at DOUBLE PRECISION NOT NULL,
  ended_at DOUBLE PRECISION
);
CREATE INDEX runs_by_project ON runs (project, id);

-- The event log, the source of truth. seq is contiguous per run (1, 2, ...); id is global order.
-- payload is the event encoded with the RunEvent Schema, as JSON.
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  project TEXT NOT NULL,
  tag TEXT NOT NULL,
  asset_key TEXT,
  at DOUBLE PRECISION NOT NULL,
  payload TEXT NOT NULL,
  UNIQUE (run_id, seq)
);
CREATE INDEX events_by_asset ON events (project, asset_key, id);

-- Projection: the committed current value of each asset (a pointer flip on Materialization) and
-- whether its last attempt failed. run_id IS NULL when it failed before ever being materialized.
CREATE TABLE asset_latest (
  project TEXT NOT NULL,
  asset_key TEXT NOT NULL,
  last_failed SMALLINT NOT NULL,
  run_id TEXT,
  at DOUBLE PRECISION,
  data_version TEXT,
  code_version TEXT,
  input_versions TEXT,
  handle TEXT,
  event_id INTEGER,
  PRIMARY KEY (project, asset_key)
);
`
  },
  {
    version: 2,
    description: "materialization metadata, skip decisions and the latest result of each check",
    sql: `
-- The committed materialization's metadata (rows, bytes, schema, user entries), as JSON.
ALTER TABLE asset_latest ADD COLUMN metadata TEXT;
-- The versions a body saw when it chose to skip (a conditional branch), as JSON; NULL otherwise.
ALTER TABLE asset_latest ADD COLUMN skipped TEXT;

-- Projection: the latest result of each check of each asset (record is a CheckRecord as JSON).
CREATE TABLE asset_checks (
  project TEXT NOT NULL,
  asset_key TEXT NOT NULL,
  check_name TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (project, asset_key, check_name)
);
`
  },
  {
    version: 3,
    description: "partitions: the latest state of every partition, dynamic partition keys, backfills",
    sql: `
-- Projection: asset_latest per partition of a partitioned asset (same columns, same rules).
CREATE TABLE partition_latest (
  project TEXT NOT NULL,
  asset_key TEXT NOT NULL,
  partition_key TEXT NOT NULL,
  last_failed SMALLINT NOT NULL,
  run_id TEXT,
  at DOUBLE PRECISION,
  data_version TEXT,
  code_version TEXT,
  input_versions TEXT,
  handle TEXT,
  event_id INTEGER,
  metadata TEXT,
  skipped TEXT,
  PRIMARY KEY (project, asset_key, partition_key)
);

-- The keys of dynamic partitions definitions; seq keeps the order they were added in.
CREATE TABLE dynamic_partitions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL,
  definition TEXT NOT NULL,
  partition_key TEXT NOT NULL,
  added_at DOUBLE PRECISION NOT NULL,
  UNIQUE (project, definition, partition_key)
);

-- Backfills: record is a BackfillRecord as JSON; the columns are what listings filter and sort on.
CREATE TABLE backfills (
  backfill_id TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at DOUBLE PRECISION NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX backfills_by_project ON backfills (project, created_at);
`
  },
  {
    version: 4,
    description: "the attempt fence: the newest attempt started and the attempt committed, per step of a run",
    sql: `
-- Projection for the attempt fence: a materialization commits only from the newest attempt started
-- of its step, and once. step is the asset key, then NUL and the partition for a partitioned step.
CREATE TABLE step_attempts (
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  started INTEGER NOT NULL,
  committed INTEGER,
  PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
`
  }
]

/** The newest schema version this code knows. */
export const LATEST_SCHEMA_VERSION = migrations[migrations.length - 1]!.version
