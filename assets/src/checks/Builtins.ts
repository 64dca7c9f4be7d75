/**
 * Built-in table checks (not empty, no nulls, unique, row count, value ranges, allowed values, row
 * count change) run as streaming aggregates over a check input's record batches: each batch is read
 * once and dropped, so memory stays bounded by one batch — except `unique`, which keeps one entry
 * per distinct key. Every result records what it observed (`row_count`, `null_count`, ...).
 */
import {
  type CheckInput,
  type CheckResult,
  type JsonValue,
  nearest,
  type RecordBatchLike
} from "@materia/core"
import type { RecordBatch } from "apache-arrow"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type ColumnVector, isNumeric, isRecordBatch } from "./ArrowTypes.ts"

/** A built-in check: its default name (e.g. `no_nulls(customer_id)`) and how it runs; it never fails. */
export interface BuiltinCheck {
  readonly name: string
  readonly run: (input: CheckInput) => Effect.Effect<CheckResult, never>
}

/** A built-in check defined with impossible options (`min` above `max`, no columns...). */
export class InvalidBuiltinCheck extends Data.TaggedError("InvalidBuiltinCheck")<{
  readonly check: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid check ${this.check}: ${this.reason}`
  }
}

/** A bound of `valuesInRange`: a number, a bigint (Int64 columns) or a Date (Timestamp and Date columns). */
export type Bound = number | bigint | Date

/** A value `valuesIn` may allow. */
export type AllowedValue = string | number | bigint | boolean

/** Passes when the table has at least one row. */
export const notEmpty = (): BuiltinCheck => ({
  name: "not_empty",
  run: (input) =>
    countRows(input, (rows) =>
      rows > 0 ? pass({ row_count: rows }) : fail("the table has no rows", { row_count: rows })
    )
})

/** Passes when none of the columns (every column when none is named) holds a null. */
export const noNulls = (...columns: ReadonlyArray<string>): BuiltinCheck => {
  const name = columns.length === 0 ? "no_nulls" : `no_nulls(${columns.join(", ")})`
  return {
    name,
    run: (input) => {
      const nulls = new Map<string, number>(columns.map((column) => [column, 0]))
      let rows = 0
      return aggregate(input, {
        step: (batch) => {
          const names = columns.length === 0 ? batch.schema.fields.map((field) => field.name) : columns
          rows += batch.numRows
          for (const column of names) {
            const vector = columnOf(batch, column)
            if (typeof vector === "string") return vector
            nulls.set(column, (nulls.get(column) ?? 0) + vector.nullCount)
          }
          return undefined
        },
        finish: () => {
          const total = sum(nulls.values())
          const metadata: Record<string, JsonValue> = { row_count: rows, null_count: total }
          if (nulls.size > 1) metadata.null_counts = Object.fromEntries(nulls)
          const offending = [...nulls].filter(([, count]) => count > 0)
          return offending.length === 0
            ? pass(metadata)
            : fail(
                offending.map(([column, count]) => `${column}: ${count} null${plural(count)}`).join("; "),
                metadata
              )
        }
      })
    }
  }
}

/**
 * Passes when no two rows share the same values in `columns` (one column: unique values; several: a
 * unique combination). Rows with a null in a key column are not compared (SQL `UNIQUE`): add
 * `noNulls` for a primary key. Exact: it holds one entry per distinct key in memory.
 */
export const unique = (...columns: ReadonlyArray<string>): BuiltinCheck => {
  const name = `unique(${columns.join(", ")})`
  if (columns.length === 0) throw new InvalidBuiltinCheck({ check: name, reason: "name at least one column" })
  return {
    name,
    run: (input) => {
      const seen = new Set<unknown>()
      const examples: Array<JsonValue> = []
      let rows = 0
      let duplicates = 0
      let nullKeys = 0
      return aggregate(input, {
        step: (batch) => {
          const vectors: Array<ColumnVector> = []
          for (const column of columns) {
            const vector = columnOf(batch, column)
            if (typeof vector === "string") return vector
            vectors.push(vector)
          }
          rows += batch.numRows
          const keys = rowKeys(vectors, batch.numRows)
          for (const key of keys) {
            if (key === null) {
              nullKeys++
            } else if (seen.has(key)) {
              duplicates++
              if (examples.length < EXAMPLES) examples.push(keyToJson(key, columns.length))
            } else {
              seen.add(key)
            }
          }
          return undefined
        },
        finish: () => {
          const metadata: Record<string, JsonValue> = {
            row_count: rows,
            duplicate_count: duplicates,
            distinct_count: seen.size
          }
          if (nullKeys > 0) metadata.null_key_rows = nullKeys
          if (duplicates === 0) return pass(metadata)
          metadata.duplicate_examples = examples
          const shown = examples.map((example) => JSON.stringify(example)).join(", ")
          return fail(`${duplicates} duplicate row${plural(duplicates)}, e.g. ${shown}`, metadata)
        }
      })
    }
  }
}

/** Passes when the row count is within `[min, max]` (both inclusive, each optional). */
export const rowCount = (options: { readonly min?: number; readonly max?: number }): BuiltinCheck => {
  const name = "row_count"
  checkBounds(name, options.min, options.max)
  return {
    name,
    run: (input) =>
      countRows(input, (rows) => {
        const metadata = { row_count: rows }
        if (options.min !== undefined && rows < options.min) {
          return fail(`row count ${rows} is below the minimum ${options.min}`, metadata)
        }
        if (options.max !== undefined && rows > options.max) {
          return fail(`row count ${rows} is above the maximum ${options.max}`, metadata)
        }
        return pass(metadata)
      })
  }
}

/**
 * Passes when every non-null value of a numeric column (integer, float, Timestamp or Date) lies in
 * `[min, max]` (inclusive). NaN is out of range. Dates compare as epoch milliseconds, as Arrow JS
 * reads Timestamp and Date columns.
 */
export const valuesInRange = (
  column: string,
  options: { readonly min?: Bound; readonly max?: Bound }
): BuiltinCheck => {
  const name = `values_in_range(${column})`
  const min = toComparable(options.min)
  const max = toComparable(options.max)
  checkBounds(name, min, max)
  return {
    name,
    run: (input) => {
      let rows = 0
      let outOfRange = 0
      let observedMin: number | bigint | undefined
      let observedMax: number | bigint | undefined
      return aggregate(input, {
        step: (batch) => {
          const vector = columnOf(batch, column)
          if (typeof vector === "string") return vector
          if (!isNumeric(vector.type))
            return `column "${column}" is ${String(vector.type)}, not a numeric column`
          rows += batch.numRows
          for (const value of vector) {
            if (typeof value !== "number" && typeof value !== "bigint") continue
            if (typeof value === "number" && Number.isNaN(value)) {
              outOfRange++
              continue
            }
            if (observedMin === undefined || value < observedMin) observedMin = value
            if (observedMax === undefined || value > observedMax) observedMax = value
            if ((min !== undefined && value < min) || (max !== undefined && value > max)) outOfRange++
          }
          return undefined
        },
        finish: () => {
          const metadata: Record<string, JsonValue> = {
            row_count: rows,
            min: numberToJson(observedMin),
            max: numberToJson(observedMax),
            out_of_range_count: outOfRange
          }
          if (outOfRange === 0) return pass(metadata)
          const range = `[${min === undefined ? "-∞" : String(min)}, ${max === undefined ? "∞" : String(max)}]`
          return fail(
            `${outOfRange} value${plural(outOfRange)} of ${column} outside ${range} (observed min ${String(observedMin)}, max ${String(observedMax)})`,
            metadata
          )
        }
      })
    }
  }
}

/**
 * Passes when every non-null value of `column` is one of `allowed`. Integer values compare equal
 * whether they read as number or bigint.
 */
export const valuesIn = (column: string, allowed: ReadonlyArray<AllowedValue>): BuiltinCheck => {
  const name = `values_in(${column})`
  if (allowed.length === 0) throw new InvalidBuiltinCheck({ check: name, reason: "allow at least one value" })
  const allowedSet = new Set<unknown>(allowed.map(normalize))
  return {
    name,
    run: (input) => {
      const unexpected = new Set<unknown>()
      let rows = 0
      let unexpectedCount = 0
      return aggregate(input, {
        step: (batch) => {
          const vector = columnOf(batch, column)
          if (typeof vector === "string") return vector
          rows += batch.numRows
          for (const value of vector) {
            if (value === null || value === undefined) continue
            const normalized = normalize(value)
            if (allowedSet.has(normalized)) continue
            unexpectedCount++
            if (unexpected.size < EXAMPLES) unexpected.add(normalized)
          }
          return undefined
        },
        finish: () => {
          const values = [...unexpected].map(scalarToJson)
          const metadata: Record<string, JsonValue> = {
            row_count: rows,
            unexpected_count: unexpectedCount,
            unexpected_values: values
          }
          if (unexpectedCount === 0) return pass(metadata)
          const shown = values.map((value) => JSON.stringify(value)).join(", ")
          return fail(
            `${unexpectedCount} value${plural(unexpectedCount)} of ${column} not in the allowed set, e.g. ${shown}`,
            metadata
          )
        }
      })
    }
  }
}

/**
 * Passes when the row count changed from the current materialization's (its `metadata.rows`) by at
 * most `maxDropPercent` down and `maxGrowthPercent` up. Passes with a note when there is no previous
 * materialization or it recorded no row count.
 */
export const rowCountChange = (options: {
  readonly maxDropPercent?: number
  readonly maxGrowthPercent?: number
}): BuiltinCheck => {
  const name = "row_count_change"
  for (const [option, value] of Object.entries(options)) {
    if (typeof value === "number" && !(value >= 0)) {
      throw new InvalidBuiltinCheck({
        check: name,
        reason: `${option} must be a percentage ≥ 0, got ${value}`
      })
    }
  }
  return {
    name,
    run: (input) => {
      const previous = input.previous
      const previousRows = previous?.metadata?.rows
      if (previous === undefined)
        return Effect.succeed({ passed: true, message: "no previous materialization" })
      if (typeof previousRows !== "number") {
        return Effect.succeed({
          passed: true,
          message: `the previous materialization (run ${previous.runId}) recorded no row count`
        })
      }
      return countRows(input, (rows) => {
        // From 0 rows, any growth is infinite: it has no percentage (JSON null).
        const change =
          previousRows === 0
            ? rows === 0
              ? 0
              : Number.POSITIVE_INFINITY
            : Math.round(((rows - previousRows) / previousRows) * 10_000) / 100
        const metadata: Record<string, JsonValue> = {
          row_count: rows,
          previous_row_count: previousRows,
          change_percent: Number.isFinite(change) ? change : null
        }
        const counts = `(${previousRows} → ${rows} rows)`
        if (options.maxDropPercent !== undefined && -change > options.maxDropPercent) {
          return fail(
            `row count dropped ${-change}% ${counts}, more than the allowed ${options.maxDropPercent}%`,
            metadata
          )
        }
        if (options.maxGrowthPercent !== undefined && change > options.maxGrowthPercent) {
          const grew = Number.isFinite(change) ? `grew ${change}%` : "grew from 0"
          return fail(
            `row count ${grew} ${counts}, more than the allowed ${options.maxGrowthPercent}%`,
            metadata
          )
        }
        return pass(metadata)
      })
    }
  }
}

/** How many unexpected values and duplicate keys a result shows. */
const EXAMPLES = 5

/**
 * One pass over the batches. `step` returns a message to stop early with a failed result (a missing
 * column); otherwise `finish` makes the result. A batch that cannot be read fails the check.
 */
interface Aggregate {
  readonly step: (batch: RecordBatch) => string | undefined
  readonly finish: () => CheckResult
}

class StopEarly extends Data.TaggedError("StopEarly")<{ readonly reason: string }> {}

const aggregate = (input: CheckInput, agg: Aggregate): Effect.Effect<CheckResult, never> =>
  Stream.runForEach(input.batches, (batch: RecordBatchLike) =>
    Effect.suspend(() => {
      if (!isRecordBatch(batch)) {
        return Effect.fail(new StopEarly({ reason: "the value's batches are not Arrow record batches" }))
      }
      // A batch the check cannot read (an unexpected value type) fails the check, not the run.
      return Effect.try({
        try: () => agg.step(batch),
        catch: (cause) => new StopEarly({ reason: `could not check a record batch: ${errorMessage(cause)}` })
      }).pipe(
        Effect.flatMap((stop) =>
          typeof stop === "string" ? Effect.fail(new StopEarly({ reason: stop })) : Effect.void
        )
      )
    })
  ).pipe(Effect.map(agg.finish), Effect.catch(readFailure))

/** Counts the rows of any batches (columns are not read), then makes the result. */
const countRows = (
  input: CheckInput,
  finish: (rows: number) => CheckResult
): Effect.Effect<CheckResult, never> =>
  Stream.runFold(
    input.batches,
    () => 0,
    (rows, batch: RecordBatchLike) => rows + batch.numRows
  ).pipe(Effect.map(finish), Effect.catch(readFailure))

const readFailure = (error: unknown): Effect.Effect<CheckResult> =>
  Effect.succeed(
    error instanceof StopEarly
      ? fail(error.reason)
      : fail(`could not read the value's record batches: ${errorMessage(error)}`)
  )

