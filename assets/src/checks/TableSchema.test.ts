import {
  Bool,
  DateDay,
  Float64,
  Int8,
  Int32,
  Int64,
  Null,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  tableFromArrays,
  tableFromJSON,
  Utf8,
  vectorFromArray
} from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { describe, expect, it } from "vitest"
import {
  InvalidRowSchema,
  makeTableValidator,
  rowSchemaToArrowDescription,
  TableSchemaMismatch,
  validateStream,
  validateTable
} from "./TableSchema.ts"

const Order = Schema.Struct({
  order_id: Schema.Int,
  customer_id: Schema.String,
  amount: Schema.Number,
  paid: Schema.Boolean,
  placed_at: Schema.Date,
  note: Schema.NullOr(Schema.String),
  coupon: Schema.optional(Schema.String)
})

/** One table with the batches of all, whatever their column types. */
const concatenate = (first: Table, ...rest: ReadonlyArray<Table>): Table => first.concat(...rest)

const goodOrders = (offset = 0) =>
  tableFromArrays({
    order_id: Int32Array.from([1, 2, 3], (id) => id + offset),
    customer_id: ["c1", "c2", "c1"],
    amount: [9.5, 20, 3.25],
    paid: [true, false, true],
    placed_at: [new Date(0), new Date(1000), new Date(2000)],
    note: ["gift", null, null]
  })

