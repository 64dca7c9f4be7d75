import type { CheckInput, CheckResult, MaterializationRecord, RecordBatchLike } from "@materia/core"
import { type Table, tableFromArrays, tableFromJSON } from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { describe, expect, it } from "vitest"
import {
  type BuiltinCheck,
  InvalidBuiltinCheck,
  noNulls,
  notEmpty,
  rowCount,
  rowCountChange,
  unique,
  valuesIn,
  valuesInRange
} from "./Builtins.ts"

const inputOf = (table: Table, previous?: MaterializationRecord): CheckInput => ({
  assetKey: "orders",
  value: Effect.succeed(table),
  batches: Stream.fromIterable(table.batches),
  previous,
  metadata: { rows: table.numRows }
})

const run = (check: BuiltinCheck, table: Table, previous?: MaterializationRecord): Promise<CheckResult> =>
  Effect.runPromise(check.run(inputOf(table, previous)))

const previousWith = (metadata?: Record<string, number>): MaterializationRecord => ({
  key: "orders",
  runId: "run-1",
  at: 0,
  handle: null,
  dataVersion: "v1",
  codeVersion: "c1",
  inputVersions: {},
  ...(metadata === undefined ? {} : { metadata })
})

/** One table with the batches of all, whatever their column types. */
const concatenate = (first: Table, ...rest: ReadonlyArray<Table>): Table => first.concat(...rest)

/** Two batches: the second repeats order 2 and has nulls. */
const orders = (): Table =>
  tableFromArrays({
    order_id: Int32Array.from([1, 2, 3]),
    customer_id: ["c1", "c2", "c1"],
    amount: [10, 20.5, 30],
    region: ["eu", "us", "eu"]
  }).concat(
    tableFromArrays({
      order_id: Int32Array.from([4, 2]),
      customer_id: [null, "c3"],
      amount: [null, -5],
      region: ["eu", "apac"]
    })
  )

const empty = (): Table => tableFromArrays({ order_id: Int32Array.from([]) })

describe("notEmpty", () => {
  it("passes with the row count of every batch", async () => {
    const table = orders()
    expect(table.batches).toHaveLength(2)
    expect(await run(notEmpty(), table)).toEqual({ passed: true, metadata: { row_count: 5 } })
  })

  it("fails on a table with no rows", async () => {
    expect(await run(notEmpty(), empty())).toEqual({
      passed: false,
      message: "the table has no rows",
      metadata: { row_count: 0 }
    })
  })
})

describe("noNulls", () => {
  it("counts nulls over every batch and names the column", async () => {
    const check = noNulls("customer_id")
    expect(check.name).toBe("no_nulls(customer_id)")
    expect(await run(check, orders())).toEqual({
      passed: false,
      message: "customer_id: 1 null",
      metadata: { row_count: 5, null_count: 1 }
    })
    expect(await run(noNulls("order_id"), orders())).toEqual({
      passed: true,
      metadata: { row_count: 5, null_count: 0 }
    })
  })

  it("checks several columns, or every column when none is named", async () => {
    const several = await run(noNulls("customer_id", "amount", "region"), orders())
    expect(several).toEqual({
      passed: false,
      message: "customer_id: 1 null; amount: 1 null",
      metadata: { row_count: 5, null_count: 2, null_counts: { customer_id: 1, amount: 1, region: 0 } }
    })
    const all = noNulls()
    expect(all.name).toBe("no_nulls")
    expect((await run(all, orders())).metadata?.null_counts).toEqual({
      order_id: 0,
      customer_id: 1,
      amount: 1,
      region: 0
    })
  })

  it("fails on a column that does not exist, naming the existing ones", async () => {
    expect(await run(noNulls("customer"), orders())).toEqual({
      passed: false,
      message:
        'column "customer" does not exist (did you mean "customer_id"?); the table\'s columns are "order_id", "customer_id", "amount", "region"'
    })
  })
})

