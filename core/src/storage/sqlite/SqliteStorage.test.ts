/**
 * SqliteStorage on a real SQLite file: the storage conformance suite, reopening, refusing files that
 * are not Materia databases, rollback, and four real processes writing the same file at once.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { RunEvent } from "../../events/RunEvent.ts"
import { Storage, StorageError } from "../Storage.ts"
import { storageSuite } from "../StorageSuite.ts"
import { LATEST_SCHEMA_VERSION } from "./migrations.ts"
import {
  defaultSqlitePath,
  makeSqliteStorage,
  type SqliteStorage,
  SqliteStorageLive
} from "./SqliteStorage.ts"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
const failure = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

const tempDir = () => mkdtemp(join(tmpdir(), "materia-sqlite-"))

storageSuite("SqliteStorage", async () => {
  const dir = await tempDir()
  const storage = await run(makeSqliteStorage({ path: defaultSqlitePath(dir) }))
  return {
    storage,
    cleanup: async () => {
      await run(storage.close)
      await rm(dir, { recursive: true, force: true })
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

const materialized = (runId: string, key: string, at: number): RunEvent => ({
  _tag: "Materialization",
  runId,
  at,
  key,
  attempt: 1,
  dataVersion: `d-${at}`,
  codeVersion: "v1",
  inputVersions: { up: "u" },
  handle: { ioManager: "fs", location: `/x/${at}`, format: "json" },
  metadata: { at },
  durationMillis: 1
})

const log = (runId: string, message: string): RunEvent => ({
  _tag: "StepLog",
  runId,
  at: 0,
  key: "a",
  level: "info",
  message
})

describe("SqliteStorage", () => {
  let dir: string
  let path: string
  const opened: Array<SqliteStorage> = []
  const open = async (options: { busyTimeoutMillis?: number } = {}) => {
    const storage = await run(makeSqliteStorage({ path, ...options }))
    opened.push(storage)
    return storage
  }

  beforeEach(async () => {
    dir = await tempDir()
    path = join(dir, "materia.db")
  })
  afterEach(async () => {
    for (const storage of opened.splice(0)) await run(storage.close)
    await rm(dir, { recursive: true, force: true })
  })

  it("puts the default store under <root>/.materia/materia.db", () => {
    expect(defaultSqlitePath("/project")).toBe(join("/project", ".materia", "materia.db"))
  })

  it("keeps everything when the file is reopened, and continues each run's seq", async () => {
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

  it("provides Storage through SqliteStorageLive and closes the file with the scope", async () => {
    const program = Effect.gen(function* () {
      const storage = yield* Storage
      yield* storage.append("p", [started("r1", 1)])
      return yield* storage.runs("p")
    })
    const runs = await run(program.pipe(Effect.provide(SqliteStorageLive(path))))
    expect(runs.map((r) => r.runId)).toEqual(["r1"])
    // The last connection to a WAL database removes the -wal file when it closes.
    expect(existsSync(`${path}-wal`)).toBe(false)
    // The Layer fails with the typed error when the file cannot be opened.
    await writeFile(path, randomBytes(4096))
    const error = await failure(Effect.provide(Effect.void, SqliteStorageLive(path)))
    expect(error.reason).toBe("Corrupt")
  })

  it("rolls back the whole batch, projections included, when a statement fails inside the transaction", async () => {
    const storage = await open()
    await run(storage.append("p", [started("r1", 1)]))
    const db = new Database(path)
    db.exec(`CREATE TRIGGER fail_on_boom BEFORE INSERT ON events
             WHEN NEW.tag = 'StepLog' AND NEW.payload LIKE '%boom%'
             BEGIN SELECT RAISE(ABORT, 'boom refused'); END`)
    db.close()

    const error = await failure(
      storage.append("p", [
        materialized("r1", "a", 2),
        { _tag: "RunFinished", runId: "r1", at: 3, status: "succeeded", durationMillis: 2 },
        log("r1", "boom")
      ])
    )
    expect(error).toBeInstanceOf(StorageError)
    expect(error.reason).toBe("Conflict")
    expect((await run(storage.events("r1"))).map((e) => e.event._tag)).toEqual(["RunStarted"])
    expect((await run(storage.snapshot("p"))).size).toBe(0)
    expect((await run(storage.runs("p")))[0]?.status).toBe("running")
    // The next batch takes the next seq: nothing of the failed one was kept.
    await run(storage.append("p", [log("r1", "fine")]))
    expect((await run(storage.events("r1"))).map((e) => e.seq)).toEqual([1, 2])
  })

  it("rejects an invalid event before writing anything", async () => {
    const storage = await open()
    const invalid = { ...log("r1", "x"), level: "loud" } as unknown as RunEvent
    const error = await failure(storage.append("p", [started("r1", 1), invalid]))
    expect(error.message).toContain('event 2 of 2 (StepLog of run "r1") does not match the RunEvent schema')
    expect(await run(storage.events("r1"))).toEqual([])
  })

  it("waits for a lock held by another connection and retries the transaction", async () => {
    const storage = await open({ busyTimeoutMillis: 0 })
    const other = new Database(path)
    other.exec("BEGIN IMMEDIATE")
    // Released only after the append has met the lock at least once (it cannot commit before).
    const release = new Promise<void>((resolve) =>
      setTimeout(() => {
        other.exec("COMMIT")
        other.close()
        resolve()
      }, 50)
    )
    await run(storage.append("p", [started("r1", 1)]))
    await release
    expect((await run(storage.runs("p"))).map((r) => r.runId)).toEqual(["r1"])
  })

  it("fails with Unavailable after close", async () => {
    const storage = await open()
    await run(storage.close)
    await run(storage.close)
    const error = await failure(storage.runs("p"))
    expect(error.reason).toBe("Unavailable")
    expect(error.retryable).toBe(false)
  })

  describe("refuses files that are not Materia databases", () => {
    it("a file of random bytes: Corrupt, naming the file and what to do, leaving it untouched", async () => {
      const bytes = randomBytes(8192)
      await writeFile(path, bytes)
      const error = await failure(makeSqliteStorage({ path }))
      expect(error).toBeInstanceOf(StorageError)
      expect(error.reason).toBe("Corrupt")
      expect(error.retryable).toBe(false)
      expect(error.message).toContain(path)
      expect(error.message).toContain("file is not a database")
      expect(error.message).toContain("Move the file away (or delete it)")
      expect(error.message).toContain("`materia wipe` cannot repair")
      expect((await readFile(path)).equals(bytes)).toBe(true)
    })

    it("another application's SQLite database: Conflict, naming its tables, never modified", async () => {
      const db = new Database(path)
      db.exec(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')"
      )
      db.close()

      const error = await failure(makeSqliteStorage({ path }))
      expect(error.reason).toBe("Conflict")
      expect(error.message).toContain(path)
      expect(error.message).toContain("not a Materia metadata store")
      expect(error.message).toContain("users")

      const check = new Database(path, { readonly: true })
      expect(check.pragma("journal_mode", { simple: true })).toBe("delete")
      expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual([
        "users"
      ])
      check.close()
    })

    it("a file that only has another application's id", async () => {
      const db = new Database(path)
      db.pragma("application_id = 42")
      db.close()
      const error = await failure(makeSqliteStorage({ path }))
      expect(error.reason).toBe("Conflict")
      expect(error.message).toContain("application id 42")
    })

    it("a schema version newer than this code knows", async () => {
      const storage = await open()
      await run(storage.append("p", [started("r1", 1)]))
      await run(storage.close)
      const db = new Database(path)
      db.prepare(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, 'future', 0)"
      ).run(LATEST_SCHEMA_VERSION + 1)
      db.close()

      const error = await failure(makeSqliteStorage({ path }))
      expect(error.reason).toBe("Conflict")
      expect(error.message).toContain(path)
      expect(error.message).toContain(`schema version ${LATEST_SCHEMA_VERSION + 1}`)
      expect(error.message).toContain(`knows (${LATEST_SCHEMA_VERSION})`)
    })
  })

  it("opens an empty (0-byte) file as a new store", async () => {
    await writeFile(path, "")
    const storage = await open()
    await run(storage.append("p", [started("r1", 1)]))
    expect((await run(storage.runs("p"))).length).toBe(1)
  })
})

// Kept in step with concurrentWriter.fixture.ts.
const PROJECT = "concurrent"
const SHARED_RUN = "shared-log"
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

describe("SqliteStorage with concurrent writer processes", () => {
  const WRITERS = ["w0", "w1", "w2", "w3"]
  const RUNS = 200
  let dir: string
  beforeEach(async () => {
    dir = await tempDir()
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  // busy_timeout 0 leaves every lock wait to the transaction retry; 5000 is the default.
  it.each([5000, 0])(
    "4 processes × %s ms busy_timeout: every event of every run kept, seq contiguous",
    async (busyTimeoutMillis) => {
      // A fresh path: the processes also race to create and migrate the file.
      const path = join(dir, ".materia", "materia.db")
      const results = await Promise.all(
        WRITERS.map((writer) => writerProcess([path, writer, String(RUNS), String(busyTimeoutMillis)]))
      )
      for (const result of results) {
        expect(result.stderr).toBe("")
        expect(result.code).toBe(0)
      }
      expect(results.map((r) => JSON.parse(r.stdout).transactions)).toEqual(WRITERS.map(() => RUNS * 4))

      const storage = await run(makeSqliteStorage({ path }))
      try {
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
              [4, "StepSucceeded"],
              [5, "RunFinished"]
            ])
          }
        }

        // One run written by all four processes at once: seq 1..800 with no gap, each line once,
        // each writer's lines in its own order.
        const shared = await run(storage.events(SHARED_RUN))
        expect(shared.map((e) => e.seq)).toEqual(
          Array.from({ length: WRITERS.length * RUNS }, (_, i) => i + 1)
        )
        const messages = shared.map((e) => (e.event._tag === "StepLog" ? e.event.message : ""))
        expect(new Set(messages).size).toBe(WRITERS.length * RUNS)
        for (const writer of WRITERS) {
          const mine = messages.filter((m) => m.startsWith(`${writer}:`))
          expect(mine).toEqual(Array.from({ length: RUNS }, (_, i) => `${writer}:${i}`))
        }

        const snapshot = await run(storage.snapshot(PROJECT, WRITERS))
        for (const writer of WRITERS) {
          expect(snapshot.get(writer)?.latest?.dataVersion).toBe(`${writer}-${RUNS - 1}`)
        }
      } finally {
        await run(storage.close)
      }
    },
    180_000
  )
})
