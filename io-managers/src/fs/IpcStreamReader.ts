/**
 * The record batches of a stored Arrow IPC stream, verified against its manifest. The stream is
 * split into its messages here (continuation, metadata length, metadata, body), each taken from the
 * byte source as one piece of fresh memory, so Arrow's synchronous reader decodes every batch
 * without copying it; the next message's body is read while the current one is hashed and decoded.
 * The bytes are hashed in order as they are taken and checked once the stream ends; a value that
 * fails to decode is reported by its hash mismatch when it has one, since that says why.
 */
import { createHash } from "node:crypto"
import {
  Message,
  MessageHeader,
  type RecordBatch,
  type RecordBatchFileReader,
  RecordBatchReader,
  type RecordBatchStreamReader
} from "apache-arrow"
import type { Manifest } from "./Manifest.ts"

/**
 * Bytes of a value in order. `take` resolves to the next `length` bytes as one view the caller may
 * keep (fewer only at the end of the value); `willTake` announces the length of the next `take`, so
 * that the source can start reading it while the caller works on what it has.
 */
export interface SequentialSource {
  readonly take: (length: number) => Promise<Uint8Array>
  readonly willTake: (length: number) => void
}

/** The errors a storing IO manager reports for a value that does not match its manifest. */
export interface VerificationErrors {
  readonly resized: (found: number) => Error
  readonly corrupt: (found: string) => Error
  readonly undecodable: (cause: unknown) => Error
}

/** Bytes hashed at a time when draining what follows the end of the stream (or a failed decode). */
const DRAIN_CHUNK = 8 * 1024 * 1024
const CONTINUATION = -1

/** A stream that is not a well-formed Arrow IPC stream (reported unless the hash says why). */
class Malformed extends Error {
  override readonly name = "Malformed"
}

const int32 = (bytes: Uint8Array): number =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(0, true)

/**
 * Arrow's synchronous stream reader over a queue of message pieces. Every message is queued whole
 * before the reader is asked for the batch it ends, so every piece the reader reads is one the
 * queue holds: no bytes are copied.
 */
class BatchDecoder {
  private readonly queue: Array<Uint8Array> = []
  private reader: RecordBatchStreamReader | RecordBatchFileReader | undefined
  private ended = false
  /** Empty pieces handed out in a row. */
  private starved = 0

  /**
   * Arrow's byte stream pulls one piece more than it needs when a read takes exactly what it holds,
   * and stops for good at the first `done`: until the stream's end, an empty queue hands out one
   * empty piece (which it skips). A second in a row means the reader wants bytes no message holds.
   */
  private readonly pieces: Iterable<Uint8Array> = {
    [Symbol.iterator]: () => ({
      next: () => {
        const value = this.queue.shift()
        if (value !== undefined) {
          this.starved = 0
          return { done: false, value }
        }
        if (this.ended) return { done: true, value: undefined }
        if (++this.starved > 1) throw new Malformed("the Arrow reader wants bytes beyond the message")
        return { done: false, value: new Uint8Array(0) }
      },
      return: () => ({ done: true, value: undefined })
    })
  }

  /** No more pieces: the reader may now see the end of the stream. */
  end(): void {
    this.ended = true
  }

  push(pieces: ReadonlyArray<Uint8Array>): void {
    for (const piece of pieces) if (piece.byteLength > 0) this.queue.push(piece)
  }

  /** Reads the schema message queued first. */
  open(): void {
    const reader: RecordBatchStreamReader | RecordBatchFileReader = RecordBatchReader.from(this.pieces)
    reader.open()
    if (reader.schema === undefined || reader.schema === null)
      throw new Malformed("the stream does not start with a schema message")
    this.reader = reader
  }

  /** The batch ended by the queued messages (a record batch after any dictionaries), if any. */
  next(): RecordBatch | undefined {
    if (this.reader === undefined) throw new Malformed("the stream does not start with a schema message")
    const next = this.reader.next()
    return next.done === true ? undefined : (next.value as RecordBatch)
  }
}

