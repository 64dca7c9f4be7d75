/**
 * PostgresStorage on the PostgreSQL server at 127.0.0.1:5432, each test in a fresh database of its
 * own: the storage conformance suite, reopening, migrations under concurrency, concurrent writers of
 * one run (connections and processes), lost connections and lost COMMIT acknowledgements, and the
 * errors of an unreachable server.
 */
import { spawn } from "node:child_process"
import * as net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import pg from "pg"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { RunEvent } from "../../events/RunEvent.ts"
import { Storage, StorageError } from "../Storage.ts"
import { storageSuite } from "../StorageSuite.ts"
import { LATEST_POSTGRES_SCHEMA_VERSION, postgresMigrations } from "./migrations.ts"
import {
  makePostgresStorage,
  type PostgresStorage,
  PostgresStorageLive,
  type PostgresStorageOptions
} from "./PostgresStorage.ts"
import { createTestDatabase, type TestDatabase } from "./TestDatabase.ts"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
const failure = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

storageSuite("PostgresStorage", async () => {
  const db = await createTestDatabase()
  const storage = await run(makePostgresStorage({ url: db.url, poolSize: 4 }))
  return {
    storage,
    cleanup: async () => {
      await run(storage.close)
      await db.drop()
    }
  }
})

const started = (runId: string, at: number): RunEvent => ({
  _tag: "RunStarted",
  runId,
  at,
  project: "p",
  targets: ["a"],
  steps: [{ key: "a", reasons: ["missing"] }]
})

const materialized = (
  runId: string,
  key: string,
  at: number,
  dataVersion = `d-${at}`,
  partition?: string
): RunEvent => ({
  _tag: "Materialization",
  runId,
  at,
  key,
  ...(partition === undefined ? {} : { partition }),
  attempt: 1,
  dataVersion,
  codeVersion: "v1",
  inputVersions: { up: "u" },
  handle: { ioManager: "fs", location: `/x/${at}`, format: "json" },
  metadata: { at },
  durationMillis: 1
})

const log = (runId: string, message: string, at = 0): RunEvent => ({
  _tag: "StepLog",
  runId,
  at,
  key: "a",
  level: "info",
  message
})

/** A port on 127.0.0.1 where nothing listens. */
const closedPort = async (): Promise<number> => {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Runs SQL on a database directly, outside the store. */
const sql = async <R extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: ReadonlyArray<unknown> = []
): Promise<Array<R>> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, [...values])).rows
  } finally {
    await client.end()
  }
}

describe("@materia/core/postgres", () => {
  it("loads pg only when a store is opened: choosing a URL does not", async () => {
    const script =
      'import("@materia/core/postgres").then(async (m) => {' +
      '  const loaded = () => Object.keys(require.cache).some((k) => k.includes("/node_modules/pg/"));' +
      "  const before = loaded();" +
      '  const chosen = m.resolvePostgresUrl(undefined, { MATERIA_DATABASE_URL: "postgres://h/db" });' +
      '  await import("pg");' +
      "  console.log(JSON.stringify({ before, after: loaded(), chosen }));" +
      "})"
    const result = await new Promise<ChildResult>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { cwd: repoRoot })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
      })
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })
    expect(result.stderr).toBe("")
    expect(JSON.parse(result.stdout)).toEqual({
      before: false,
      after: true,
      chosen: { url: "postgres://h/db", source: "MATERIA_DATABASE_URL" }
    })
  })
})

