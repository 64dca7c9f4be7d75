/**
 * Arrow tables to and from Parquet through parquet-wasm (loaded on first use), streamed: each record
 * batch crosses into wasm as Arrow IPC stream bytes and the file comes out one row group at a time;
 * reads come back row group by row group. Every wasm object is either handed on or freed.
 */
import { type RecordBatch, type Schema, Table, tableFromIPC } from "apache-arrow"
import type * as ParquetWasm from "parquet-wasm"
import { canonicalSchema, ipcStreamEncoder, standaloneIpc } from "./ArrowIpc.ts"

/** Rows in one row group at most (parquet-rs's default). */
const ROW_GROUP_ROWS = 1024 * 1024
/** Encoded bytes a row group may buffer in wasm before it is flushed: bounds memory for wide rows. */
const ROW_GROUP_BYTES = 64 * 1024 * 1024
/** Rows in each record batch read back. */
const READ_BATCH_ROWS = 64 * 1024

let loading: Promise<typeof ParquetWasm> | undefined
/** parquet-wasm compiles a ~6 MB wasm module on import: only when a Parquet value is written or read. */
const parquetWasm = (): Promise<typeof ParquetWasm> => {
  loading ??= import("parquet-wasm")
  return loading
}

/** Snappy (what most writers default to; DuckDB, Spark, pyarrow and hyparquet read it), bounded row groups. */
const writerProperties = (wasm: typeof ParquetWasm): ParquetWasm.WriterProperties =>
  new wasm.WriterPropertiesBuilder()
    .setCompression(wasm.Compression.SNAPPY)
    .setMaxRowGroupSize(ROW_GROUP_ROWS)
    .setMaxRowGroupBytes(ROW_GROUP_BYTES)
    .build()

const concatBytes = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/** Record batches to write as Parquet, from a table (sync) or a stream (async). */
export type BatchSource = Iterable<RecordBatch> | AsyncIterable<RecordBatch>

const iteratorOf = (batches: BatchSource): AsyncIterator<RecordBatch> | Iterator<RecordBatch> =>
  Symbol.asyncIterator in batches ? batches[Symbol.asyncIterator]() : batches[Symbol.iterator]()

/**
 * The Parquet file of `batches` as groups of chunks, one group per row group written (then the
 * footer), row group by row group: memory holds at most one row group in wasm and one batch in
 * JS. Equal batches give equal bytes. The schema is the first batch's (`schemaOf`, asked once the
 * source ended, only serves a source with no batch; every batch must have the first's structure) and travels in the file's
 * `ARROW:schema` metadata, so types parquet has no word for (dictionaries, unsigned and small ints,
 * timestamps with their unit and zone, Float16, field and schema metadata) come back as they were.
 */
