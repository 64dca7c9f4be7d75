import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createTestDatabase, makePostgresStorage, type TestDatabase } from "@materia/core/postgres"
import { makeSqliteStorage } from "@materia/core/sqlite"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import pg from "pg"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import { type DaemonStore, makeMemoryDaemonStore } from "./DaemonStore.ts"
import { daemonStoreSuite } from "./DaemonStoreSuite.ts"
import { openDaemonStore } from "./OpenDaemonStore.ts"
import { DAEMON_POSTGRES_SCHEMA_VERSION, openPostgresDaemonStore } from "./PostgresDaemonStore.ts"
import { DAEMON_SCHEMA_VERSION, openSqliteDaemonStore } from "./SqliteDaemonStore.ts"

const dirs: Array<string> = []
const freshPath = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), "materia-daemon-"))
  dirs.push(dir)
  return join(dir, "materia.db")
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

daemonStoreSuite("memory", async () => makeMemoryDaemonStore())
daemonStoreSuite("sqlite", async () => Effect.runPromise(openSqliteDaemonStore(await freshPath())))
// Each test in a database of its own, dropped when the suite closes the store.
daemonStoreSuite("postgres", async () => {
  const db = await createTestDatabase()
  const store = await Effect.runPromise(openPostgresDaemonStore({ url: db.url }))
  return { ...store, close: () => Effect.andThen(store.close(), Effect.promise(db.drop)) }
})

describe("SqliteDaemonStore", () => {
  it("lives in the project's database beside core's tables, which still open", async () => {
    const path = await freshPath()
    const store = await Effect.runPromise(openSqliteDaemonStore(path))
    await Effect.runPromise(store.setState({ kind: "schedule", name: "s", status: "running" }))
    await Effect.runPromise(store.close())
    const storage = await Effect.runPromise(makeSqliteStorage({ path }))
    expect(await Effect.runPromise(storage.runs("default"))).toEqual([])
    await Effect.runPromise(storage.close)
    const db = new Database(path, { readonly: true })
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((r) => r.name)
    expect(tables).toEqual(
      expect.arrayContaining(["daemon_schema", "daemon_ticks", "daemon_runs", "runs", "schema_migrations"])
    )
    expect(db.prepare("SELECT version FROM daemon_schema").get()).toEqual({ version: DAEMON_SCHEMA_VERSION })
    db.close()
    const again = await Effect.runPromise(openSqliteDaemonStore(path))
    expect(await Effect.runPromise(again.state("schedule", "s"))).toMatchObject({ status: "running" })
    await Effect.runPromise(again.close())
  })

  it("refuses daemon tables written by a newer Materia, and a database of another application", async () => {
    const path = await freshPath()
    await Effect.runPromise(Effect.flatMap(openSqliteDaemonStore(path), (s) => s.close()))
    const db = new Database(path)
    db.prepare("UPDATE daemon_schema SET version = ?").run(DAEMON_SCHEMA_VERSION + 1)
    db.close()
    const newer = await Effect.runPromise(Effect.flip(openSqliteDaemonStore(path)))
    expect(newer.message).toContain(
      `schema version ${DAEMON_SCHEMA_VERSION + 1}, newer than this Materia knows (${DAEMON_SCHEMA_VERSION})`
    )
    const other = await freshPath()
    const foreign = new Database(other)
    foreign.exec("CREATE TABLE notes (x TEXT)")
    foreign.close()
    const refused = await Effect.runPromise(Effect.flip(openSqliteDaemonStore(other)))
    expect(refused.message).toContain("another application")
  })

  it("upgrades version 1 tables: runs gain their launching host and daemon, and keep their rows", async () => {
    const path = await freshPath()
    const store = await Effect.runPromise(openSqliteDaemonStore(path))
    await Effect.runPromise(
      store.commitTick({
        tick: {
          tickId: "t",
          kind: "sensor",
          name: "s",
          tickAt: 1,
          evaluatedAt: 1,
          status: "requested",
          runIds: ["r"]
        },
        runs: [
          {
            id: "r",
            tickId: "t",
            kind: "sensor",
            name: "s",
            request: { select: "a" },
            status: "queued",
            enqueuedAt: 1
          }
        ],
        state: { kind: "sensor", name: "s", status: "running" }
      })
    )
    await Effect.runPromise(store.close())
    // As Materia with version 1 of the daemon tables left the file.
    const v1 = new Database(path)
    v1.exec("ALTER TABLE daemon_runs DROP COLUMN host; ALTER TABLE daemon_runs DROP COLUMN lease_owner")
    v1.prepare("UPDATE daemon_schema SET version = 1").run()
    v1.close()
    const again = await Effect.runPromise(openSqliteDaemonStore(path))
    await Effect.runPromise(again.updateRun("r", { status: "launched", host: "h2", leaseOwner: "h2:7:x" }))
    expect(await Effect.runPromise(again.runs())).toMatchObject([
      { id: "r", host: "h2", leaseOwner: "h2:7:x" }
    ])
    await Effect.runPromise(again.close())
    const db = new Database(path, { readonly: true })
    expect(db.prepare("SELECT version FROM daemon_schema").get()).toEqual({ version: DAEMON_SCHEMA_VERSION })
    db.close()
  })

  it("holds one lease across connections (two daemons on one file)", async () => {
    const path = await freshPath()
    const a = await Effect.runPromise(openSqliteDaemonStore(path))
    const b = await Effect.runPromise(openSqliteDaemonStore(path))
    expect(await Effect.runPromise(a.acquireLease("a", 0, 1000))).toEqual({ acquired: true })
    expect(await Effect.runPromise(b.acquireLease("b", 10, 1000))).toMatchObject({
      acquired: false,
      holder: "a"
    })
    await Effect.runPromise(a.close())
    await Effect.runPromise(b.close())
  })
})