/** The column, or a message naming the nearest and the existing columns. */
const columnOf = (batch: RecordBatch, column: string): ColumnVector | string => {
  const vector: ColumnVector | null = batch.getChild(column)
  if (vector !== null) return vector
  const existing = batch.schema.fields.map((field) => field.name)
  const near = nearest(column, existing)
  const hint = near.length > 0 ? ` (did you mean "${near[0]}"?)` : ""
  const names = existing.length > 0 ? existing.map((name) => `"${name}"`).join(", ") : "(none)"
  return `column "${column}" does not exist${hint}; the table's columns are ${names}`
}

/** Each row's key: the value itself for one column, a JSON tuple for several; `null` when a key column is null. */
const rowKeys = (vectors: ReadonlyArray<ColumnVector>, rows: number): Array<unknown> => {
  const iterators = vectors.map((vector) => vector[Symbol.iterator]())
  const keys: Array<unknown> = new Array(rows)
  for (let row = 0; row < rows; row++) {
    if (iterators.length === 1) {
      const value = iterators[0]!.next().value
      keys[row] = value === null || value === undefined ? null : keyPart(value)
      continue
    }
    const parts: Array<unknown> = []
    let hasNull = false
    for (const iterator of iterators) {
      const value = iterator.next().value
      if (value === null || value === undefined) hasNull = true
      else parts.push(keyPart(value))
    }
    keys[row] = hasNull ? null : JSON.stringify(parts, jsonReplacer)
  }
  return keys
}

