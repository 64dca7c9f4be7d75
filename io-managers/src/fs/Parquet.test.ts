import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { type IOManager, IOManagerError, type OutputContext, type StoredValue } from "@materia/core"
import {
  Bool,
  DateDay,
  Dictionary,
  Float32,
  Float64,
  Int8,
  Int32,
  Int64,
  type RecordBatch,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  Uint32,
  Utf8,
  vectorFromArray
} from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { makeFsIOManager } from "./FsIOManager.ts"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
const failureOf = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

const context = (assetKey: string, attemptId: string, format?: "arrow" | "parquet"): OutputContext => ({
  assetKey,
  assetPath: assetKey.split("/"),
  runId: "run1",
  attemptId,
  codeVersion: "v1",
  inputVersions: {},
  ...(format === undefined ? {} : { format })
})

const filesUnder = async (dir: string): Promise<ReadonlyArray<string>> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort()

const flipByte = async (path: string, at: number) => {
  const bytes = await readFile(path)
  bytes[at] = bytes[at]! ^ 0xff
  await writeFile(path, bytes)
}

const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 1)

/** One batch of `rows` rows of every kind the Parquet format is documented to round-trip, with nulls. */
const batch = (b: number, rows: number): Table => {
  const at = (i: number) => b * rows + i
  const nth = <A>(f: (i: number) => A, every = 5) =>
    Array.from({ length: rows }, (_, i) => (at(i) % every === 0 ? null : f(at(i))))
  return new Table({
    id: vectorFromArray(
      Array.from({ length: rows }, (_, i) => at(i)),
      new Int32()
    ),
    big: vectorFromArray(
      nth((i) => BigInt(i) * 3_000_000_000n - 2n ** 62n),
      new Int64()
    ),
    small: vectorFromArray(
      nth((i) => (i % 256) - 128),
      new Int8()
    ),
    unsigned: vectorFromArray(
      nth((i) => 4_294_967_295 - i),
      new Uint32()
    ),
    amount: vectorFromArray(
      nth((i) => i / 4 - 100.125, 3),
      new Float64()
    ),
    ratio: vectorFromArray(
      nth((i) => i / 8),
      new Float32()
    ),
    flag: vectorFromArray(
      nth((i) => i % 2 === 0, 7),
      new Bool()
    ),
    name: vectorFromArray(
      nth((i) => `name ${i} é ✓`, 4),
      new Utf8()
    ),
    region: vectorFromArray(
      nth((i) => ["eu", "us", "apac"][i % 3]!, 6),
      new Dictionary(new Utf8(), new Int32())
    ),
    at: vectorFromArray(
      nth((i) => T0 + i * 1000),
      new TimestampMillisecond()
    ),
    atUtc: vectorFromArray(
      nth((i) => T0 + i),
      new TimestampMicrosecond("UTC")
    ),
    day: vectorFromArray(
      nth((i) => new Date(T0 + i * DAY)),
      new DateDay()
    )
  })
}

/** A table of several record batches, each with its own string dictionary. */
const multiBatch = (batches = 4, rows = 2500): Table =>
  Array.from({ length: batches - 1 }, (_, b) => batch(b + 1, rows)).reduce(
    (table, part) => table.concat(part),
    batch(0, rows)
  )

const fieldsOf = (table: Table) =>
  table.schema.fields.map((field) => `${field.name}: ${String(field.type)}${field.nullable ? "?" : ""}`)

const rowsOf = (batches: ReadonlyArray<RecordBatch> | Table) =>
  (Array.isArray(batches) ? batches : [batches]).flatMap((part: RecordBatch | Table) =>
    part
      .toArray()
      .map((row) => JSON.stringify(row?.toJSON(), (_, v) => (typeof v === "bigint" ? `${v}n` : v)))
  )