describe("PostgresStorage", () => {
  let db: TestDatabase
  const opened: Array<PostgresStorage> = []
  const open = async (options: Partial<PostgresStorageOptions> = {}) => {
    const storage = await run(makePostgresStorage({ url: db.url, poolSize: 2, ...options }))
    opened.push(storage)
    return storage
  }

  beforeEach(async () => {
    db = await createTestDatabase()
  })
  afterEach(async () => {
    for (const storage of opened.splice(0)) await run(storage.close)
    await db.drop()
  })

  it("keeps everything when reopened, and continues each run's seq", async () => {
    const first = await open()
    await run(first.append("p", [started("r1", 1), materialized("r1", "a", 2), log("r1", "x")]))
    const events = await run(first.events("r1"))
    const runs = await run(first.runs("p"))
    const snapshot = await run(first.snapshot("p"))
    await run(first.close)

    const again = await open()
    expect(await run(again.events("r1"))).toEqual(events)
    expect(await run(again.runs("p"))).toEqual(runs)
    expect(await run(again.snapshot("p"))).toEqual(snapshot)
    await run(again.append("p", [log("r1", "after reopen")]))
    expect((await run(again.events("r1", { afterSeq: 3 }))).map((e) => e.seq)).toEqual([4])
  })

  it("provides Storage through PostgresStorageLive and closes its connections with the scope", async () => {
    const program = Effect.gen(function* () {
      const storage = yield* Storage
      yield* storage.append("p", [started("r1", 1)])
      return yield* storage.runs("p")
    })
    const runs = await run(
      program.pipe(Effect.provide(PostgresStorageLive(db.url, { applicationName: "materia-layer-test" })))
    )
    expect(runs.map((r) => r.runId)).toEqual(["r1"])
    const left = await sql(
      db.url,
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'materia-layer-test'",
      [db.name]
    )
    expect(left).toEqual([])
  })

  it("keeps two stores apart in two schemas of one database", async () => {
    const one = await open({ schema: "team_one" })
    const two = await open({ schema: "team_two" })
    await run(one.append("p", [started("r1", 1), materialized("r1", "a", 2, "one")]))
    await run(two.append("p", [started("r1", 5)]))
    expect((await run(one.snapshot("p"))).get("a")?.latest?.dataVersion).toBe("one")
    expect((await run(two.snapshot("p"))).size).toBe(0)
    expect((await run(two.events("r1"))).map((e) => e.event.at)).toEqual([5])
  })

  it("works with synchronousCommit: false (set on every connection before its first statement)", async () => {
    const storage = await open({ synchronousCommit: false, poolSize: 3 })
    await Promise.all([1, 2, 3, 4, 5, 6].map((i) => run(storage.append("p", [log(`r${i}`, "x", i)]))))
    expect((await run(storage.events("r6"))).map((e) => e.seq)).toEqual([1])
  })

  it("round-trips a NUL character and other text PostgreSQL's jsonb would refuse", async () => {
    const storage = await open()
    const message = "before\u0000after \ud83d\ude00 \\u0000 'quoted'"
    await run(storage.append("p", [log("r1", message)]))
    const [stored] = await run(storage.events("r1"))
    expect(stored?.event).toEqual(log("r1", message))
  })

  it("rolls back the whole batch, projections included, when a statement fails inside the transaction", async () => {
    const storage = await open()
    await run(storage.append("p", [started("r1", 1)]))
    await sql(
      db.url,
      `CREATE FUNCTION materia.refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'boom refused'; END $$;
       CREATE TRIGGER refuse_boom BEFORE INSERT ON materia.events
       FOR EACH ROW WHEN (NEW.tag = 'StepLog' AND NEW.payload LIKE '%boom%') EXECUTE FUNCTION materia.refuse_boom()`
    )
    const error = await failure(
      storage.append("p", [
        materialized("r1", "a", 2),
        log("r1", "boom"),
        { _tag: "RunFinished", runId: "r1", at: 3, status: "succeeded", durationMillis: 2 }
      ])
    )
    expect(error).toBeInstanceOf(StorageError)
    expect(error.retryable).toBe(false)
    expect(error.message).toContain("boom refused")
    expect((await run(storage.events("r1"))).map((e) => e.event._tag)).toEqual(["RunStarted"])
    expect((await run(storage.snapshot("p"))).size).toBe(0)
    expect((await run(storage.runs("p")))[0]?.status).toBe("running")
    // The next batch takes the next seq: the failed one gave its numbers back.
    await run(storage.append("p", [log("r1", "fine")]))
    expect((await run(storage.events("r1"))).map((e) => e.seq)).toEqual([1, 2])
  })

  it("keeps the newest materialization (largest event id) as latest when an older one commits after it", async () => {
    // Event ids are handed out before commit, so a run that took its id first can commit last. Rewinding
    // the identity sequence makes that order happen deterministically: the third append gets a smaller id.
    const storage = await open()
    await run(storage.append("p", [materialized("r1", "a", 1, "first"), materialized("r1", "c", 1, "c1")]))
    const rewind = (to: number) =>
      sql(db.url, `SELECT setval(pg_get_serial_sequence('materia.events', 'id'), ${to})`)
    await rewind(1000)
    await run(storage.append("p", [materialized("r2", "a", 2, "newest")]))
    await rewind(10)
    await run(
      storage.append("p", [
        materialized("r3", "a", 3, "older-id"),
        materialized("r3", "b", 3, "b-first", "x")
      ])
    )
    const snapshot = await run(storage.snapshot("p", ["a", "b"]))
    expect(snapshot.get("a")?.latest?.dataVersion).toBe("newest")
    expect(snapshot.get("a")?.latest?.runId).toBe("r2")
    // A row with no latest value yet takes it whatever its id.
    expect(
      (await run(storage.partitions("p", "b"))).map((s) => [s.partition, s.latest?.dataVersion])
    ).toEqual([["x", "b-first"]])
  })

  it("fences a run ended by another process while this append waited for the run's lock", async () => {
    const storage = await open()
    await run(storage.append("p", [started("r1", 1)]))
    // The monitor's transaction holds r1's counter; the lost driver's append queues behind it.
    const monitor = new pg.Client({ connectionString: db.url })
    await monitor.connect()
    try {
      await monitor.query("BEGIN")
      await monitor.query("SELECT last_seq FROM materia.run_seqs WHERE run_id = 'r1' FOR UPDATE")
      const late = Effect.runPromise(Effect.flip(storage.append("p", [materialized("r1", "a", 2)])))
      // Wait until the append is blocked on the lock, then end the run and commit.
      for (let i = 0; i < 500; i++) {
        const { rows } = await monitor.query<{ n: string }>(
          "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if (rows[0]?.n !== "0") break
        await sleep(10)
      }
      await monitor.query("UPDATE materia.run_seqs SET ended_status = 'failed' WHERE run_id = 'r1'")
      await monitor.query("COMMIT")
      const error = await late
      expect(error.reason).toBe("Conflict")
      expect(error.message).toContain('run "r1" has already ended (failed)')
      expect(error.message).toContain("Materialization")
      expect((await run(storage.events("r1"))).map((e) => e.event._tag)).toEqual(["RunStarted"])
      expect((await run(storage.snapshot("p"))).size).toBe(0)
    } finally {
      await monitor.end()
    }
  })

  it("rejects an invalid event before writing anything", async () => {
    const storage = await open()
    const invalid = { ...log("r1", "x"), level: "loud" } as unknown as RunEvent
    const error = await failure(storage.append("p", [started("r1", 1), invalid]))
    expect(error.message).toContain('event 2 of 2 (StepLog of run "r1") does not match the RunEvent schema')
    expect(await run(storage.events("r1"))).toEqual([])
  })

  it("fails with Unavailable, not retryable, after close", async () => {
    const storage = await open()
    await run(storage.close)
    await run(storage.close)
    const error = await failure(storage.runs("p"))
    expect(error.reason).toBe("Unavailable")
    expect(error.retryable).toBe(false)
    expect(error.message).toContain("is closed")
  })

  describe("migrations", () => {
    it("run once when eight stores open a fresh database at the same moment", async () => {
      const stores = await Promise.all(Array.from({ length: 8 }, () => open({ poolSize: 1 })))
      const applied = await sql<{ version: number; times: number }>(
        db.url,
        "SELECT version, COUNT(*)::int AS times FROM materia.schema_migrations GROUP BY version ORDER BY version"
      )
      expect(applied).toEqual(postgresMigrations.map((m) => ({ version: m.version, times: 1 })))
      // All of them work on the one schema.
      await Promise.all(stores.map((s, i) => run(s.append("p", [started(`r${i}`, i)]))))
      expect((await run(stores[0]!.runs("p"))).length).toBe(8)
    })

    it("refuse a schema holding another application's tables, and leave it untouched", async () => {
      await sql(db.url, "CREATE SCHEMA materia; CREATE TABLE materia.users (id INT PRIMARY KEY, name TEXT)")
      const error = await failure(makePostgresStorage({ url: db.url }))
      expect(error.reason).toBe("Conflict")
      expect(error.message).toContain("holds tables of another application (users)")
      expect(error.message).toContain("the `schema` option")
      const tables = await sql<{ table_name: string }>(
        db.url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'materia'"
      )
      expect(tables).toEqual([{ table_name: "users" }])
    })

    it("refuse a schema version newer than this code knows", async () => {
      const storage = await open()
      await run(storage.close)
      await sql(
        db.url,
        "INSERT INTO materia.schema_migrations (version, description, applied_at) VALUES ($1, 'future', 0)",
        [LATEST_POSTGRES_SCHEMA_VERSION + 1]
      )
      const error = await failure(makePostgresStorage({ url: db.url }))
      expect(error.reason).toBe("Conflict")
      expect(error.message).toContain(`schema version ${LATEST_POSTGRES_SCHEMA_VERSION + 1}`)
      expect(error.message).toContain(`knows (${LATEST_POSTGRES_SCHEMA_VERSION})`)
    })
  })

  describe("concurrent writers", () => {
    it("eight stores appending to one run at once: seq 1..n contiguous, nothing lost, the latest pointer consistent", async () => {
      const WRITERS = 8
      const BATCHES = 40
      const stores = await Promise.all(Array.from({ length: WRITERS }, () => open({ poolSize: 2 })))
      await Promise.all(
        stores.map(async (storage, w) => {
          for (let i = 0; i < BATCHES; i++) {
            // Two lines per batch to the shared run, and a materialization of an asset all share.
            await run(
              storage.append("p", [
                log("shared", `w${w}:${i}:a`),
                // Each materialization from a run of its own: one step of a run commits once.
                materialized(`m-${w}-${i}`, "shared-asset", i, `w${w}-${i}`),
                log("shared", `w${w}:${i}:b`),
                log(`run-${w}`, `${i}`)
              ])
            )
          }
        })
      )
      const reader = stores[0]!
      const shared = await run(reader.events("shared"))
      expect(shared.map((e) => e.seq)).toEqual(Array.from({ length: WRITERS * BATCHES * 2 }, (_, i) => i + 1))
      const messages = shared.map((e) => (e.event._tag === "StepLog" ? e.event.message : ""))
      expect(new Set(messages).size).toBe(messages.length)
      for (let w = 0; w < WRITERS; w++) {
        // Each writer's lines in its own order, the two lines of one batch next to each other.
        const mine = messages.filter((m) => m.startsWith(`w${w}:`))
        expect(mine).toEqual(
          Array.from({ length: BATCHES }, (_, i) => [`w${w}:${i}:a`, `w${w}:${i}:b`]).flat()
        )
        for (let i = 0; i < BATCHES; i++) {
          const at = messages.indexOf(`w${w}:${i}:a`)
          expect(messages[at + 1]).toBe(`w${w}:${i}:b`)
        }
        expect((await run(reader.events(`run-${w}`))).map((e) => e.seq)).toEqual(
          Array.from({ length: BATCHES }, (_, i) => i + 1)
        )
      }
      // The pointer names the materialization event that set it, and that is the last one committed.
      const latest = (await run(reader.snapshot("p", ["shared-asset"]))).get("shared-asset")?.latest
      const [row] = await sql<{ payload: string; last_id: string; event_id: string }>(
        db.url,
        `SELECT e.payload, e.id AS event_id,
                (SELECT MAX(id) FROM materia.events WHERE tag = 'Materialization') AS last_id
         FROM materia.asset_latest l JOIN materia.events e ON e.id = l.event_id
         WHERE l.project = 'p' AND l.asset_key = 'shared-asset'`
      )
      expect(JSON.parse(row!.payload).dataVersion).toBe(latest?.dataVersion)
      expect(row!.event_id).toBe(row!.last_id)
    })

    it("four processes racing to migrate a fresh database, then writing: every event kept, seq contiguous", async () => {
      const WRITERS = ["w0", "w1", "w2", "w3"]
      const RUNS = 50
      const results = await Promise.all(WRITERS.map((w) => writerProcess([db.url, w, String(RUNS)])))
      for (const result of results) {
        expect(result.stderr).toBe("")
        expect(result.code).toBe(0)
      }
      expect(results.map((r) => JSON.parse(r.stdout).transactions)).toEqual(WRITERS.map(() => RUNS * 4))

      const storage = await open()
      const runs = await run(storage.runs(PROJECT))
      expect(runs.length).toBe(WRITERS.length * RUNS)
      expect(runs.every((r) => r.status === "succeeded")).toBe(true)
      for (const writer of WRITERS) {
        for (let i = 0; i < RUNS; i++) {
          const events = await run(storage.events(runIdOf(writer, i)))
          expect(events.map((e) => [e.seq, e.event._tag])).toEqual([
            [1, "RunStarted"],
            [2, "StepStarted"],
            [3, "Materialization"],
            [4, "Materialization"],
            [5, "StepSucceeded"],
            [6, "RunFinished"]
          ])
        }
      }
      const shared = await run(storage.events(SHARED_RUN))
      expect(shared.map((e) => e.seq)).toEqual(Array.from({ length: WRITERS.length * RUNS }, (_, i) => i + 1))
      const messages = shared.map((e) => (e.event._tag === "StepLog" ? e.event.message : ""))
      for (const writer of WRITERS) {
        expect(messages.filter((m) => m.startsWith(`${writer}:`))).toEqual(
          Array.from({ length: RUNS }, (_, i) => `${writer}:${i}`)
        )
      }
      const snapshot = await run(storage.snapshot(PROJECT, [...WRITERS, SHARED_ASSET]))
      for (const writer of WRITERS)
        expect(snapshot.get(writer)?.latest?.dataVersion).toBe(`${writer}-${RUNS - 1}`)
      expect(snapshot.get(SHARED_ASSET)?.latest?.dataVersion).toMatch(/^w[0-3]-\d+$/)
      const applied = await sql<{ times: number }>(
        db.url,
        "SELECT COUNT(*)::int AS times FROM materia.schema_migrations"
      )
      expect(applied).toEqual([{ times: postgresMigrations.length }])
    }, 180_000)
  })

  describe("transient failures", () => {
    it("retries whole transactions when the server kills the connections under them", async () => {
      const storage = await open({ poolSize: 2, applicationName: "materia-victim" })
      const BATCHES = 150
      let done = false
      let killed = 0
      const killer = (async () => {
        while (!done) {
          const rows = await sql<{ killed: boolean }>(
            db.url,
            `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'materia-victim'`,
            [db.name]
          )
          killed += rows.filter((r) => r.killed).length
          // Paced, so that transactions also get through between kills.
          await sleep(10)
        }
      })()
      try {
        await run(storage.append("p", [started("r1", 0)]))
        for (let i = 1; i <= BATCHES; i++)
          await run(
            storage.append("p", [
              log("r1", `${i}:a`, i),
              materialized("r1", `a${i}`, i),
              log("r1", `${i}:b`, i)
            ])
          )
      } finally {
        done = true
        await killer
      }
      expect(killed).toBeGreaterThan(0)
      const events = await run(storage.events("r1"))
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 1 + BATCHES * 3 }, (_, i) => i + 1))
      expect(
        events.filter((e) => e.event._tag === "StepLog").map((e) => (e.event as { message: string }).message)
      ).toEqual(Array.from({ length: BATCHES }, (_, i) => [`${i + 1}:a`, `${i + 1}:b`]).flat())
      // Each step's materialization recorded once, though batches were retried (the attempt fence would refuse a second).
      const snapshot = await run(storage.snapshot("p"))
      expect(snapshot.size).toBe(BATCHES)
      expect(snapshot.get(`a${BATCHES}`)?.latest?.at).toBe(BATCHES)
    })

    it("records a batch once when the reply to its commit is lost and the append is retried", async () => {
      const proxy = await commitDroppingProxy(5432)
      try {
        const url = new URL(db.url)
        url.port = String(proxy.port)
        const storage = await open({ url: url.toString(), poolSize: 1 })
        await run(storage.append("p", [started("r1", 1)]))
        proxy.arm()
        await run(storage.append("p", [materialized("r1", "a", 2), log("r1", "once", 3)]))
        expect(proxy.dropped()).toBe(1)
        const events = await run(storage.events("r1"))
        expect(events.map((e) => [e.seq, e.event._tag])).toEqual([
          [1, "RunStarted"],
          [2, "Materialization"],
          [3, "StepLog"]
        ])
        // The retry found its batch committed and left the seq counter where the batch put it.
        await run(storage.append("p", [log("r1", "next", 4)]))
        expect((await run(storage.events("r1", { afterSeq: 3 }))).map((e) => e.seq)).toEqual([4])
      } finally {
        await proxy.close()
      }
    })
  })

  describe("an unreachable or wrong server", () => {
    it("refused connection: Unavailable at open, naming the URL without its password and what to check", async () => {
      const port = await closedPort()
      const error = await failure(
        makePostgresStorage({ url: `postgres://postgres:s3cr3t-pw@127.0.0.1:${port}/materia` })
      )
      expect(error).toBeInstanceOf(StorageError)
      expect(error.reason).toBe("Unavailable")
      expect(error.message).toContain(`postgres://postgres:***@127.0.0.1:${port}/materia`)
      expect(error.message).toContain(`pg_isready -h 127.0.0.1 -p ${port}`)
      expect(error.message).toContain("is the PostgreSQL server running there")
      expect(error.message).not.toContain("s3cr3t-pw")
    })

    it("a server that accepts and never answers: fails after connectTimeoutMillis instead of hanging", async () => {
      const sockets: Array<net.Socket> = []
      const silent = net.createServer((socket) => {
        sockets.push(socket)
      })
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
      const port = (silent.address() as net.AddressInfo).port
      try {
        const error = await failure(
          makePostgresStorage({
            url: `postgres://postgres:hunter2@127.0.0.1:${port}/x?password=hunter2`,
            connectTimeoutMillis: 200
          })
        )
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain(`127.0.0.1:${port}`)
        expect(error.message).toContain(`pg_isready -h 127.0.0.1 -p ${port}`)
        expect(error.message).not.toContain("hunter2")
      } finally {
        for (const socket of sockets) socket.destroy()
        await new Promise<void>((resolve) => silent.close(() => resolve()))
      }
    })

    it("a database that does not exist: says so and how to create it, password redacted", async () => {
      const error = await failure(
        makePostgresStorage({ url: "postgres://postgres:pa55word@127.0.0.1:5432/materia_no_such_db" })
      )
      expect(error.reason).toBe("Unavailable")
      expect(error.retryable).toBe(false)
      expect(error.message).toContain('the database "materia_no_such_db" does not exist')
      expect(error.message).toContain("createdb -h 127.0.0.1 -p 5432 materia_no_such_db")
      expect(error.message).toContain("postgres://postgres:***@127.0.0.1:5432/materia_no_such_db")
      expect(error.message).not.toContain("pa55word")
    })

    it("a URL that is not postgres://, or a schema name that is not an identifier", async () => {
      const wrong = await failure(makePostgresStorage({ url: "mysql://root:pw@localhost/db" }))
      expect(wrong.message).toContain('has the scheme "mysql"')
      expect(wrong.message).not.toContain(":pw@")
      const schema = await failure(makePostgresStorage({ url: db.url, schema: "Robert'); DROP" }))
      expect(schema.message).toContain("is not a plain lower-case identifier")
    })
  })
})

