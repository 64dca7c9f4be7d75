/**
 * Arrow tables as IPC stream bytes, produced one record batch at a time so a writer can hash and
 * write each batch before encoding the next. Dictionary ids are renumbered by field order first:
 * apache-arrow draws them from a process-wide counter, so equal tables would otherwise differ in bytes.
 */
import {
  AsyncByteQueue,
  Data,
  type DataType,
  Dictionary,
  type Field,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  type Table,
  Vector
} from "apache-arrow"

/** Collects what the Arrow writer emits so it can be taken after each batch (no unbounded queue). */
class ChunkSink extends AsyncByteQueue {
  private pending: Array<Uint8Array> = []
  isClosed = false

  override write(value: Parameters<AsyncByteQueue["write"]>[0]): void {
    if (!(value instanceof Uint8Array)) throw new TypeError("the Arrow writer emitted a non-byte chunk")
    if (value.byteLength > 0) this.pending.push(value)
  }

  override close(): void {
    this.isClosed = true
    super.close()
  }

  take(): ReadonlyArray<Uint8Array> {
    const taken = this.pending
    this.pending = []
    return taken
  }
}

const hasDictionary = (type: DataType): boolean =>
  type instanceof Dictionary || (type.children ?? []).some((field: Field) => hasDictionary(field.type))

/** Maps batches of one schema to that schema with dictionary ids 0, 1, … in field order. */
export interface CanonicalSchema {
  readonly schema: Schema
  /** The batch with the canonical types (zero-copy: buffers are shared). */
  readonly batch: (batch: RecordBatch) => RecordBatch
}

/**
 * The canonical form of `schema`; every batch given to `batch` must have the same structure
 * (names, types, nullability), with any dictionary ids.
 */
export const canonicalSchema = (original: Schema): CanonicalSchema => {
  if (!original.fields.some((field) => hasDictionary(field.type)))
    return {
      schema: original,
      batch: (batch) =>
        batch.schema === original ? batch : new RecordBatch(original, batch.data, batch.metadata)
    }
  const ids = new Map<number, number>()
  const idFor = (old: number): number => {
    const known = ids.get(old)
    if (known !== undefined) return known
    ids.set(old, ids.size)
    return ids.size - 1
  }
  const mapType = (type: DataType): DataType => {
    if (type instanceof Dictionary)
      return new Dictionary(mapType(type.dictionary), type.indices, idFor(type.id), type.isOrdered)
    const children: ReadonlyArray<Field> = type.children ?? []
    if (!children.some((field) => hasDictionary(field.type))) return type
    // Same class and settings, new child fields: every nested type keeps its children in `children`.
    const copy: DataType = Object.assign(
      Object.create(Object.getPrototypeOf(type) as object) as DataType,
      type,
      {
        children: children.map((field) => field.clone({ type: mapType(field.type) }))
      }
    )
    return copy
  }
  const mapData = (data: Data, type: DataType): Data => {
    if (type === data.type) return data
    const childFields: ReadonlyArray<Field> = type instanceof Dictionary ? [] : (type.children ?? [])
    // Placeholder data of a zero-row table may have no children at all.
    const children = (data.children ?? []).map((child, i) =>
      childFields[i] ? mapData(child, childFields[i].type) : child
    )
    const dictionary =
      type instanceof Dictionary && data.dictionary !== undefined
        ? new Vector(data.dictionary.data.map((chunk) => mapData(chunk, type.dictionary)))
        : data.dictionary
    return new Data(type, data.offset, data.length, data.nullCount, data, children, dictionary)
  }
  const fields = original.fields.map((field) => field.clone({ type: mapType(field.type) }))
  const schema = new Schema(fields, original.metadata, undefined, original.metadataVersion)
  const struct = new Struct(fields)
  return {
    schema,
    batch: (batch) => new RecordBatch(schema, mapData(batch.data, struct) as Data<Struct>, batch.metadata)
  }
}

/**
 * An Arrow IPC stream encoder that hands out the bytes of each batch as soon as it is written (the
 * Arrow writer itself has no backpressure: its caller writes the bytes before the next batch).
 */
export interface IpcStreamEncoder {
  /** The schema message. */
  readonly header: () => ReadonlyArray<Uint8Array>
  /** The batch's dictionaries (new or changed ones) and body; chunks are views of its buffers. */
  readonly write: (batch: RecordBatch) => ReadonlyArray<Uint8Array>
  /** The end-of-stream marker. */
  readonly finish: () => ReadonlyArray<Uint8Array>
}

/** An IPC stream encoder for batches of `schema` (given in its canonical form, see `canonicalSchema`). */
export const ipcStreamEncoder = (schema: Schema): IpcStreamEncoder => {
  const sink = new ChunkSink()
  // The stream format, unlike the file format, allows a new dictionary per batch, as in tables
  // concatenated from several `tableFromArrays` results.
  const writer = new RecordBatchStreamWriter()
  return {
    header: () => {
      writer.reset(sink, schema)
      return sink.take()
    },
    write: (batch) => {
      writer.write(batch)
      // The writer closes itself, silently dropping later batches, when a batch's schema differs.
      if (sink.isClosed)
        throw new Error("the Arrow writer stopped: a record batch's schema differs from its table's")
      return sink.take()
    },
    finish: () => {
      writer.finish()
      return sink.take()
    }
  }
}

/**
 * One batch as a complete IPC stream of its own (schema, its dictionaries, the batch, end marker):
 * what parquet-wasm decodes, which must not depend on dictionaries sent with earlier batches.
 */
export const standaloneIpc = (schema: Schema, batch: RecordBatch): ReadonlyArray<Uint8Array> => {
  const encoder = ipcStreamEncoder(schema)
  return [...encoder.header(), ...encoder.write(batch), ...encoder.finish()]
}

/**
 * The Arrow IPC stream of `table` as groups of chunks: the schema, then one group per record batch
 * (its dictionaries and body; chunks are views of the table's buffers), then the end marker.
 */
export function* arrowIpcChunks(table: Table): Generator<ReadonlyArray<Uint8Array>> {
  const canonical = canonicalSchema(table.schema)
  const encoder = ipcStreamEncoder(canonical.schema)
  yield encoder.header()
  for (const batch of table.batches) yield encoder.write(canonical.batch(batch))
  yield encoder.finish()
}