/** Yields the batches of `source`, a value of `manifest.bytes` bytes, then fails if its size or hash differ from the manifest. */
export async function* verifiedIpcBatches(
  source: SequentialSource,
  manifest: Manifest,
  errors: VerificationErrors
): AsyncGenerator<RecordBatch> {
  const hash = createHash("sha256")
  /** Bytes taken from the source so far, and those of them hashed. */
  let taken = 0
  let hashed = 0
  /** Pieces taken but not hashed yet: hashed in the order they were taken, after any read-ahead starts. */
  const unhashed: Array<Uint8Array> = []
  const take = async (length: number) => {
    const bytes = await source.take(length)
    taken += bytes.byteLength
    unhashed.push(bytes)
    return bytes
  }
  const flush = () => {
    for (const piece of unhashed) {
      hash.update(piece)
      hashed += piece.byteLength
    }
    unhashed.length = 0
  }
  /** Hashes the rest of the value, up to its end. */
  const drain = async () => {
    flush()
    for (;;) {
      const piece = await take(DRAIN_CHUNK)
      flush()
      if (piece.byteLength < DRAIN_CHUNK) return
    }
  }
  const verified = () => {
    if (hashed !== manifest.bytes) return errors.resized(hashed)
    const found = hash.digest("hex")
    return found === manifest.sha256 ? undefined : errors.corrupt(found)
  }
  const remaining = () => manifest.bytes - taken

  /**
   * The next message's framing and metadata pieces and its decoded metadata; no message at the
   * end-of-stream marker or the end of the value.
   */
  const readHeader = async (): Promise<{
    readonly pieces: ReadonlyArray<Uint8Array>
    readonly message: Message | undefined
  }> => {
    const first = await take(4)
    if (first.byteLength < 4) {
      if (first.byteLength > 0) throw new Malformed("the stream ends inside a message's length")
      return { pieces: [], message: undefined }
    }
    const pieces = [first]
    let length = int32(first)
    if (length === CONTINUATION) {
      const second = await take(4)
      pieces.push(second)
      if (second.byteLength < 4) throw new Malformed("the stream ends inside a message's length")
      length = int32(second)
    }
    if (length === 0) return { pieces, message: undefined }
    if (length < 0 || length > remaining())
      throw new Malformed(`a message's metadata length ${length} is out of range`)
    const metadata = await take(length)
    pieces.push(metadata)
    const message = Message.decode(metadata)
    const bodyLength = message.bodyLength
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0 || bodyLength > remaining())
      throw new Malformed(`a message's body length ${bodyLength} is out of range`)
    return { pieces, message }
  }

  try {
    const decoder = new BatchDecoder()
    const schema = await readHeader()
    if (schema.message === undefined || schema.message.headerType !== MessageHeader.Schema)
      throw new Malformed("the stream does not start with a schema message")
    flush()
    decoder.push(schema.pieces)
    decoder.open()
    let header = await readHeader()
    for (let message = header.message; message !== undefined; message = header.message) {
      if (message.headerType === MessageHeader.Schema)
        throw new Malformed("a second schema message in the stream")
      const body = await take(message.bodyLength)
      if (body.byteLength < message.bodyLength) throw new Malformed("the stream ends inside a message body")
      // The next message's body is read while this one is hashed and decoded, and its batch used.
      const next = await readHeader()
      if (next.message !== undefined) source.willTake(next.message.bodyLength)
      flush()
      decoder.push(header.pieces)
      decoder.push([body])
      header = next
      if (message.headerType === MessageHeader.RecordBatch) {
        const batch = decoder.next()
        if (batch === undefined) throw new Malformed("a record batch message decoded to no batch")
        yield batch
      }
    }
    // The end-of-stream marker; a stream of a schema and no batch yields one empty batch, as Arrow's readers do.
    flush()
    decoder.push(header.pieces)
    decoder.end()
    for (let batch = decoder.next(); batch !== undefined; batch = decoder.next()) yield batch
  } catch (cause) {
    try {
      await drain()
    } catch {
      throw cause
    }
    throw verified() ?? errors.undecodable(cause)
  }
  await drain()
  const problem = verified()
  if (problem !== undefined) throw problem
}
