/**
 * The conformance suite every IO manager passes (memory, fs, and later S3 and DuckDB): round trips of
 * JSON values, bytes and Arrow tables, fresh locations per write, data versions, batch streaming and
 * errors. A test file calls `ioManagerSuite` once per manager; this file is not collected by itself.
 */
import {
  assetKeySegments,
  type InputContext,
  type IOManager,
  IOManagerError,
  type OutputContext,
  type StoredValue,
  type ValueHandle
} from "@materia/core"
import {
  Bool,
  Dictionary,
  Field,
  Float64,
  Int32,
  type RecordBatch,
  Schema,
  Table,
  tableFromArrays,
  Utf8,
  vectorFromArray
} from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { afterEach, beforeEach, describe, expect, it } from "vitest"

/** A manager under test and how to dispose of what it stored. */
export interface IOManagerFixture {
  readonly io: IOManager
  readonly cleanup: () => Promise<void>
}

/** What differs between managers and the suite must know. */
export interface IOManagerSuiteOptions {
  /**
   * Whether plain (JSON-like) values get content-hash data versions. The memory manager uses a
   * logical version for them (code version + input versions), so different content may share one.
   */
  readonly contentVersionsForObjects: boolean
  /**
   * What a stored stream of record batches becomes: `stored`, a table any number of consumers load
   * (fs, S3, DuckDB); `single-consumer`, the stream itself, handed to the first `loadBatches` (memory).
   */
  readonly streams: "stored" | "single-consumer"
}

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

const failureOf = async <A, E>(effect: Effect.Effect<A, E>): Promise<E> =>
  Effect.runPromise(Effect.flip(effect))

/** Every column kind the suite checks, each with nulls: dictionary strings, Utf8, Float64, Int32, Bool. */
const sampleTable = (price = 2.5): Table =>
  new Table({
    city: vectorFromArray(["Paris", null, "Oslo", "Paris", "Lima"], new Dictionary(new Utf8(), new Int32())),
    note: vectorFromArray(["a", "b", null, "", "é ✓"], new Utf8()),
    price: vectorFromArray([1.5, null, price, -0.25, 1e300], new Float64()),
    qty: vectorFromArray([1, 2, null, -2147483648, 2147483647], new Int32()),
    ok: vectorFromArray([true, false, null, true, false], new Bool())
  })

/** A table of several record batches, each with its own string dictionary (as `concat` makes). */
const batchedTable = (batches = 3, rowsPerBatch = 1000): Table => {
  const parts = Array.from({ length: batches }, (_, b) =>
    tableFromArrays({
      id: Int32Array.from({ length: rowsPerBatch }, (_, i) => b * rowsPerBatch + i),
      label: Array.from({ length: rowsPerBatch }, (_, i) => `batch${b}-${i % 7}`),
      score: Float64Array.from({ length: rowsPerBatch }, (_, i) => i / 3)
    })
  )
  return parts.slice(1).reduce((table, part) => table.concat(part), parts[0]!)
}

/** A body's `async function*` of `table`'s batches; `state` says how far it got and whether it was closed. */
const streamOf = (
  items: ReadonlyArray<unknown>,
  state: { yielded: number; closed: boolean; fail?: Error } = { yielded: 0, closed: false }
): AsyncIterable<unknown> => ({
  async *[Symbol.asyncIterator]() {
    try {
      for (const item of items) {
        await Promise.resolve()
        state.yielded++
        yield item
      }
      if (state.fail !== undefined) throw state.fail
    } finally {
      state.closed = true
    }
  }
})

/** Batches that share one string dictionary (slices of one batch), which the IPC writer sends once. */
const slicedTable = (): Table => {
  const whole = tableFromArrays({
    id: Int32Array.from({ length: 900 }, (_, i) => i),
    city: Array.from({ length: 900 }, (_, i) => ["Paris", "Oslo", "Lima"][i % 3]!)
  }).batches[0]!
  return new Table([whole.slice(0, 300), whole.slice(300, 600), whole.slice(600, 900)])
}

const fieldsOf = (table: Table) =>
  table.schema.fields.map((field) => ({
    name: field.name,
    type: String(field.type),
    nullable: field.nullable
  }))

