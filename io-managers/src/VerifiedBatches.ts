/**
 * The record batches of a stored Arrow IPC stream, verified against its manifest: the bytes are
 * hashed as the reader consumes them and checked once it reaches the end. A value that fails to
 * decode is reported by its hash mismatch when it has one, since that says why.
 */
import { type RecordBatch, RecordBatchReader } from "apache-arrow"
import type { Manifest } from "./fs/Manifest.ts"

/** A byte source that hashes what it yields (a file, an object body). */
export interface HashingSource extends AsyncIterable<Uint8Array> {
  readonly bytesRead: number
  /** Hashes whatever the reader did not consume, up to the end. */
  readonly drain: () => Promise<void>
  readonly digest: () => string
}

/** The errors a storing IO manager reports for a value that does not match its manifest. */
export interface VerificationErrors {
  readonly resized: (found: number) => Error
  readonly corrupt: (found: string) => Error
  readonly undecodable: (cause: unknown) => Error
}

/** Yields the batches of `source`, then fails if its size or hash differ from the manifest. */
export async function* verifiedArrowBatches(
  source: HashingSource,
  manifest: Manifest,
  errors: VerificationErrors
): AsyncGenerator<RecordBatch> {
  const verified = () => {
    if (source.bytesRead !== manifest.bytes) return errors.resized(source.bytesRead)
    const found = source.digest()
    return found === manifest.sha256 ? undefined : errors.corrupt(found)
  }
  try {
    const reader = await RecordBatchReader.from(source)
    for await (const batch of reader) yield batch
  } catch (cause) {
    try {
      await source.drain()
    } catch {
      throw cause
    }
    throw verified() ?? errors.undecodable(cause)
  }
  await source.drain()
  const problem = verified()
  if (problem !== undefined) throw problem
}