describe("PostgresDaemonStore", () => {
  const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
  let db: TestDatabase
  const opened: Array<DaemonStore> = []
  const open = async (options: { readonly schema?: string } = {}): Promise<DaemonStore> => {
    const store = await run(openPostgresDaemonStore({ url: db.url, ...options }))
    opened.push(store)
    return store
  }
  const sql = async <R extends pg.QueryResultRow>(text: string, values: Array<unknown> = []) => {
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    try {
      return (await client.query<R>(text, values)).rows
    } finally {
      await client.end()
    }
  }
  beforeEach(async () => {
    db = await createTestDatabase()
  })
  afterEach(async () => {
    for (const store of opened.splice(0)) await run(store.close())
    await db.drop()
  })

  it("lives in the metadata store's schema beside core's tables, which still open", async () => {
    const store = await open()
    await run(store.setState({ kind: "schedule", name: "s", status: "running" }))
    // Opened first on an empty database, the daemon store made the schema a Materia one.
    const storage = await run(makePostgresStorage({ url: db.url }))
    expect(await run(storage.runs("default"))).toEqual([])
    await run(storage.close)
    const tables = await sql<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'materia' ORDER BY table_name"
    )
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining([
        "daemon_lease",
        "daemon_run_keys",
        "daemon_runs",
        "daemon_schema_migrations",
        "daemon_state",
        "daemon_ticks",
        "runs",
        "schema_migrations"
      ])
    )
    expect(
      (
        await sql<{ version: number }>(
          "SELECT version FROM materia.daemon_schema_migrations ORDER BY version"
        )
      ).map((r) => r.version)
    ).toEqual(Array.from({ length: DAEMON_POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1))
    const again = await open()
    expect(await run(again.state("schedule", "s"))).toMatchObject({ status: "running" })
    // Another schema is another store.
    const other = await open({ schema: "team_two" })
    expect(await run(other.states())).toEqual([])
  })

  it("migrates once when daemons open together", async () => {
    await Promise.all(Array.from({ length: 4 }, () => open()))
    expect(
      (
        await sql<{ version: number }>(
          "SELECT version FROM materia.daemon_schema_migrations ORDER BY version"
        )
      ).map((r) => r.version)
    ).toEqual(Array.from({ length: DAEMON_POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1))
  })

  it("upgrades version 1 tables: runs gain their launching host and daemon, and keep their rows", async () => {
    const store = await open()
    await run(
      store.commitTick({
        tick: {
          tickId: "t",
          kind: "sensor",
          name: "s",
          tickAt: 1,
          evaluatedAt: 1,
          status: "requested",
          runIds: ["r"]
        },
        runs: [
          {
            id: "r",
            tickId: "t",
            kind: "sensor",
            name: "s",
            request: { select: "a" },
            status: "queued",
            enqueuedAt: 1
          }
        ],
        state: { kind: "sensor", name: "s", status: "running" }
      })
    )
    // As Materia with version 1 of the daemon tables left the schema.
    await sql("ALTER TABLE materia.daemon_runs DROP COLUMN host, DROP COLUMN lease_owner")
    await sql("DELETE FROM materia.daemon_schema_migrations WHERE version > 1")
    const again = await open()
    await run(again.updateRun("r", { status: "launched", host: "h2", leaseOwner: "h2:7:x" }))
    expect(await run(again.runs())).toMatchObject([{ id: "r", host: "h2", leaseOwner: "h2:7:x" }])
    expect(
      (
        await sql<{ version: number }>("SELECT MAX(version) AS version FROM materia.daemon_schema_migrations")
      )[0]?.version
    ).toBe(DAEMON_POSTGRES_SCHEMA_VERSION)
  })

  it("refuses daemon tables written by a newer Materia", async () => {
    await open()
    await sql("INSERT INTO materia.daemon_schema_migrations VALUES ($1, 'future', 0)", [
      DAEMON_POSTGRES_SCHEMA_VERSION + 1
    ])
    const error = await run(Effect.flip(openPostgresDaemonStore({ url: db.url })))
    expect(error.operation).toBe("migrate")
    expect(error.message).toContain(
      `schema version ${DAEMON_POSTGRES_SCHEMA_VERSION + 1}, newer than this Materia knows (${DAEMON_POSTGRES_SCHEMA_VERSION})`
    )
  })

  it("gives the lease to exactly one of many daemons asking at once on their own connections", async () => {
    const stores = await Promise.all(Array.from({ length: 8 }, () => open()))
    // Round 1: a free lease; round 2: an expired one; round 3: a dead holder replaced by all at once.
    for (const [now, replacing] of [
      [1000, undefined],
      [20_000, undefined],
      [21_000, "dead"]
    ] as const) {
      if (replacing !== undefined)
        await sql("UPDATE materia.daemon_lease SET owner = 'dead', expires_at = 1000000")
      const results = await Promise.all(
        stores.map((store, i) => run(store.acquireLease(`d${i}-${now}`, now, 10_000, replacing)))
      )
      const winners = results.flatMap((r, i) => (r.acquired ? [`d${i}-${now}`] : []))
      expect(winners).toHaveLength(1)
      for (const r of results)
        if (!r.acquired) expect(r).toEqual({ acquired: false, holder: winners[0], expiresAt: now + 10_000 })
      expect(await sql("SELECT owner FROM materia.daemon_lease")).toEqual([{ owner: winners[0] }])
    }
  })

  it("records a tick committed by two daemons at once exactly once, its run keys too", async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => open()))
    const tick = (id: string) => ({
      tickId: id,
      kind: "sensor" as const,
      name: "files",
      tickAt: 1000,
      evaluatedAt: 1000,
      status: "requested" as const,
      runIds: [`${id}-run`]
    })
    const queued = (tickId: string, runKey: string) => ({
      id: `${tickId}-run`,
      tickId,
      kind: "sensor" as const,
      name: "files",
      request: { select: ["orders"], runKey },
      status: "queued" as const,
      enqueuedAt: 1000
    })
    const state = { kind: "sensor", name: "files", status: "running" } as const
    // The same tick id from every store ...
    const same = await Promise.all(
      stores.map((store, i) =>
        run(
          store.commitTick({
            tick: { ...tick("t1"), runIds: [`t1-run-${i}`] },
            runs: [{ ...queued("t1", "a.csv"), id: `t1-run-${i}` }],
            state
          })
        )
      )
    )
    expect(same.filter((r) => r.committed)).toHaveLength(1)
    // ... and different ticks of one sensor asking for one run key.
    const keyed = await Promise.all(
      stores.map((store, i) =>
        run(store.commitTick({ tick: tick(`k${i}`), runs: [queued(`k${i}`, "b.csv")], state }))
      )
    )
    expect(keyed.every((r) => r.committed)).toBe(true)
    expect(keyed.filter((r) => r.droppedRunKeys.length === 0)).toHaveLength(1)
    const runs = await run(stores[0]!.runs())
    expect(runs.map((r) => r.request.runKey)).toEqual(["a.csv", "b.csv"])
    expect(await sql("SELECT COUNT(*)::int AS n FROM materia.daemon_ticks WHERE tick_id = 't1'")).toEqual([
      { n: 1 }
    ])
  })

  it("fails with the operation and the URL without its password", async () => {
    const error = await run(
      Effect.flip(openPostgresDaemonStore({ url: "postgres://materia:s3cret@127.0.0.1:1/nowhere" }))
    )
    expect(error.operation).toBe("open")
    expect(error.message).toContain("postgres://materia:***@127.0.0.1:1/nowhere")
    expect(error.message).toContain("pg_isready -h 127.0.0.1 -p 1")
    expect(error.message).not.toContain("s3cret")
    const store = await open()
    await run(store.close())
    const closed = await run(Effect.flip(store.states()))
    expect(closed.operation).toBe("states")
    expect(closed.message).toContain("is closed")
  })
})

