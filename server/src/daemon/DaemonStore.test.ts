import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeSqliteStorage } from "@materia/core/sqlite"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, it } from "vitest"
import { makeMemoryDaemonStore } from "./DaemonStore.ts"
import { daemonStoreSuite } from "./DaemonStoreSuite.ts"
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
    expect(newer.message).toMatch(/schema version 2, newer than this Materia knows \(1\)/)
    const other = await freshPath()
    const foreign = new Database(other)
    foreign.exec("CREATE TABLE notes (x TEXT)")
    foreign.close()
    const refused = await Effect.runPromise(Effect.flip(openSqliteDaemonStore(other)))
    expect(refused.message).toContain("another application")
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