// Kept in step with concurrentWriter.fixture.ts.
const PROJECT = "concurrent"
const SHARED_RUN = "shared-log"
const SHARED_ASSET = "shared"
const runIdOf = (writer: string, i: number): string => `${writer}-run-${i}`
const fixture = fileURLToPath(new URL("./concurrentWriter.fixture.ts", import.meta.url))
const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))

interface ChildResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const writerProcess = (args: ReadonlyArray<string>): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, ...args], { cwd: repoRoot })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/**
 * A TCP proxy to the PostgreSQL server that, once armed, forwards the next append statement to the
 * server and cuts the client's connection once the server has answered it (ReadyForQuery: the
 * statement's transaction is over), without passing the answer on: the append is committed, and the
 * client only sees its connection drop.
 */
const commitDroppingProxy = async (
  targetPort: number
): Promise<{ port: number; arm: () => void; dropped: () => number; close: () => Promise<void> }> => {
  let armed = false
  let dropped = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1")
    sockets.add(client)
    sockets.add(upstream)
    let cutting = false
    client.on("data", (chunk: Buffer) => {
      if (armed && chunk.includes("materia_append_")) {
        armed = false
        cutting = true
      }
      upstream.write(chunk)
    })
    upstream.on("data", (chunk: Buffer) => {
      if (!cutting) {
        client.write(chunk)
        return
      }
      // ReadyForQuery: 'Z', length 5, transaction status.
      const tail = chunk.subarray(chunk.length - 6)
      if (tail[0] === 0x5a && tail.readInt32BE(1) === 5) {
        dropped++
        client.destroy()
        upstream.destroy()
      }
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on("error", end)
    client.on("close", end)
    upstream.on("error", end)
    upstream.on("close", end)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    arm: () => {
      armed = true
    },
    dropped: () => dropped,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
