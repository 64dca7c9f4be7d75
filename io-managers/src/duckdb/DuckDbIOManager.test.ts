/**
 * The DuckDB IO manager against real DuckDB files: the conformance suite, the tables and views a
 * DuckDB user sees, the view switch on promotion, and the error when another process holds the file.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { IOManagerError, type OutputContext } from "@materia/core"
import { type Table, tableFromArrays } from "apache-arrow"
import * as Effect from "effect/Effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ioManagerSuite } from "../IOManagerSuite.ts"
import { type DuckDbIOManager, makeDuckDbIOManager } from "./DuckDbIOManager.ts"

ioManagerSuite(
  "duckdb",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "materia-duckdb-suite-"))
    const io = makeDuckDbIOManager({ path: join(dir, "warehouse.duckdb"), tempDir: join(dir, "tmp") })
    return {
      io,
      cleanup: async () => {
        await io.close()
        await rm(dir, { recursive: true, force: true })
      }
    }
  },
  { contentVersionsForObjects: true, streams: "stored" }
)

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
const failureOf = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

const context = (assetKey: string, attemptId: string): OutputContext => ({
  assetKey,
  assetPath: assetKey.split("/"),
  runId: "run1",
  attemptId,
  codeVersion: "v1",
  inputVersions: {}
})

const orders = (amount: number): Table =>
  tableFromArrays({
    id: Int32Array.from([1, 2, 3]),
    amount: Float64Array.from([amount, amount * 2, amount * 3])
  })

/** Opens the file as a DuckDB user would (once the manager released it) and runs `sql`. */
const query = async (path: string, sql: string) => {
  const instance = await DuckDBInstance.create(path)
  try {
    const connection = await instance.connect()
    try {
      return (await connection.runAndReadAll(sql)).getRowObjectsJson()
    } finally {
      connection.closeSync()
    }
  } finally {
    instance.closeSync()
  }
}

