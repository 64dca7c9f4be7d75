/**
 * A body's stream of Arrow record batches (an `AsyncIterable`, e.g. an `async function*`) turned
 * into the bytes the fs and S3 IO managers store, Arrow IPC or Parquet, one batch at a time: the
 * next batch is pulled only once the bytes of the previous one were taken (and, by the managers,
 * written or uploaded), so memory stays bounded whatever the table's size. Rows and schema are
 * known once the stream has ended.
 */
import { RecordBatch, type Schema, Table } from "apache-arrow"
import { canonicalSchema, ipcStreamEncoder } from "./fs/ArrowIpc.ts"
import { parquetChunks } from "./fs/Parquet.ts"

/** How a table is stored: an Arrow IPC stream or a Parquet file. */
export type TableFormat = "arrow" | "parquet"

/** What is known of a stored table once its bytes were produced. */
export interface TableSummary {
  readonly rows: number
  /** Field name → Arrow type. */
  readonly schema: Readonly<Record<string, string>>
}

/** The byte chunks of a stream, group by group, and its summary once they are all taken. */
export interface EncodedBatchStream {
  readonly format: TableFormat
  readonly chunks: AsyncIterable<ReadonlyArray<Uint8Array>>
  /** Rows and schema; only valid after `chunks` ended. */
  readonly summary: () => TableSummary
}

/** Whether `value` is an async iterable to store as a stream of record batches (not a table, bytes or string). */
export const isBatchStream = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"

/** Field name → Arrow type, as stored in manifests and metadata. */
export const schemaSummary = (schema: Schema): Record<string, string> => {
  const summary: Record<string, string> = {}
  for (const field of schema.fields) summary[field.name] = String(field.type)
  return summary
}

/** The structure two batches must share to be one table: names, types (not dictionary ids), nullability. */
const structureOf = (schema: Schema): string =>
  schema.fields.map((field) => `${field.name}:${String(field.type)}:${field.nullable}`).join(",")

/** A stream that is not one table's record batches; the message says which item and why. */
export class BatchStreamError extends Error {
  override readonly name = "BatchStreamError"
}

const describeItem = (item: unknown): string => {
  if (item === null) return "null"
  if (typeof item !== "object") return `a ${typeof item}`
  const name = (item as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === "string" && name !== "Object" ? `an object of class ${name}` : "an object"
}

/**
 * The record batches of `source`, checked (each a RecordBatch, or a Table whose batches are taken in
 * order, of the first batch's structure) and counted into `state`. The source's own failures are
 * reported as such, with the number of batches it had yielded.
 */
async function* checkedBatches(
  source: AsyncIterable<unknown>,
  state: { rows: number; batches: number; first?: { schema: Schema; structure: string } }
): AsyncGenerator<RecordBatch> {
  const iterator = source[Symbol.asyncIterator]()
  let done = false
  /** Items yielded so far (a Table item counts once, however many batches it has). */
  let items = 0
  try {
    for (;;) {
      let next: IteratorResult<unknown>
      try {
        next = await iterator.next()
      } catch (cause) {
        done = true
        throw new BatchStreamError(
          `the stream of record batches failed after ${items} item(s): ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause }
        )
      }
      if (next.done === true) {
        done = true
        break
      }
      const item = next.value
      items++
      const batches: ReadonlyArray<RecordBatch> =
        item instanceof RecordBatch ? [item] : item instanceof Table ? item.batches : []
      if (!(item instanceof RecordBatch) && !(item instanceof Table)) {
        const foreign =
          typeof item === "object" &&
          item !== null &&
          typeof (item as { numRows?: unknown }).numRows === "number" &&
          typeof (item as { schema?: { fields?: unknown } }).schema?.fields === "object"
        throw new BatchStreamError(
          foreign
            ? `item ${items} of the stream is a record batch made by another copy of apache-arrow; build it with the apache-arrow that @materia/io-managers uses (21.2.0), e.g. by deduplicating the dependency`
            : `item ${items} of the stream is ${describeItem(item)}, expected an Apache Arrow RecordBatch (or Table); yield record batches from the body's async generator`
        )
      }
      const schema = item.schema
      const structure = structureOf(schema)
      if (state.first === undefined) state.first = { schema, structure }
      else if (structure !== state.first.structure)
        throw new BatchStreamError(
          `item ${items} of the stream has the schema {${structure}}, but the first batch has {${state.first.structure}}; every batch of one table must have the same column names, types and nullability`
        )
      for (const batch of batches) {
        state.batches++
        state.rows += batch.numRows
        yield batch
      }
    }
    if (state.first === undefined)
      throw new BatchStreamError(
        "the stream of record batches ended without a batch, so the table has no schema; yield at least one RecordBatch (a zero-row batch of the table's schema for an empty table)"
      )
  } finally {
    // Stopping early (a failed write, an interruption) ends the body's generator too.
    if (!done) await iterator.return?.(undefined)
  }
}

/** Arrow IPC stream groups: the schema with the first batch's bytes, one group per batch, the end marker. */
async function* arrowIpcStream(
  batches: AsyncIterable<RecordBatch>,
  schemaOf: () => Schema | undefined
): AsyncGenerator<ReadonlyArray<Uint8Array>> {
  let encoder: ReturnType<typeof ipcStreamEncoder> | undefined
  let canonical: ReturnType<typeof canonicalSchema> | undefined
  for await (const batch of batches) {
    if (encoder === undefined || canonical === undefined) {
      canonical = canonicalSchema(batch.schema)
      encoder = ipcStreamEncoder(canonical.schema)
      yield [...encoder.header(), ...encoder.write(canonical.batch(batch))]
    } else yield encoder.write(canonical.batch(batch))
  }
  if (encoder === undefined) {
    // Only empty tables were yielded: their schema still makes a valid, empty stream.
    const schema = schemaOf()
    if (schema === undefined) return
    encoder = ipcStreamEncoder(canonicalSchema(schema).schema)
    yield encoder.header()
  }
  yield encoder.finish()
}

/**
 * Encodes a stream of record batches as `format`, batch by batch. The bytes equal those of the
 * table made of the same batches, so a stream and a table with the same content share a data version.
 */
export const encodeBatchStream = (
  source: AsyncIterable<unknown>,
  format: TableFormat
): EncodedBatchStream => {
  const state: { rows: number; batches: number; first?: { schema: Schema; structure: string } } = {
    rows: 0,
    batches: 0
  }
  const schemaOf = () => state.first?.schema
  return {
    format,
    chunks: {
      [Symbol.asyncIterator]: () =>
        format === "parquet"
          ? parquetChunks(checkedBatches(source, state), schemaOf)
          : arrowIpcStream(checkedBatches(source, state), schemaOf)
    },
    summary: () => ({
      rows: state.rows,
      schema: state.first === undefined ? {} : schemaSummary(state.first.schema)
    })
  }
}