const duckdb = async <A>(
  use: (sql: (query: string) => Promise<ReadonlyArray<Record<string, unknown>>>) => Promise<A>
) => {
  const instance = await DuckDBInstance.create(":memory:")
  const connection = await instance.connect()
  try {
    return await use(async (query) => (await connection.runAndReadAll(query)).getRowObjects())
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}

describe("fs IO manager: Parquet", () => {
  let root: string
  let io: IOManager

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "materia-parquet-"))
    io = makeFsIOManager({ root })
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  const write = (
    value: unknown,
    assetKey = "asset",
    attemptId = "run1-1",
    format: "arrow" | "parquet" = "parquet"
  ) => run(io.write(value, context(assetKey, attemptId, format)))
  const load = (stored: StoredValue, assetKey = "asset") =>
    run(io.load(stored.handle, { assetKey, consumerKey: "next" }))
  const loadBatches = (stored: StoredValue, assetKey = "asset") =>
    run(Stream.runCollect(io.loadBatches(stored.handle, { assetKey, consumerKey: "next" })))

  it("round-trips a multi-batch table with nulls, strings, ints, floats, booleans, timestamps and dates", async () => {
    const table = multiBatch()
    expect(table.batches.length).toBe(4)
    const stored = await write(table, "ml/features")
    expect(stored.handle).toEqual({ ioManager: "fs", location: "ml/features/run1-1", format: "parquet" })
    expect(await filesUnder(root)).toEqual([
      "ml/features/run1-1/manifest.json",
      "ml/features/run1-1/value.parquet"
    ])

    const loaded = (await load(stored, "ml/features")) as Table
    expect(loaded).toBeInstanceOf(Table)
    expect(fieldsOf(loaded)).toEqual(fieldsOf(table))
    expect(fieldsOf(loaded)).toEqual([
      "id: Int32?",
      "big: Int64?",
      "small: Int8?",
      "unsigned: Uint32?",
      "amount: Float64?",
      "ratio: Float32?",
      "flag: Bool?",
      "name: Utf8?",
      "region: Dictionary<Int32, Utf8>?",
      "at: Timestamp<MILLISECOND>?",
      "atUtc: Timestamp<MICROSECOND, UTC>?",
      "day: Date32<DAY>?"
    ])
    expect(loaded.numRows).toBe(table.numRows)
    expect(rowsOf(loaded)).toEqual(rowsOf(table))
    expect(loaded.getChild("amount")!.nullCount).toBe(table.getChild("amount")!.nullCount)

    const batches = (await loadBatches(stored, "ml/features")) as unknown as ReadonlyArray<RecordBatch>
    expect(batches.reduce((rows, part) => rows + part.numRows, 0)).toBe(table.numRows)
    expect(rowsOf(batches)).toEqual(rowsOf(table))
  })

  it("writes a real Parquet file that DuckDB reads, hashed as written, with a manifest saying so", async () => {
    const table = multiBatch(3, 4000)
    const stored = await write(table, "orders")
    const path = join(root, "orders", "run1-1", "value.parquet")
    const bytes = await readFile(path)
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("PAR1")
    expect(bytes.subarray(-4).toString("latin1")).toBe("PAR1")

    const sha256 = createHash("sha256").update(bytes).digest("hex")
    const manifest: unknown = JSON.parse(
      await readFile(join(root, "orders", "run1-1", "manifest.json"), "utf8")
    )
    expect(manifest).toMatchObject({
      version: 1,
      format: "parquet",
      file: "value.parquet",
      bytes: bytes.byteLength,
      sha256,
      rows: table.numRows
    })
    expect(stored.dataVersion).toBe(sha256.slice(0, 32))
    expect(stored.metadata).toMatchObject({ bytes: bytes.byteLength, rows: table.numRows })

    let ids = 0
    let amounts = 0
    let flags = 0
    for (let i = 0; i < table.numRows; i++) {
      ids += table.getChild("id")!.get(i) as number
      amounts += (table.getChild("amount")!.get(i) as number | null) ?? 0
      if (table.getChild("flag")!.get(i) === true) flags++
    }
    const [row] = await duckdb((sql) =>
      sql(
        `select count(*) as n, sum(id) as ids, sum(amount) as amounts, count(*) filter (where flag) as flags,
                count(name) as names, count(distinct region) as regions, min("at") as first
         from read_parquet('${path}')`
      )
    )
    expect(Number(row!.n)).toBe(table.numRows)
    expect(Number(row!.ids)).toBe(ids)
    expect(row!.amounts as number).toBeCloseTo(amounts, 6)
    expect(Number(row!.flags)).toBe(flags)
    expect(Number(row!.names)).toBe(table.getChild("name")!.length - table.getChild("name")!.nullCount)
    expect(Number(row!.regions)).toBe(3)
    expect(String(row!.first)).toBe("2026-01-01 00:00:01")
  })

  it("writes row group by row group: a table past one row group's size makes several", async () => {
    const rows = 1_200_000
    const table = new Table({
      id: vectorFromArray(Int32Array.from({ length: rows }, (_, i) => i)),
      x: vectorFromArray(Float64Array.from({ length: rows }, (_, i) => i / 2))
    })
    const stored = await write(table, "big")
    const path = join(root, "big", "run1-1", "value.parquet")
    const groups = await duckdb((sql) =>
      sql(
        `select row_group_id, any_value(row_group_num_rows) as n from parquet_metadata('${path}') group by 1 order by 1`
      )
    )
    expect(groups.map((group) => Number(group.n))).toEqual([1024 * 1024, rows - 1024 * 1024])
    const loaded = (await load(stored, "big")) as Table
    expect(loaded.numRows).toBe(rows)
    expect(loaded.getChild("x")!.get(rows - 1)).toBe((rows - 1) / 2)
  })

  it("gives equal tables equal data versions", async () => {
    const a = await write(multiBatch(2, 100), "asset", "run1-1")
    const b = await write(multiBatch(2, 100), "asset", "run1-2")
    const c = await write(multiBatch(3, 100), "asset", "run1-3")
    expect(b.dataVersion).toBe(a.dataVersion)
    expect(c.dataVersion).not.toBe(a.dataVersion)
  })

  it("refuses a value that is not a table for an asset whose format is parquet, naming the asset, location and what it found", async () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ rows: [1, 2] }, "found an object"],
      [Uint8Array.of(1, 2), "found bytes (a Uint8Array)"],
      [[1, 2], "found an array"],
      ["text", "found a string"],
      [null, "found null"],
      [new Map(), "found an object of class Map"]
    ]
    for (const [value, found] of cases) {
      const error = await failureOf(io.write(value, context("ml/model", "run1-1", "parquet")))
      expect(error).toBeInstanceOf(IOManagerError)
      expect(error.message).toContain('could not write asset "ml/model" at ml/model/run1-1')
      expect(error.message).toContain(`expected an Arrow table for format parquet, ${found}`)
    }
    // Naming arrow binds an asset to tables just the same.
    const arrow = await failureOf(io.write({ a: 1 }, context("ml/model", "run1-1", "arrow")))
    expect(arrow.message).toContain("expected an Arrow table for format arrow, found an object")
    expect(await filesUnder(root)).toEqual([])
  })

  it("stores tables as the manager's default format unless the asset names another; other values as they are", async () => {
    io = makeFsIOManager({ root, format: "parquet" })
    const table = multiBatch(2, 10)
    const byDefault = await run(io.write(table, context("a", "r-1")))
    const named = await write(table, "a", "r-2", "arrow")
    const json = await run(io.write({ ok: true }, context("a", "r-3")))
    const bytes = await run(io.write(Uint8Array.of(1), context("a", "r-4")))
    expect([byDefault, named, json, bytes].map((stored) => stored.handle.format)).toEqual([
      "parquet",
      "arrow",
      "json",
      "bytes"
    ])
    expect(await filesUnder(join(root, "a"))).toEqual([
      "r-1/manifest.json",
      "r-1/value.parquet",
      "r-2/manifest.json",
      "r-2/value.arrow",
      "r-3/manifest.json",
      "r-3/value.json",
      "r-4/manifest.json",
      "r-4/value.bin"
    ])
    expect(rowsOf((await load(named, "a")) as Table)).toEqual(rowsOf((await load(byDefault, "a")) as Table))
    expect(() => makeFsIOManager({ root, format: "csv" as "parquet" })).toThrow(
      'makeFsIOManager: format "csv" is not a table format (expected arrow or parquet)'
    )
  })

  it("leaves nothing behind when a table fails to encode midway (the Parquet writer would end quietly)", async () => {
    const table = new Table(
      [0, 1, 2].flatMap(
        (b) =>
          new Table({ x: vectorFromArray(Float64Array.from({ length: 1000 }, (_, i) => b * 1000 + i)) })
            .batches
      )
    )
    Object.defineProperty(table.batches[1]!.data.children[0], "values", {
      get() {
        throw new Error("boom in batch 2")
      }
    })
    const error = await failureOf(io.write(table, context("ml/model", "run1-1", "parquet")))
    expect(error).toBeInstanceOf(IOManagerError)
    expect(error.message).toContain("could not encode the value as parquet (boom in batch 2)")
    expect(existsSync(join(root, "ml", "model", "run1-1"))).toBe(false)
    expect(await filesUnder(root)).toEqual([])
    // The wasm writer is still usable.
    const stored = await write(multiBatch(2, 10), "ml/model", "run1-2")
    expect(((await load(stored, "ml/model")) as Table).numRows).toBe(20)
  })

  it("fails to load or stream a corrupted Parquet file with the hash mismatch, before decoding it", async () => {
    const table = multiBatch(2, 3000)
    for (const [attemptId, at] of [
      ["run1-1", 2],
      ["run1-2", 5000],
      ["run1-3", -10]
    ] as const) {
      const stored = await write(table, "asset", attemptId)
      const path = join(root, "asset", attemptId, "value.parquet")
      const expected = createHash("sha256")
        .update(await readFile(path))
        .digest("hex")
      const size = (await readFile(path)).byteLength
      await flipByte(path, at < 0 ? size + at : at)
      const found = createHash("sha256")
        .update(await readFile(path))
        .digest("hex")
      const loadError = await failureOf(io.load(stored.handle, { assetKey: "asset", consumerKey: "next" }))
      const streamError = await failureOf(
        Stream.runCollect(io.loadBatches(stored.handle, { assetKey: "asset", consumerKey: "next" }))
      )
      for (const error of [loadError, streamError]) {
        expect(error).toBeInstanceOf(IOManagerError)
        expect(error.message).toContain(
          `value file ${path} is corrupt: expected sha256 ${expected}, found ${found}`
        )
        expect(error.message).toContain("run `materia wipe --select asset` and re-materialize")
      }
    }
  })

  it("fails to load a truncated Parquet file, naming both sizes", async () => {
    const stored = await write(multiBatch(1, 1000))
    const path = join(root, "asset", "run1-1", "value.parquet")
    const size = (await readFile(path)).byteLength
    await truncate(path, 100)
    for (const error of [
      await failureOf(io.load(stored.handle, { assetKey: "asset", consumerKey: "next" })),
      await failureOf(
        Stream.runCollect(io.loadBatches(stored.handle, { assetKey: "asset", consumerKey: "next" }))
      )
    ])
      expect(error.message).toContain(`value file ${path} has 100 bytes, expected ${size}`)
  })

  it("streams only what the consumer takes, and the file stays readable after", async () => {
    const rows = 300_000
    const table = new Table({ id: vectorFromArray(Int32Array.from({ length: rows }, (_, i) => i)) })
    const stored = await write(table)
    const first = await run(
      Stream.runCollect(
        Stream.take(io.loadBatches(stored.handle, { assetKey: "asset", consumerKey: "next" }), 1)
      )
    )
    expect(first.length).toBe(1)
    expect(first[0]!.numRows).toBeLessThan(rows)
    const all = (await loadBatches(stored)) as unknown as ReadonlyArray<RecordBatch>
    expect(all.reduce((n, part) => n + part.numRows, 0)).toBe(rows)
  })

  it("writes and reads several tables at once (steps run concurrently)", async () => {
    const tables = [1, 2, 3, 4].map((b) => multiBatch(b, 500 * b))
    const stored = await Promise.all(tables.map((table, i) => write(table, `t${i}`)))
    const loaded = await Promise.all(stored.map((value, i) => load(value, `t${i}`)))
    const streamed = await Promise.all(stored.map((value, i) => loadBatches(value, `t${i}`)))
    tables.forEach((table, i) => {
      expect(rowsOf(loaded[i] as Table)).toEqual(rowsOf(table))
      expect(rowsOf(streamed[i] as unknown as ReadonlyArray<RecordBatch>)).toEqual(rowsOf(table))
    })
  })

  it("deletes a Parquet value", async () => {
    const stored = await write(multiBatch(1, 10))
    await run(io.delete(stored.handle))
    expect(await filesUnder(root)).toEqual([])
  })
})