describe("DuckDB IO manager", () => {
  let dir: string
  let path: string
  let io: DuckDbIOManager

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "materia-duckdb-"))
    path = join(dir, "warehouse.duckdb")
    io = makeDuckDbIOManager({ path })
  })
  afterEach(async () => {
    await io.close()
    await rm(dir, { recursive: true, force: true })
  })

  it("stores each materialization as its own table and switches the asset's view when it is promoted", async () => {
    const first = await run(io.write(orders(1), context("shop/orders", "run1-1")))
    const second = await run(io.write(orders(10), context("shop/orders", "run2-1")))
    expect(first.handle).toEqual({ ioManager: "duckdb", location: "shop/orders/run1-1", format: "table" })
    await run(io.promote(first.handle, { assetKey: "shop/orders", runId: "run1" }))
    await io.close()
    expect(await query(path, 'select sum(amount) as total from "shop/orders"')).toEqual([{ total: 6 }])
    // A written but not promoted value is a table of its own, not the view.
    expect(await query(path, 'select sum(amount) as total from materia."shop/orders/run2-1"')).toEqual([
      { total: 60 }
    ])
    await run(io.promote(second.handle, { assetKey: "shop/orders", runId: "run2" }))
    await io.close()
    expect(await query(path, 'select sum(amount) as total from "shop/orders"')).toEqual([{ total: 60 }])
    // Loading an older value never moves the view back.
    await run(io.load(first.handle, { assetKey: "shop/orders", consumerKey: "report" }))
    await io.close()
    expect(await query(path, 'select sum(amount) as total from "shop/orders"')).toEqual([{ total: 60 }])
  })

  it("gives a partitioned asset one view over the current table of every partition, with its partition columns", async () => {
    const partition = (date: string, attemptId: string): OutputContext => ({
      ...context("sales", attemptId),
      assetPath: ["sales", `date=${date}`]
    })
    const day1 = await run(io.write(orders(1), partition("2026-01-01", "run1-1")))
    const day2 = await run(io.write(orders(2), partition("2026-01-02", "run1-2")))
    expect(day1.handle.location).toBe("sales/date=2026-01-01/run1-1")
    await run(io.promote(day1.handle, { assetKey: "sales", runId: "run1" }))
    await run(io.promote(day2.handle, { assetKey: "sales", runId: "run1" }))
    const again = await run(io.write(orders(100), partition("2026-01-01", "run2-1")))
    await run(io.promote(again.handle, { assetKey: "sales", runId: "run2" }))
    await io.close()
    expect(
      await query(path, "select date, sum(amount)::int as total from sales group by date order by date")
    ).toEqual([
      { date: "2026-01-01", total: 600 },
      { date: "2026-01-02", total: 12 }
    ])
  })

  it("writes, promotes and loads several values at once (steps run concurrently)", async () => {
    const keys = ["a", "b", "c", "d", "e", "f"]
    const stored = await Promise.all(
      keys.flatMap((key, k) =>
        [1, 2].map((attempt) =>
          run(
            Effect.flatMap(io.write(orders(k * 10 + attempt), context(key, `run${attempt}-1`)), (value) =>
              Effect.as(io.promote(value.handle, { assetKey: key, runId: `run${attempt}` }), value)
            )
          )
        )
      )
    )
    const loaded = await Promise.all(
      stored.map((value, i) =>
        run(io.load(value.handle, { assetKey: keys[Math.floor(i / 2)]!, consumerKey: "x" }))
      )
    )
    expect(loaded.map((table) => (table as Table).numRows)).toEqual(stored.map(() => 3))
    await io.close()
    const views = await query(
      path,
      "select count(*)::int as n from duckdb_views() where schema_name = 'main' and not internal"
    )
    expect(views).toEqual([{ n: keys.length }])
  })

  it("a failed write leaves no table and no catalog entry", async () => {
    const bad = {
      async *[Symbol.asyncIterator]() {
        yield orders(1).batches[0]!
        throw new Error("the source broke")
      }
    }
    const error = await failureOf(io.write(bad, context("orders", "run1-1")))
    expect(error).toBeInstanceOf(IOManagerError)
    expect(error.message).toContain("the source broke")
    await io.close()
    expect(
      await query(
        path,
        "select count(*)::int as n from duckdb_tables() where schema_name = 'materia' and table_name like 'orders/%'"
      )
    ).toEqual([{ n: 0 }])
    expect(await query(path, "select count(*)::int as n from materia.stored_values")).toEqual([{ n: 0 }])
  })

  it("names the file, the other process and the fix when another process holds the DuckDB file", async () => {
    await run(io.write(orders(1), context("orders", "run1-1")))
    await io.close()
    // A real second process opens the file and keeps it open.
    const script = `const { DuckDBInstance } = require("@duckdb/node-api");
DuckDBInstance.create(${JSON.stringify(path)}).then(() => { process.stdout.write("open\\n"); setInterval(() => {}, 1000) })`
    const holder: ChildProcess = spawn(process.execPath, ["-e", script], {
      cwd: join(import.meta.dirname, ".."),
      stdio: ["ignore", "pipe", "inherit"]
    })
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout?.once("data", () => resolve())
        holder.once("exit", (code) => reject(new Error(`the holder process exited with ${code}`)))
      })
      const other = makeDuckDbIOManager({ path })
      const error = await failureOf(other.write(orders(2), context("orders", "run2-1")))
      expect(error).toBeInstanceOf(IOManagerError)
      expect(error.message).toContain(
        `the DuckDB file ${path} is locked by another process (PID ${holder.pid})`
      )
      expect(error.message).toContain("serves the in-process executor only")
      expect(error.message).toContain('asset "orders"')
      await other.close()
    } finally {
      holder.kill()
      await new Promise((resolve) => holder.once("exit", resolve))
    }
    // Once the other process is gone, the file opens again.
    const loaded = await run(
      io.load(
        { ioManager: "duckdb", location: "orders/run1-1", format: "table" },
        { assetKey: "orders", consumerKey: "x" }
      )
    )
    expect((loaded as Table).numRows).toBe(3)
  })
})

describe("exploring values stored in a DuckDB file", () => {
  it("fetches the table through the IO manager into the Parquet cache", async () => {
    const { fetchedTable, openExplorer } = await import("./Explore.ts")
    const dir = await mkdtemp(join(tmpdir(), "materia-duckdb-explore-"))
    const io = makeDuckDbIOManager({ path: join(dir, "warehouse.duckdb") })
    try {
      const stored = await run(io.write(orders(2), context("orders", "run1-1")))
      const explorer = await openExplorer({
        storageRoot: dir,
        cacheDir: join(dir, "cache"),
        tables: [fetchedTable(io, "orders", stored.handle, stored.dataVersion)!]
      })
      try {
        expect((await explorer.query("select sum(amount) as total from orders")).rows).toEqual([
          { total: 12 }
        ])
      } finally {
        explorer.close()
      }
    } finally {
      await io.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
