/**
 * The DuckDB explorer against real files: an Arrow value and a Parquet value written by the fs IO
 * manager, views over both, and each confinement point (paths, statements, rows, time) on its own.
 */
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { OutputContext } from "@materia/core"
import { tableFromArrays } from "apache-arrow"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeFsIOManager } from "../fs/FsIOManager.ts"
import { ExploreError, type Explorer, type ExploreTable, openExplorer } from "./Explore.ts"

const context = (assetKey: string, attemptId: string, format?: "arrow" | "parquet"): OutputContext => ({
  assetKey,
  assetPath: assetKey.split("/"),
  runId: "run1",
  attemptId,
  codeVersion: "v1",
  inputVersions: {},
  ...(format === undefined ? {} : { format })
})

let dir: string
let storage: string
let cache: string
let tables: Array<ExploreTable>
let explorer: Explorer

const refusal = async (promise: Promise<unknown>): Promise<ExploreError> => {
  const error = await promise.then(
    () => undefined,
    (cause: unknown) => cause
  )
  expect(error).toBeInstanceOf(ExploreError)
  return error as ExploreError
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "materia-explore-"))
  storage = join(dir, "storage")
  cache = join(dir, "cache")
  const io = makeFsIOManager({ root: storage })
  const write = (value: unknown, key: string, format?: "arrow" | "parquet") =>
    Effect.runPromise(io.write(value, context(key, "a1", format)))
  const model = await write(
    tableFromArrays({ id: Int32Array.from([1, 2, 3]), score: Float64Array.from([0.5, 1.5, 2.5]) }),
    "ml/model",
    "arrow"
  )
  const orders = await write(
    tableFromArrays({ order: Int32Array.from([10, 20]), big: BigInt64Array.from([1n, 2n ** 60n]) }),
    "orders",
    "parquet"
  )
  const notes = await write({ hello: "world" }, "notes")
  const entry = (key: string, stored: typeof model): ExploreTable => ({
    name: key,
    format: stored.handle.format,
    path: join(storage, stored.handle.location, `value.${stored.handle.format}`),
    dataVersion: stored.dataVersion
  })
  tables = [entry("ml/model", model), entry("orders", orders), entry("notes", notes)]
  // A file outside storage, and a symlink inside storage pointing at it.
  await writeFile(join(dir, "secret.csv"), "a,b\n1,2\n")
  await symlink(join(dir, "secret.csv"), join(storage, "link.csv"))
  explorer = await openExplorer({ storageRoot: storage, cacheDir: cache, tables })
})

afterAll(async () => {
  explorer?.close()
  await rm(dir, { recursive: true, force: true })
})