const rowsOf = (batches: ReadonlyArray<{ toArray(): ReadonlyArray<{ toJSON(): unknown } | null> }>) =>
  batches.flatMap((batch) => batch.toArray().map((row) => row?.toJSON()))

const expectSameTable = (loaded: unknown, original: Table) => {
  expect(loaded).toBeInstanceOf(Table)
  const table = loaded as Table
  expect(fieldsOf(table)).toEqual(fieldsOf(original))
  expect(table.numRows).toBe(original.numRows)
  expect(rowsOf([table])).toEqual(rowsOf([original]))
}

/** Registers the conformance tests of one IO manager; `make` gives a fresh manager per test. */
export const ioManagerSuite = (
  name: string,
  make: () => Promise<IOManagerFixture>,
  options: IOManagerSuiteOptions
): void => {
  describe(`IO manager conformance: ${name}`, () => {
    let fixture: IOManagerFixture | undefined
    let attempts = 0

    beforeEach(async () => {
      fixture = await make()
    })
    afterEach(async () => {
      await fixture?.cleanup()
      fixture = undefined
    })

    const io = (): IOManager => fixture!.io
    const output = (assetKey: string): OutputContext => ({
      assetKey,
      assetPath: assetKeySegments(assetKey),
      runId: "suite-run",
      attemptId: `suite-run-${++attempts}`,
      codeVersion: "v1",
      inputVersions: { upstream: "u1" }
    })
    const input = (assetKey: string): InputContext => ({ assetKey, consumerKey: "downstream" })
    const write = (value: unknown, assetKey = "asset"): Promise<StoredValue> =>
      run(io().write(value, output(assetKey)))
    const load = (handle: ValueHandle, assetKey = "asset"): Promise<unknown> =>
      run(io().load(handle, input(assetKey)))

    it("round-trips JSON-like values: objects, arrays, strings, numbers, booleans, null", async () => {
      const values: ReadonlyArray<unknown> = [
        { name: "model", layers: [64, 32], config: { lr: 0.001, tags: ["a", "b"], extra: null }, ok: true },
        [1, "two", null, [3.5, { four: 4 }], false],
        'a string with unicode é ✓ and "quotes"',
        "",
        42,
        -0.125,
        0,
        null,
        true,
        {},
        []
      ]
      for (const value of values) {
        const stored = await write(value)
        expect(stored.handle.ioManager).toBe(io().name)
        expect(await load(stored.handle)).toEqual(value)
      }
    })

    it("round-trips bytes as a Uint8Array", async () => {
      for (const bytes of [Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256), new Uint8Array(0)]) {
        const stored = await write(bytes, "ml/weights")
        const loaded = await load(stored.handle, "ml/weights")
        expect(loaded).toBeInstanceOf(Uint8Array)
        expect(Array.from(loaded as Uint8Array)).toEqual(Array.from(bytes))
        expect(stored.metadata.bytes).toBe(bytes.byteLength)
      }
    })

    it("round-trips Arrow tables with equal schema and rows, nulls included", async () => {
      const table = sampleTable()
      expect(fieldsOf(table).map((field) => field.type)).toEqual([
        "Dictionary<Int32, Utf8>",
        "Utf8",
        "Float64",
        "Int32",
        "Bool"
      ])
      const stored = await write(table, "ml/features")
      expectSameTable(await load(stored.handle, "ml/features"), table)
      expect(stored.metadata.rows).toBe(table.numRows)
      if (stored.metadata.bytes !== undefined) expect(stored.metadata.bytes).toBeGreaterThan(0)
    })

    it("round-trips a table of several batches with different dictionaries, and an empty table", async () => {
      const batched = batchedTable()
      expect(batched.batches.length).toBe(3)
      expectSameTable(await load((await write(batched)).handle), batched)
      const empty = new Table(
        new Schema([new Field("id", new Int32(), true), new Field("name", new Utf8(), true)])
      )
      const stored = await write(empty)
      expectSameTable(await load(stored.handle), empty)
      expect(stored.metadata.rows).toBe(0)
    })

    it("writes every value to a new location; a later write never changes what an earlier handle loads", async () => {
      const first = await write({ version: 1 })
      const second = await write({ version: 2 })
      expect(second.handle.location).not.toBe(first.handle.location)
      expect(await load(first.handle)).toEqual({ version: 1 })
      expect(await load(second.handle)).toEqual({ version: 2 })
      const bytes = [await write(Uint8Array.of(1, 2)), await write(Uint8Array.of(1, 2))]
      expect(bytes[0]!.handle.location).not.toBe(bytes[1]!.handle.location)
    })

    it("gives equal content equal data versions and different content different ones", async () => {
      const a = await write(Uint8Array.of(1, 2, 3))
      const b = await write(Uint8Array.of(1, 2, 3))
      const c = await write(Uint8Array.of(1, 2, 4))
      expect(b.dataVersion).toBe(a.dataVersion)
      expect(c.dataVersion).not.toBe(a.dataVersion)

      const t1 = await write(sampleTable())
      const t2 = await write(sampleTable())
      const t3 = await write(sampleTable(99))
      expect(t2.dataVersion).toBe(t1.dataVersion)
      expect(t3.dataVersion).not.toBe(t1.dataVersion)

      const o1 = await write({ a: [1, 2], b: "x" })
      const o2 = await write({ a: [1, 2], b: "x" })
      expect(o2.dataVersion).toBe(o1.dataVersion)
      if (options.contentVersionsForObjects) {
        const o3 = await write({ a: [1, 2], b: "y" })
        expect(o3.dataVersion).not.toBe(o1.dataVersion)
      }
    })

    it("streams a table's record batches", async () => {
      const table = batchedTable(4, 500)
      const stored = await write(table, "ml/features")
      const batches = await run(Stream.runCollect(io().loadBatches(stored.handle, input("ml/features"))))
      expect(batches.reduce((rows, batch) => rows + batch.numRows, 0)).toBe(table.numRows)
      expect(rowsOf(batches as unknown as ReadonlyArray<RecordBatch>)).toEqual(rowsOf([table]))
    })

    it("fails with IOManagerError when streaming batches of a value that is not a table", async () => {
      for (const value of [{ not: "a table" }, Uint8Array.of(1)]) {
        const stored = await write(value)
        const error = await failureOf(Stream.runCollect(io().loadBatches(stored.handle, input("asset"))))
        expect(error).toBeInstanceOf(IOManagerError)
      }
    })

    describe("streams of record batches", () => {
      const loadRows = async (handle: ValueHandle, assetKey = "asset") =>
        rowsOf(
          (await run(
            Stream.runCollect(io().loadBatches(handle, input(assetKey)))
          )) as unknown as ReadonlyArray<RecordBatch>
        )

      it("stores a body's async iterable of record batches (dictionaries per batch or shared) with the table's metadata", async () => {
        for (const table of [batchedTable(4, 500), slicedTable(), sampleTable()]) {
          const state = { yielded: 0, closed: false }
          const stored = await write(streamOf(table.batches, state), "ml/streamed")
          if (options.streams === "single-consumer") {
            expect(await loadRows(stored.handle, "ml/streamed")).toEqual(rowsOf([table]))
            continue
          }
          expect(state).toEqual({ yielded: table.batches.length, closed: true })
          expect(stored.metadata.rows).toBe(table.numRows)
          const whole = await write(table, "ml/streamed")
          expect(stored.metadata.schema).toEqual(whole.metadata.schema)
          // Same batches, same bytes: a stream and its table share a data version.
          expect(stored.dataVersion).toBe(whole.dataVersion)
          expectSameTable(await load(stored.handle, "ml/streamed"), table)
          // Any number of consumers re-read it from storage.
          expect(await loadRows(stored.handle, "ml/streamed")).toEqual(rowsOf([table]))
          expect(await loadRows(stored.handle, "ml/streamed")).toEqual(rowsOf([table]))
        }
      })

      it("accepts tables among the items, and a stream of zero-row batches as an empty table", async () => {
        const table = batchedTable(3, 100)
        const parts = table.batches.map((batch) => new Table([batch]))
        const stored = await write(streamOf(parts))
        expect(await loadRows(stored.handle)).toEqual(rowsOf([table]))
        if (options.streams === "stored") {
          expect(stored.metadata.rows).toBe(300)
          const empty = table.batches[0]!.slice(0, 0)
          const none = await write(streamOf([empty]))
          expect(none.metadata.rows).toBe(0)
          const loaded = (await load(none.handle)) as Table
          expect(loaded.numRows).toBe(0)
          expect(fieldsOf(loaded)).toEqual(fieldsOf(table))
        }
      })

      it("hands a memory stream to one consumer, or re-reads a stored one from storage", async () => {
        const table = batchedTable(2, 10)
        const stored = await write(streamOf(table.batches), "ml/once")
        expect(await loadRows(stored.handle, "ml/once")).toEqual(rowsOf([table]))
        if (options.streams === "stored") {
          expect(await loadRows(stored.handle, "ml/once")).toEqual(rowsOf([table]))
          return
        }
        const again = await failureOf(Stream.runCollect(io().loadBatches(stored.handle, input("ml/once"))))
        expect(again).toBeInstanceOf(IOManagerError)
        expect(again.message).toContain('"ml/once"')
        expect(again.message).toContain("already consumed")
        const whole = await failureOf(io().load(stored.handle, input("ml/once")))
        expect(whole).toBeInstanceOf(IOManagerError)
        expect(whole.message).toContain('"ml/once"')
      })

      it("fails a stream that is not one table's record batches, naming the asset, and closes the body's generator", async () => {
        const table = batchedTable(2, 10)
        const other = tableFromArrays({ other: Float64Array.of(1, 2) })
        const boom = { yielded: 0, closed: false, fail: new Error("the source went away") }
        const cases: ReadonlyArray<readonly [ReadonlyArray<unknown>, string, typeof boom | undefined]> = [
          [[table.batches[0], { rows: [1, 2] }], "expected an Apache Arrow RecordBatch", undefined],
          [[table.batches[0], other.batches[0]], "same column names, types and nullability", undefined],
          [[], "ended without a batch", undefined],
          [table.batches, "the source went away", boom]
        ]
        for (const [items, expected, given] of cases) {
          const state = given ?? { yielded: 0, closed: false }
          if (options.streams === "single-consumer") {
            // Kept unread: the consumer meets the source's own failure.
            if (given === undefined) continue
            const stored = await write(streamOf(items, state), "ml/bad")
            const error = await failureOf(Stream.runCollect(io().loadBatches(stored.handle, input("ml/bad"))))
            expect(error).toBeInstanceOf(IOManagerError)
            expect(error.message).toContain(expected)
            continue
          }
          const error = await failureOf(io().write(streamOf(items, state), output("ml/bad")))
          expect(error).toBeInstanceOf(IOManagerError)
          expect(error.message).toContain('"ml/bad"')
          expect(error.message).toContain(expected)
          expect(state.closed).toBe(true)
        }
      })

      it("stops pulling the body's stream once a consumer stops early", async () => {
        const table = batchedTable(4, 50)
        const stored = await write(streamOf(table.batches), "ml/partial")
        const first = await run(
          Stream.runCollect(Stream.take(io().loadBatches(stored.handle, input("ml/partial")), 1))
        )
        expect(first.length).toBe(1)
        if (options.streams === "stored")
          expect(await loadRows(stored.handle, "ml/partial")).toEqual(rowsOf([table]))
      })
    })

    it("fails with IOManagerError naming the asset and location for a deleted or unknown handle", async () => {
      const stored = await write({ keep: false }, "ml/model")
      await run(io().delete(stored.handle))
      const deleted = await failureOf(io().load(stored.handle, input("ml/model")))
      expect(deleted).toBeInstanceOf(IOManagerError)
      expect(deleted.message).toContain("ml/model")
      expect(deleted.message).toContain(stored.handle.location)

      const other = await write(sampleTable(), "ml/model")
      const attemptId = other.handle.location.split("/").at(-1)!
      const unknown = { ...other.handle, location: other.handle.location.replace(attemptId, "never-written") }
      expect(unknown.location).not.toBe(other.handle.location)
      const error = await failureOf(io().load(unknown, input("ml/model")))
      expect(error).toBeInstanceOf(IOManagerError)
      expect(error.message).toContain("ml/model")
      expect(error.message).toContain(unknown.location)
      const streamed = await failureOf(Stream.runCollect(io().loadBatches(unknown, input("ml/model"))))
      expect(streamed).toBeInstanceOf(IOManagerError)
      // Deleting one value leaves the others loadable.
      expectSameTable(await load(other.handle, "ml/model"), sampleTable())
    })
  })
}