describe("unique", () => {
  it("finds a key repeated in a later batch", async () => {
    const result = await run(unique("order_id"), orders())
    expect(result).toEqual({
      passed: false,
      message: "1 duplicate row, e.g. 2",
      metadata: { row_count: 5, duplicate_count: 1, distinct_count: 4, duplicate_examples: [2] }
    })
  })

  it("compares combinations of several columns and skips rows with a null key", async () => {
    const table = concatenate(
      tableFromJSON([
        { customer_id: "c1", region: "eu" },
        { customer_id: "c1", region: "us" },
        { customer_id: null, region: "us" },
        { customer_id: null, region: "us" }
      ]),
      tableFromJSON([{ customer_id: "c1", region: "eu" }])
    )
    const check = unique("customer_id", "region")
    expect(check.name).toBe("unique(customer_id, region)")
    expect(await run(check, table)).toEqual({
      passed: false,
      message: '1 duplicate row, e.g. ["c1","eu"]',
      metadata: {
        row_count: 5,
        duplicate_count: 1,
        distinct_count: 2,
        null_key_rows: 2,
        duplicate_examples: [["c1", "eu"]]
      }
    })
    expect((await run(unique("region"), tableFromJSON([{ region: "eu" }, { region: "us" }]))).passed).toBe(
      true
    )
  })

  it("must name a column", () => {
    expect(() => unique()).toThrow(InvalidBuiltinCheck)
  })
})

describe("rowCount", () => {
  it("passes within the bounds and says which bound a count breaks", async () => {
    expect(await run(rowCount({ min: 5, max: 5 }), orders())).toEqual({
      passed: true,
      metadata: { row_count: 5 }
    })
    expect(await run(rowCount({ min: 10 }), orders())).toEqual({
      passed: false,
      message: "row count 5 is below the minimum 10",
      metadata: { row_count: 5 }
    })
    expect((await run(rowCount({ max: 4 }), orders())).message).toBe("row count 5 is above the maximum 4")
  })

  it("rejects min above max when it is defined", () => {
    expect(() => rowCount({ min: 3, max: 1 })).toThrow("invalid check row_count: min 3 is above max 1")
  })
})

describe("valuesInRange", () => {
  it("records the observed min and max and counts values out of range, nulls ignored", async () => {
    const check = valuesInRange("amount", { min: 0 })
    expect(check.name).toBe("values_in_range(amount)")
    expect(await run(check, orders())).toEqual({
      passed: false,
      message: "1 value of amount outside [0, ∞] (observed min -5, max 30)",
      metadata: { row_count: 5, min: -5, max: 30, out_of_range_count: 1 }
    })
    expect((await run(valuesInRange("amount", { min: -5, max: 30 }), orders())).passed).toBe(true)
  })

  it("counts NaN out of range and compares bigint columns", async () => {
    const table = tableFromArrays({ score: [0.5, Number.NaN], big: BigInt64Array.from([1n, 2n ** 60n]) })
    expect((await run(valuesInRange("score", { max: 1 }), table)).metadata?.out_of_range_count).toBe(1)
    const big = await run(valuesInRange("big", { max: 2n ** 53n }), table)
    expect(big).toEqual({
      passed: false,
      message: "1 value of big outside [-∞, 9007199254740992] (observed min 1, max 1152921504606846976)",
      metadata: { row_count: 2, min: 1, max: "1152921504606846976", out_of_range_count: 1 }
    })
  })

  it("compares timestamps with Date bounds", async () => {
    const table = tableFromArrays({ at: [new Date("2024-01-01"), new Date("2025-06-01")] })
    const result = await run(valuesInRange("at", { max: new Date("2024-12-31") }), table)
    expect(result.passed).toBe(false)
    expect(result.metadata?.max).toBe(new Date("2025-06-01").getTime())
  })

  it("fails on a column that is not numeric", async () => {
    expect(await run(valuesInRange("region", { min: 0 }), orders())).toEqual({
      passed: false,
      message: 'column "region" is Dictionary<Int32, Utf8>, not a numeric column'
    })
  })
})

describe("valuesIn", () => {
  it("lists the first unexpected values and counts them all", async () => {
    const check = valuesIn("region", ["eu", "us"])
    expect(check.name).toBe("values_in(region)")
    expect(await run(check, orders())).toEqual({
      passed: false,
      message: '1 value of region not in the allowed set, e.g. "apac"',
      metadata: { row_count: 5, unexpected_count: 1, unexpected_values: ["apac"] }
    })
    expect((await run(valuesIn("region", ["eu", "us", "apac"]), orders())).passed).toBe(true)
  })

  it("keeps at most five distinct examples", async () => {
    const table = tableFromArrays({ code: Int32Array.from({ length: 100 }, (_, i) => i % 10) })
    const result = await run(valuesIn("code", [0, 1]), table)
    expect(result.metadata).toEqual({
      row_count: 100,
      unexpected_count: 80,
      unexpected_values: [2, 3, 4, 5, 6]
    })
  })

  it("matches integers read as bigint against numbers", async () => {
    const table = tableFromArrays({ level: BigInt64Array.from([1n, 2n, 3n]) })
    const result = await run(valuesIn("level", [1, 2n]), table)
    expect(result.metadata).toEqual({ row_count: 3, unexpected_count: 1, unexpected_values: [3] })
  })
})

