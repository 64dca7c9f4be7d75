/**
 * How the fs IO manager turns a value into bytes: an Arrow table into an Arrow IPC stream (see
 * ArrowIpc) or a Parquet file (see Parquet), a stream of record batches likewise (see BatchStream), a `Uint8Array` as is, anything else as JSON after
 * checking that JSON represents it exactly. Encoding is lazy so that the writer hashes and writes chunk by chunk.
 */
import { isArrowTable, type JsonValue, type StoredValue } from "@materia/core"
import { Table } from "apache-arrow"
import { encodeBatchStream, isBatchStream, schemaSummary, type TableFormat } from "../BatchStream.ts"
import { arrowIpcChunks } from "./ArrowIpc.ts"
import type { Manifest, ValueFormat } from "./Manifest.ts"
import { parquetChunksOfTable } from "./Parquet.ts"

export type { TableFormat } from "../BatchStream.ts"

/** The table formats, for checking a format given at run time. */
export const tableFormats: ReadonlyArray<TableFormat> = ["arrow", "parquet"]

/** A value ready to write: its format and the byte chunks to write, group by group. */
export interface EncodedValue {
  readonly format: ValueFormat
  /**
   * One group per write (an Arrow record batch, a Parquet row group, or a slice of bytes); may
   * throw while iterating. Parquet is produced asynchronously (in wasm).
   */
  readonly chunks: Iterable<ReadonlyArray<Uint8Array>> | AsyncIterable<ReadonlyArray<Uint8Array>>
  /** For tables, once `chunks` ended: rows and field name → Arrow type (a stream's are known only then). */
  readonly summary?: () => { readonly rows: number; readonly schema: Readonly<Record<string, string>> }
}

/** The manifest of a value once its bytes are written (a stream's rows and schema are known only then). */
export const manifestOf = (encoded: EncodedValue, file: string, bytes: number, sha256: string): Manifest => {
  const table = encoded.summary?.()
  return {
    version: 1,
    format: encoded.format,
    file,
    bytes,
    sha256,
    ...(table === undefined ? {} : { rows: table.rows, schema: table.schema })
  }
}

/**
 * What a write returns once its bytes are stored: the handle, the data version (the first 128 bits
 * of the sha256 of the stored bytes, the same on every IO manager) and the metadata (bytes; rows
 * and schema for a table). One definition for the fs and S3 IO managers.
 */
export const storedValueOf = (
  ioManager: string,
  location: string,
  encoded: EncodedValue,
  sha256: string,
  bytes: number
): StoredValue => {
  const table = encoded.summary?.()
  const metadata: Record<string, JsonValue> = { bytes }
  if (table !== undefined) {
    metadata.rows = table.rows
    metadata.schema = { ...table.schema }
  }
  return {
    handle: { ioManager, location, format: encoded.format },
    dataVersion: sha256.slice(0, 32),
    metadata
  }
}

/** Slices of at most this many bytes are written (and hashed) one at a time. */
const SLICE_BYTES = 8 * 1024 * 1024

function* slices(bytes: Uint8Array): Generator<ReadonlyArray<Uint8Array>> {
  for (let offset = 0; offset < bytes.byteLength; offset += SLICE_BYTES)
    yield [bytes.subarray(offset, Math.min(offset + SLICE_BYTES, bytes.byteLength))]
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const describeObject = (value: object): string => {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === "string" && name.length > 0
    ? `an object of class ${name}`
    : "an object with a prototype"
}

/**
 * What keeps `value` from being stored as JSON exactly, with where it is (`$.a[0]`), or `undefined`.
 * Undefined object properties are allowed and omitted, as `JSON.stringify` does.
 */
export const jsonProblem = (
  value: unknown,
  path = "$",
  ancestors: Set<object> = new Set()
): string | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(value)
        ? undefined
        : `the number ${value} at ${path} (JSON has no NaN or Infinity)`
    case "bigint":
      return `a bigint at ${path} (convert it to a number or a string)`
    case "function":
      return `a function at ${path}`
    case "symbol":
      return `a symbol at ${path}`
    case "undefined":
      return `undefined at ${path}`
  }
  if (value === null) return undefined
  const object = value as object
  if (ancestors.has(object)) return `a cycle at ${path} (it contains itself)`
  ancestors.add(object)
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        const problem = jsonProblem(object[i], `${path}[${i}]`, ancestors)
        if (problem !== undefined) return problem
      }
      return undefined
    }
    const proto = Object.getPrototypeOf(object)
    if (proto !== Object.prototype && proto !== null) return `${describeObject(object)} at ${path}`
    for (const [key, item] of Object.entries(object)) {
      if (item === undefined) continue
      const at = IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
      const problem = jsonProblem(item, at, ancestors)
      if (problem !== undefined) return problem
    }
    return undefined
  } finally {
    ancestors.delete(object)
  }
}

/** What a value is, for a refusal: `an object`, `bytes (a Uint8Array)`, `a string`, `null`. */
const describeValue = (value: unknown): string => {
  if (value === null) return "null"
  if (value === undefined) return "undefined"
  if (value instanceof Uint8Array) return "bytes (a Uint8Array)"
  if (Array.isArray(value)) return "an array"
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value)
    return proto === Object.prototype || proto === null ? "an object" : describeObject(value)
  }
  return `a ${typeof value}`
}

/** How `encodeValue` stores tables. */
export interface EncodeOptions {
  /** The format of a table (default `arrow`). */
  readonly tableFormat?: TableFormat | undefined
  /** Accept only a table: the asset named its table format, so anything else is a mistake. */
  readonly tablesOnly?: boolean | undefined
}

/** Encodes `value`, or returns why it cannot be stored (a reason for an `IOManagerError`). */
export const encodeValue = (
  value: unknown,
  options: EncodeOptions = {}
): EncodedValue | { readonly problem: string } => {
  const tableFormat = options.tableFormat ?? "arrow"
  if (value instanceof Table) {
    const summary = { rows: value.numRows, schema: schemaSummary(value.schema) }
    return {
      format: tableFormat,
      chunks:
        tableFormat === "parquet"
          ? { [Symbol.asyncIterator]: () => parquetChunksOfTable(value) }
          : { [Symbol.iterator]: () => arrowIpcChunks(value) },
      summary: () => summary
    }
  }
  // A body's `async function*` of record batches: stored batch by batch (see BatchStream).
  if (isBatchStream(value)) return encodeBatchStream(value, tableFormat)
  if (isArrowTable(value))
    return {
      problem:
        "found an Arrow table made by another copy of apache-arrow; build it with the apache-arrow that @materia/io-managers uses (21.2.0), e.g. by deduplicating the dependency"
    }
  if (options.tablesOnly === true)
    return {
      problem: `expected an Arrow table for format ${tableFormat}, found ${describeValue(value)}; return an Apache Arrow Table (e.g. tableFromArrays) or an async iterable of record batches, or remove the asset's format option to store other values`
    }
  if (value instanceof Uint8Array)
    return { format: "bytes", chunks: { [Symbol.iterator]: () => slices(value) } }
  const problem = jsonProblem(value)
  if (problem !== undefined)
    return {
      problem: `expected an Arrow table, bytes or a JSON value, found ${problem}; return an Arrow table, a Uint8Array, or plain JSON (objects, arrays, strings, finite numbers, booleans, null)`
    }
  const bytes = Buffer.from(JSON.stringify(value), "utf8")
  return { format: "json", chunks: { [Symbol.iterator]: () => slices(bytes) } }
}

/** Parses the verified bytes of a `value.json`. */
export const decodeJson = (bytes: Uint8Array): unknown =>
  JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"))