export async function* parquetChunks(
  batches: BatchSource,
  schemaOf: () => Schema | undefined
): AsyncGenerator<ReadonlyArray<Uint8Array>> {
  const wasm = await parquetWasm()
  const source = iteratorOf(batches)
  // Stopping early (the caller or a failure) also closes the source, freeing what it holds.
  let sourceDone = false
  const nextBatch = async (): Promise<RecordBatch | undefined> => {
    if (sourceDone) return undefined
    const next = await source.next()
    if (next.done === true) {
      sourceDone = true
      return undefined
    }
    return next.value
  }
  try {
    const first = await nextBatch()
    if (first === undefined) {
      const schema = schemaOf()
      if (schema === undefined) throw new Error("no record batch and no schema to write as Parquet")
      // parquet-wasm's stream writer needs a first batch to learn the schema; a file with no row groups.
      const canonical = canonicalSchema(schema)
      const encoder = ipcStreamEncoder(canonical.schema)
      const empty = wasm.Table.fromIPCStream(concatBytes([...encoder.header(), ...encoder.finish()]))
      yield [wasm.writeParquet(empty, writerProperties(wasm))]
      return
    }
    const canonical = canonicalSchema(first.schema)
    let pendingFirst: RecordBatch | undefined = first
    // The writer ends quietly, with a valid but short file, when its source fails: remember why.
    let failed: { readonly cause: unknown } | undefined
    let stopped = false
    const input = new ReadableStream<ParquetWasm.RecordBatch>(
      {
        pull: async (controller) => {
          if (stopped) {
            controller.close()
            return
          }
          try {
            const batch = pendingFirst ?? (await nextBatch())
            pendingFirst = undefined
            if (batch === undefined) {
              controller.close()
              return
            }
            // Each batch crosses alone (with its own dictionaries): a dictionary the IPC writer
            // sent with an earlier batch is not repeated, and wasm decodes each batch by itself.
            const decoded = wasm.Table.fromIPCStream(
              concatBytes(standaloneIpc(canonical.schema, canonical.batch(batch)))
            )
            let parts: Array<ParquetWasm.RecordBatch>
            try {
              parts = decoded.recordBatches()
            } finally {
              decoded.free()
            }
            // The writer takes ownership of each batch it reads; free what it never gets.
            let handedOn = 0
            try {
              for (const part of parts) {
                controller.enqueue(part)
                handedOn++
              }
            } finally {
              for (const part of parts.slice(handedOn)) part.free()
            }
          } catch (cause) {
            failed = { cause }
            stopped = true
            controller.close()
          }
        },
        cancel: () => {
          stopped = true
        }
      },
      { highWaterMark: 0 }
    )
    const output = (await wasm.transformParquetStream(
      input,
      writerProperties(wasm)
    )) as ReadableStream<unknown>
    try {
      for await (const chunk of output) {
        if (failed !== undefined) break
        if (!(chunk instanceof Uint8Array)) throw new TypeError("parquet-wasm emitted a non-byte chunk")
        yield [chunk]
      }
    } finally {
      // Also when the caller stops early: the source then ends at once rather than feed every batch.
      stopped = true
    }
    if (failed !== undefined) throw failed.cause
  } finally {
    if (!sourceDone) {
      sourceDone = true
      await source.return?.(undefined)
    }
  }
}

/** The Parquet file of `table` (see `parquetChunks`). */
export const parquetChunksOfTable = (table: Table): AsyncGenerator<ReadonlyArray<Uint8Array>> =>
  parquetChunks(table.batches, () => table.schema)

/** The Arrow schema stored in a Parquet file. */
const schemaOf = (file: ParquetWasm.ParquetFile): Schema => tableFromIPC(file.schema().intoIPCStream()).schema

/** Opens a Parquet file held by `blob` (e.g. `fs.openAsBlob(path)`): only its footer is read here. */
const openParquet = async (blob: Blob): Promise<ParquetWasm.ParquetFile> => {
  const wasm = await parquetWasm()
  return wasm.ParquetFile.fromFile(blob)
}

async function* batchesOf(file: ParquetWasm.ParquetFile): AsyncGenerator<RecordBatch> {
  const stream = (await file.stream({ batchSize: READ_BATCH_ROWS })) as ReadableStream<unknown>
  for await (const item of stream) {
    const batch = item as ParquetWasm.RecordBatch
    // `intoIPCStream` frees the wasm batch; the Arrow batches are views of the returned bytes.
    const table = tableFromIPC(batch.intoIPCStream())
    yield* table.batches
  }
}

/** The record batches of a Parquet file, read row group by row group (bounded memory). */
export async function* parquetBatches(blob: Blob): AsyncGenerator<RecordBatch> {
  const file = await openParquet(blob)
  try {
    yield* batchesOf(file)
  } finally {
    file.free()
  }
}

/** The Arrow schema stored in the Parquet file held by `blob`, as a wasm schema (`intoIPCStream` frees it). */
export const parquetSchema = async (blob: Blob): Promise<ParquetWasm.Schema> => {
  const file = await openParquet(blob)
  try {
    return file.schema()
  } finally {
    file.free()
  }
}

/** A whole Parquet file as an Arrow table with its stored schema, also when it has no rows. */
export const readParquetTable = async (blob: Blob): Promise<Table> => {
  const file = await openParquet(blob)
  try {
    const schema = schemaOf(file)
    const batches: Array<RecordBatch> = []
    for await (const batch of batchesOf(file)) batches.push(batch)
    return new Table(schema, batches)
  } finally {
    file.free()
  }
}