describe("rowCountChange", () => {
  it("passes with a note when there is no previous materialization or it recorded no rows", async () => {
    const check = rowCountChange({ maxDropPercent: 50 })
    expect(await run(check, orders())).toEqual({ passed: true, message: "no previous materialization" })
    expect(await run(check, orders(), previousWith())).toEqual({
      passed: true,
      message: "the previous materialization (run run-1) recorded no row count"
    })
  })

  it("fails on a drop larger than allowed", async () => {
    const result = await run(rowCountChange({ maxDropPercent: 50 }), orders(), previousWith({ rows: 20 }))
    expect(result).toEqual({
      passed: false,
      message: "row count dropped 75% (20 → 5 rows), more than the allowed 50%",
      metadata: { row_count: 5, previous_row_count: 20, change_percent: -75 }
    })
    expect(
      (await run(rowCountChange({ maxDropPercent: 80 }), orders(), previousWith({ rows: 20 }))).passed
    ).toBe(true)
  })

  it("fails on growth larger than allowed, growth from zero included", async () => {
    const grew = await run(rowCountChange({ maxGrowthPercent: 10 }), orders(), previousWith({ rows: 4 }))
    expect(grew.message).toBe("row count grew 25% (4 → 5 rows), more than the allowed 10%")
    expect(grew.metadata?.change_percent).toBe(25)
    const fromZero = await run(rowCountChange({ maxGrowthPercent: 10 }), orders(), previousWith({ rows: 0 }))
    expect(fromZero).toEqual({
      passed: false,
      message: "row count grew from 0 (0 → 5 rows), more than the allowed 10%",
      metadata: { row_count: 5, previous_row_count: 0, change_percent: null }
    })
  })

  it("rejects a negative percentage when it is defined", () => {
    expect(() => rowCountChange({ maxDropPercent: -1 })).toThrow(InvalidBuiltinCheck)
  })
})

describe("reading the batches", () => {
  it("turns a failing stream into a failed result, never a failed effect", async () => {
    const input: CheckInput = {
      ...inputOf(orders()),
      batches: Stream.concat(Stream.fromIterable(orders().batches), Stream.fail(new Error("disk on fire")))
    }
    expect(await Effect.runPromise(notEmpty().run(input))).toEqual({
      passed: false,
      message: "could not read the value's record batches: disk on fire"
    })
  })

  it("reads row counts of any batch but columns only of Arrow record batches", async () => {
    const batches: Array<RecordBatchLike> = [{ numRows: 3, schema: {} }]
    const input: CheckInput = { ...inputOf(orders()), batches: Stream.fromIterable(batches) }
    expect(await Effect.runPromise(rowCount({ min: 3 }).run(input))).toEqual({
      passed: true,
      metadata: { row_count: 3 }
    })
    expect(await Effect.runPromise(noNulls("a").run(input))).toEqual({
      passed: false,
      message: "the value's batches are not Arrow record batches"
    })
  })

  it("turns a batch it cannot read into a failed result", async () => {
    const table = tableFromArrays({ id: Int32Array.from([1]) })
    const batch = table.batches[0]!
    const broken = Object.assign(Object.create(batch) as typeof batch, {
      getChild: () => {
        throw new Error("corrupt buffer")
      }
    })
    const input: CheckInput = { ...inputOf(table), batches: Stream.make(broken) }
    expect(await Effect.runPromise(unique("id").run(input))).toEqual({
      passed: false,
      message: "could not check a record batch: corrupt buffer"
    })
  })

  it("stops reading at a missing column", async () => {
    let pulled = 0
    const batches = Stream.fromIterable(orders().batches).pipe(Stream.tap(() => Effect.sync(() => pulled++)))
    const result = await Effect.runPromise(noNulls("nope").run({ ...inputOf(orders()), batches }))
    expect(result.passed).toBe(false)
    expect(pulled).toBe(1)
  })
})