describe("explore with DuckDB", () => {
  it("makes a view per table asset (Arrow through the Parquet cache), skipping other values", async () => {
    expect(explorer.views).toEqual(["ml/model", "ml__model", "orders"])
    const model = await explorer.query(`select id, score from "ml/model" order by id`)
    expect(model.rows).toEqual([
      { id: 1, score: 0.5 },
      { id: 2, score: 1.5 },
      { id: 3, score: 2.5 }
    ])
    expect(model.columns).toEqual([
      { name: "id", type: "INTEGER" },
      { name: "score", type: "DOUBLE" }
    ])
    expect((await explorer.query("select count(*) as n from ml__model")).rows).toEqual([{ n: 3 }])
    const orders = await explorer.query("select * from orders order by 1")
    // BIGINT: a number when exact, else a string.
    expect(orders.rows).toEqual([
      { order: 10, big: 1 },
      { order: 20, big: (2n ** 60n).toString() }
    ])
    expect(orders.truncated).toBe(false)
  })

  it("accepts EXPLAIN", async () => {
    const result = await explorer.query("explain select * from orders")
    expect(result.rows.length).toBeGreaterThan(0)
  })

  it("reuses the Parquet copy of an Arrow value for the same data version", async () => {
    const files = await readdir(cache)
    expect(files).toEqual([`${tables[0]!.dataVersion}.parquet`])
    const before = await stat(join(cache, files[0]!))
    const again = await openExplorer({ storageRoot: storage, cacheDir: cache, tables })
    try {
      expect((await again.query(`select count(*) as n from "ml/model"`)).rows).toEqual([{ n: 3 }])
    } finally {
      again.close()
    }
    const after = await stat(join(cache, files[0]!))
    expect(after.mtimeMs).toBe(before.mtimeMs)
    expect(after.ino).toBe(before.ino)
    expect(await readdir(cache)).toEqual(files)
  })

  it("cannot read /etc/passwd", async () => {
    const error = await refusal(explorer.query("select * from read_csv('/etc/passwd')"))
    expect(error.reason).toBe("InvalidSql")
    expect(error.message).toMatch(/permission|not allowed|disabled/i)
  })

  it("cannot leave storage with ../", async () => {
    const error = await refusal(explorer.query(`select * from read_csv('${storage}/../secret.csv')`))
    expect(error.message).toMatch(/permission|not allowed|disabled/i)
  })

  it("cannot follow a symlink out of storage", async () => {
    const error = await refusal(explorer.query(`select * from read_csv('${storage}/link.csv')`))
    expect(error.message).toMatch(/permission|not allowed|disabled/i)
  })

  // Paths inside storage: DuckDB's folder confinement would let these write; the statement check refuses them.
  const refused: ReadonlyArray<readonly [string, () => string, string]> = [
    ["COPY ... TO", () => `copy (select 1) to '${storage}/out.csv'`, "COPY"],
    ["ATTACH", () => `attach '${storage}/other.db' as other`, "ATTACH"],
    ["INSTALL", () => "install httpfs", "LOAD"],
    ["CREATE TABLE", () => "create table x as select 1", "CREATE"],
    ["SET", () => "set threads=8", "SET"]
  ]
  for (const [label, sql, type] of refused)
    it(`refuses ${label}`, async () => {
      const error = await refusal(explorer.query(sql()))
      expect(error.reason).toBe("Refused")
      expect(error.message).toBe(
        `only SELECT and EXPLAIN statements are allowed; found ${type} in statement 1`
      )
    })

  it("checks every statement of a string before running any", async () => {
    const error = await refusal(explorer.query("select 1; create table x as select 1"))
    expect(error.message).toBe("only SELECT and EXPLAIN statements are allowed; found CREATE in statement 2")
    // Nothing ran: no table x.
    const tables = await explorer.query("select count(*) as n from duckdb_tables() where table_name = 'x'")
    expect(tables.rows).toEqual([{ n: 0 }])
    const left = await readdir(storage)
    expect(left).not.toContain("out.csv")
    expect(left).not.toContain("other.db")
  })

  it("returns at most maxRows rows and says it truncated", async () => {
    const result = await explorer.query("select * from range(100000)", { maxRows: 5 })
    expect(result.rows).toEqual([0, 1, 2, 3, 4].map((range) => ({ range })))
    expect(result.truncated).toBe(true)
    const exact = await explorer.query("select * from range(5)", { maxRows: 5 })
    expect(exact.truncated).toBe(false)
  })

  it("interrupts a query that runs past its timeout", async () => {
    const error = await refusal(
      explorer.query("select count(*) from range(1000000000000)", { timeoutMillis: 200 })
    )
    expect(error.reason).toBe("Timeout")
    expect(error.message).toMatch(/interrupted/)
    expect(error.message).toMatch(/timeout of 200 ms/)
    // The explorer still answers afterwards.
    expect((await explorer.query("select 42 as n")).rows).toEqual([{ n: 42 }])
  })
})

describe("explore setup", () => {
  it("refuses a data version that is not a safe file name", async () => {
    const sub = join(dir, "bad-cache")
    await mkdir(sub, { recursive: true })
    const error = await refusal(
      openExplorer({
        storageRoot: storage,
        cacheDir: sub,
        tables: [{ ...tables[0]!, dataVersion: "../x" }]
      })
    )
    expect(error.reason).toBe("Setup")
  })
})
