/**
 * Arrow type ids and structural guards for reading Arrow values without loading apache-arrow at
 * runtime: only its types are imported, so `@materia/assets` stays free of Arrow until a table
 * check runs on a table a body made.
 */

import type { RecordBatchLike } from "@materia/core"
import type { DataType, Dictionary, Int, RecordBatch, Type } from "apache-arrow"

/** Arrow's `Type` ids (from the Arrow format's Schema.fbs); `satisfies` proves each against apache-arrow. */
export const TypeId = {
  Null: 1 satisfies Type.Null,
  Int: 2 satisfies Type.Int,
  Float: 3 satisfies Type.Float,
  Utf8: 5 satisfies Type.Utf8,
  Bool: 6 satisfies Type.Bool,
  Date: 8 satisfies Type.Date,
  Timestamp: 10 satisfies Type.Timestamp,
  LargeUtf8: 20 satisfies Type.LargeUtf8,
  Utf8View: 24 satisfies Type.Utf8View,
  Dictionary: -1 satisfies Type.Dictionary
} as const

/** A dictionary-encoded type (`tableFromArrays` makes one for every string column). */
export const isDictionary = (type: DataType): type is Dictionary => type.typeId === TypeId.Dictionary

/** An integer type of any width and signedness. */
export const isInt = (type: DataType): type is Int => type.typeId === TypeId.Int

/** The type of a column's values: the dictionary's value type for a dictionary-encoded column. */
export const valueType = (type: DataType): DataType => (isDictionary(type) ? type.dictionary : type)

/** Columns whose values read as JS numbers or bigints: integers, floats, timestamps and dates (epoch ms). */
export const isNumeric = (type: DataType): boolean => {
  const id = valueType(type).typeId
  return id === TypeId.Int || id === TypeId.Float || id === TypeId.Timestamp || id === TypeId.Date
}

/** The parts of an Arrow column the built-in checks read; every Arrow `Vector` has them. */
export interface ColumnVector extends Iterable<unknown> {
  readonly length: number
  readonly nullCount: number
  readonly type: DataType
}

/** True when a streamed batch is an Arrow `RecordBatch` (it has columns to read, not only a row count). */
export const isRecordBatch = (batch: RecordBatchLike): batch is RecordBatch =>
  "getChild" in batch &&
  typeof batch.getChild === "function" &&
  typeof batch.schema === "object" &&
  batch.schema !== null &&
  "fields" in batch.schema &&
  Array.isArray(batch.schema.fields)