describe("openDaemonStore", () => {
  it("chooses PostgreSQL exactly when the metadata store would, in its schema", async () => {
    const db = await createTestDatabase()
    const root = dirname(await freshPath())
    try {
      const fromConfig = await openDaemonStore(root, { kind: "postgres", url: db.url, schema: "prod" }, {})
      await Effect.runPromise(fromConfig.setState({ kind: "schedule", name: "s", status: "stopped" }))
      await Effect.runPromise(fromConfig.close())
      const fromEnv = await openDaemonStore(root, undefined, { MATERIA_DATABASE_URL: db.url })
      await Effect.runPromise(fromEnv.setState({ kind: "sensor", name: "f", status: "running" }))
      await Effect.runPromise(fromEnv.close())
      const client = new pg.Client({ connectionString: db.url })
      await client.connect()
      const rows = await client.query(
        "SELECT 'prod' AS schema, kind FROM prod.daemon_state UNION ALL SELECT 'materia', kind FROM materia.daemon_state ORDER BY 1"
      )
      await client.end()
      expect(rows.rows).toEqual([
        { schema: "materia", kind: "sensor" },
        { schema: "prod", kind: "schedule" }
      ])
      expect(existsSync(join(root, ".materia"))).toBe(false)
      // An explicit SQLite configuration wins over the environment.
      const local = await openDaemonStore(root, { kind: "sqlite" }, { MATERIA_DATABASE_URL: db.url })
      await Effect.runPromise(local.close())
      expect(existsSync(join(root, ".materia", "materia.db"))).toBe(true)
      const bad = await openDaemonStore(root, { kind: "postgres", url: "" }, {}).catch((e: Error) => e)
      expect(String(bad)).toContain("has no url")
    } finally {
      await db.drop()
    }
  })
})
