/**
 * The manifest stored beside every value the fs IO manager writes: its format, size and sha256,
 * and for tables the row count and a schema summary. Loads check the value file against it.
 */
import * as Schema from "effect/Schema"

/** The stored formats, each in its own file inside the attempt folder. */
export const ValueFormat = Schema.Literals(["arrow", "parquet", "bytes", "json"])
export type ValueFormat = typeof ValueFormat.Type

/** The value file's extension for each format: `value.arrow`, `value.parquet`, `value.bin`, `value.json`. */
export const extensionOf: Readonly<Record<ValueFormat, string>> = {
  arrow: "arrow",
  parquet: "parquet",
  bytes: "bin",
  json: "json"
}

/**
 * `manifest.json`, version 1. Arrow values are an Arrow IPC stream (schema, batches, end marker);
 * Parquet values a Parquet file whose `ARROW:schema` metadata holds the table's Arrow schema.
 */
export const Manifest = Schema.Struct({
  version: Schema.Literal(1),
  format: ValueFormat,
  file: Schema.String,
  bytes: Schema.Number,
  sha256: Schema.String,
  rows: Schema.optionalKey(Schema.Number),
  schema: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})
export type Manifest = typeof Manifest.Type

/** Decodes the text of a `manifest.json`. */
export const decodeManifest = Schema.decodeUnknownEffect(Schema.fromJsonString(Manifest))