describe("rowSchemaToArrowDescription", () => {
  it("describes the Arrow column each field accepts", () => {
    expect(rowSchemaToArrowDescription(Order)).toEqual({
      order_id: "Int8/16/32/64",
      customer_id: "Utf8 (dictionary accepted)",
      amount: "Float64",
      paid: "Bool",
      placed_at: "Timestamp or Date",
      note: "Utf8 (dictionary accepted), nullable",
      coupon: "Utf8 (dictionary accepted), optional"
    })
  })

  it("reads integer refinements, BigInt, literals, enums and decoded types", () => {
    enum Level {
      Low = "low",
      High = "high"
    }
    const Row = Schema.Struct({
      checked_int: Schema.Number.pipe(Schema.check(Schema.isInt())),
      int32: Schema.Number.pipe(Schema.check(Schema.isInt32())),
      ranged_int: Schema.Number.pipe(Schema.check(Schema.isInt(), Schema.isGreaterThan(0))),
      positive: Schema.Number.pipe(Schema.check(Schema.isGreaterThan(0))),
      big: Schema.BigInt,
      region: Schema.Literals(["eu", "us"]),
      level: Schema.Enum(Level),
      parsed_date: Schema.DateFromString,
      maybe_int: Schema.NullOr(Schema.Int),
      mixed_numbers: Schema.Union([Schema.Int, Schema.Number]),
      nullish: Schema.NullishOr(Schema.Boolean),
      utc: Schema.DateTimeUtc,
      key_optional: Schema.optionalKey(Schema.Number)
    })
    expect(rowSchemaToArrowDescription(Row)).toEqual({
      checked_int: "Int8/16/32/64",
      int32: "Int8/16/32/64",
      ranged_int: "Int8/16/32/64",
      positive: "Float64",
      big: "Int64",
      region: "Utf8 (dictionary accepted)",
      level: "Utf8 (dictionary accepted)",
      parsed_date: "Timestamp or Date",
      maybe_int: "Int8/16/32/64, nullable",
      mixed_numbers: "Float64",
      nullish: "Bool, nullable",
      utc: "Timestamp or Date",
      key_optional: "Float64, optional"
    })
  })

  it("rejects a row schema that is not a Struct", () => {
    expect(() => rowSchemaToArrowDescription(Schema.String)).toThrow(InvalidRowSchema)
    expect(() => rowSchemaToArrowDescription(Schema.String)).toThrow(
      "invalid table row schema: expected a Schema.Struct of one row's fields, got String"
    )
    expect(() => rowSchemaToArrowDescription(Schema.Record(Schema.String, Schema.Number))).toThrow(
      "got a Record"
    )
  })

  it("names every field with no Arrow mapping", () => {
    const Row = Schema.Struct({
      ok: Schema.Number,
      tags: Schema.Array(Schema.String),
      either: Schema.Union([Schema.String, Schema.Number]),
      nested: Schema.Struct({ x: Schema.Number })
    })
    let error: unknown
    try {
      rowSchemaToArrowDescription(Row)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InvalidRowSchema)
    const problems = (error as InvalidRowSchema).problems
    expect(problems).toHaveLength(3)
    expect(problems[0]).toMatch(/^field "tags": an Array or Tuple has no Arrow mapping \(supported: Number/)
    expect(problems[1]).toBe(
      'field "either": a union of Utf8 (dictionary accepted) and Float64 has no single Arrow type'
    )
    expect(problems[2]).toMatch(/^field "nested": a nested Struct has no Arrow mapping/)
  })
})

describe("validateTable", () => {
  it("accepts a table made by tableFromArrays (dictionary strings, nullable fields, absent optional)", () => {
    expect(validateTable(Order, goodOrders())).toEqual({ ok: true, rows: 3, batches: 1 })
  })

  it("reports a wrong type, naming the expected and the actual Arrow type", () => {
    const table = new Table({
      order_id: vectorFromArray([1, 2], new Int32()),
      customer_id: vectorFromArray(["c1", "c2"], new Utf8()),
      amount: vectorFromArray(["9.50", "20"], new Utf8()),
      paid: vectorFromArray([true, false], new Bool()),
      placed_at: vectorFromArray([new Date(0), new Date(1)], new TimestampMillisecond()),
      note: vectorFromArray([null, null], new Utf8())
    })
    expect(validateTable(Order, table)).toEqual({
      ok: false,
      diff: ["amount: expected Float64, got Utf8"],
      rows: 2,
      batches: 1
    })
  })

  it("judges nullability from actual null counts, summed over every batch", () => {
    const withNulls = (ids: ReadonlyArray<string | null>) =>
      tableFromArrays({
        order_id: Int32Array.from(ids, (_, i) => i),
        customer_id: ids,
        amount: ids.map(() => 1),
        paid: ids.map(() => true),
        placed_at: ids.map(() => new Date(0)),
        note: ids.map(() => null)
      })
    // Every column from a JS array is marked nullable; only the counts matter.
    expect(goodOrders().schema.fields.find((field) => field.name === "amount")?.nullable).toBe(true)
    const table = withNulls(["c1", null, null]).concat(withNulls([null, "c2"]))
    expect(table.batches).toHaveLength(2)
    const result = validateTable(Order, table)
    expect(result).toEqual({
      ok: false,
      diff: ["customer_id: expected no nulls, found 3"],
      rows: 5,
      batches: 2
    })
  })

  it("reports a missing column with the nearest unexpected one, and allows an absent optional column", () => {
    const table = tableFromArrays({
      order_id: Int32Array.from([1]),
      custmer_id: ["c1"],
      amount: [1],
      paid: [true],
      placed_at: [new Date(0)],
      note: ["x"]
    })
    const result = validateTable(Order, table)
    expect(result.ok).toBe(false)
    expect(!result.ok && result.diff).toEqual([
      'customer_id: missing column, expected Utf8 (dictionary accepted) (did you mean "custmer_id"?)'
    ])
  })

  it("allows extra columns unless extraColumns is 'error'", () => {
    const Row = Schema.Struct({ id: Schema.Int })
    const table = tableFromArrays({ id: Int32Array.from([1, 2]), debug: ["a", "b"] })
    expect(validateTable(Row, table).ok).toBe(true)
    const strict = validateTable(Row, table, { extraColumns: "error" })
    expect(!strict.ok && strict.diff).toEqual([
      "debug: column not in the row schema (Dictionary<Int32, Utf8>)"
    ])
  })

  it("maps integer refinements to Int columns only, and Number to floats and integers", () => {
    const Row = Schema.Struct({ id: Schema.Int, score: Schema.Number })
    const ints = new Table({
      id: vectorFromArray([1n, 2n], new Int64()),
      score: vectorFromArray([1, 2], new Int8())
    })
    expect(validateTable(Row, ints).ok).toBe(true)
    const floats = tableFromArrays({ id: [1, 2], score: [0.5, 1] })
    const result = validateTable(Row, floats)
    expect(!result.ok && result.diff).toEqual(["id: expected Int8/16/32/64, got Float64"])
  })

  it("maps BigInt to 64-bit integers and Boolean to Bool", () => {
    const Row = Schema.Struct({ big: Schema.BigInt, flag: Schema.Boolean })
    const good = tableFromArrays({ big: BigInt64Array.from([1n]), flag: [true] })
    expect(validateTable(Row, good).ok).toBe(true)
    const bad = tableFromArrays({ big: Int32Array.from([1]), flag: Int8Array.from([1]) })
    const result = validateTable(Row, bad)
    expect(!result.ok && result.diff).toEqual([
      "big: expected Int64, got Int32",
      "flag: expected Bool, got Int8"
    ])
  })

  it("maps Date to Timestamp of any unit and to Date columns, not to strings", () => {
    const Row = Schema.Struct({ at: Schema.Date })
    const day = new Table({ at: vectorFromArray([new Date(86_400_000)], new DateDay()) })
    const micros = new Table({ at: vectorFromArray([new Date(5)], new TimestampMicrosecond()) })
    expect(validateTable(Row, day).ok).toBe(true)
    expect(validateTable(Row, micros).ok).toBe(true)
    const text = tableFromJSON([{ at: "2024-01-01" }])
    const result = validateTable(Row, text)
    expect(!result.ok && result.diff).toEqual(["at: expected Timestamp or Date, got Dictionary<Int32, Utf8>"])
  })

  it("does not type-check a column whose values are all null: Arrow JS makes it Float64", () => {
    const Row = Schema.Struct({ id: Schema.Int, note: Schema.NullOr(Schema.String), b: Schema.Number })
    const table = tableFromArrays({ id: Int32Array.from([1, 2]), note: [null, null], b: [null, null] })
    expect(String(table.getChild("note")?.type)).toBe("Float64")
    const typed = new Table({
      id: vectorFromArray([1, 2], new Int32()),
      note: vectorFromArray([null, null], new Null()),
      b: vectorFromArray([null, null], new Null())
    })
    for (const candidate of [table, typed]) {
      const result = validateTable(Row, candidate)
      expect(!result.ok && result.diff).toEqual(["b: expected no nulls, found 2"])
    }
    // With a value present, the type counts again.
    const mixed = concatenate(table, tableFromArrays({ id: Int32Array.from([3]), note: [4], b: [1] }))
    const result = validateTable(Row, mixed)
    expect(mixed.batches).toHaveLength(2)
    expect(!result.ok && result.diff).toEqual([
      "note: expected Utf8 (dictionary accepted), got Float64",
      "b: expected no nulls, found 2"
    ])
  })

  it("checks the schema of a table with no batches", () => {
    const Row = Schema.Struct({ id: Schema.Int, name: Schema.String })
    const empty = new Table({ id: vectorFromArray([], new Float64()), name: vectorFromArray([], new Utf8()) })
    const result = validateTable(Row, { schema: empty.schema, batches: [] })
    expect(result).toEqual({
      ok: false,
      diff: ["id: expected Int8/16/32/64, got Float64"],
      rows: 0,
      batches: 0
    })
  })
})

describe("makeTableValidator", () => {
  it("validates a stream batch by batch and reports each finding once", () => {
    const validator = makeTableValidator(Order)
    const table = goodOrders().concat(goodOrders(3))
    validator.batch(table.batches[0]!)
    expect(validator.result()).toEqual({ ok: true, rows: 3, batches: 1 })
    const broken = tableFromArrays({
      order_id: [7.5],
      customer_id: [null],
      amount: [1],
      paid: [true],
      placed_at: [new Date(0)],
      note: [null]
    })
    validator.batch(broken.batches[0]!)
    validator.batch(broken.batches[0]!)
    validator.batch(table.batches[1]!)
    expect(validator.result()).toEqual({
      ok: false,
      diff: ["order_id: expected Int8/16/32/64, got Float64", "customer_id: expected no nulls, found 2"],
      rows: 8,
      batches: 4
    })
  })

  it("throws InvalidRowSchema when it is made, not when a batch arrives", () => {
    expect(() => makeTableValidator(Schema.Struct({ blob: Schema.Unknown }))).toThrow(
      'field "blob": Unknown has no Arrow mapping'
    )
  })
})

describe("TableSchemaMismatch", () => {
  it("names the asset and lists the diff one column per line", () => {
    const error = new TableSchemaMismatch({
      assetKey: "orders",
      diff: ["amount: expected Float64, got Utf8", "customer_id: expected no nulls, found 17"]
    })
    expect(error.message).toBe(
      'table of asset "orders" does not match its row schema:\n' +
        "  amount: expected Float64, got Utf8\n" +
        "  customer_id: expected no nulls, found 17"
    )
  })
})

describe("validateStream", () => {
  it("validates the batches of a stream as they arrive", async () => {
    const table = concatenate(goodOrders(), goodOrders(3))
    expect(await Effect.runPromise(validateStream(Order, Stream.fromIterable(table.batches)))).toEqual({
      ok: true,
      rows: 6,
      batches: 2
    })
    const Row = Schema.Struct({ sku: Schema.String })
    const result = await Effect.runPromise(validateStream(Row, Stream.fromIterable(table.batches)))
    expect(!result.ok && result.diff).toEqual(["sku: missing column, expected Utf8 (dictionary accepted)"])
  })

  it("reports batches that are not Arrow record batches and keeps the stream's error", async () => {
    const Row = Schema.Struct({ id: Schema.Int })
    const foreign = await Effect.runPromise(validateStream(Row, Stream.make({ numRows: 2, schema: {} })))
    expect(foreign).toEqual({ ok: false, diff: ["1 batch is not Arrow record batches"], rows: 0, batches: 0 })
    const failing = validateStream(Row, Stream.fail("unreadable"))
    expect(await Effect.runPromise(Effect.flip(failing))).toBe("unreadable")
  })
})