/** A value as a Set key: primitives as they are (a column holds one type), others encoded. */
const keyPart = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")
  return JSON.stringify(value, jsonReplacer)
}

const keyToJson = (key: unknown, columns: number): JsonValue =>
  columns === 1 ? scalarToJson(key) : typeof key === "string" ? (JSON.parse(key) as JsonValue) : null

const jsonReplacer = (_key: string, value: unknown): unknown =>
  typeof value === "bigint" ? value.toString() : value

/** Safe integers compare equal whether they read as number or bigint. */
const normalize = (value: unknown): unknown =>
  typeof value === "bigint" &&
  value >= BigInt(Number.MIN_SAFE_INTEGER) &&
  value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value

const scalarToJson = (value: unknown): JsonValue => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) ? value : String(value)
    case "bigint":
      return numberToJson(value)
    default:
      return value === null || value === undefined ? null : String(value)
  }
}

/** A number as JSON; a bigint as a number when it is exact, else as a string. */
const numberToJson = (value: number | bigint | undefined): JsonValue => {
  if (value === undefined) return null
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value)
  const asNumber = Number(value)
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString()
}

const toComparable = (bound: Bound | undefined): number | bigint | undefined =>
  bound instanceof Date ? bound.getTime() : bound

const checkBounds = (
  check: string,
  min: number | bigint | undefined,
  max: number | bigint | undefined
): void => {
  if (min !== undefined && max !== undefined && min > max) {
    throw new InvalidBuiltinCheck({ check, reason: `min ${String(min)} is above max ${String(max)}` })
  }
}

const pass = (metadata: Readonly<Record<string, JsonValue>>): CheckResult => ({ passed: true, metadata })

const fail = (message: string, metadata?: Readonly<Record<string, JsonValue>>): CheckResult =>
  metadata === undefined ? { passed: false, message } : { passed: false, message, metadata }

const sum = (values: Iterable<number>): number => {
  let total = 0
  for (const value of values) total += value
  return total
}

const plural = (count: number): string => (count === 1 ? "" : "s")

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error))
