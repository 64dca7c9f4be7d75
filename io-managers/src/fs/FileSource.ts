/**
 * A file read in order with read-ahead, as the `SequentialSource` the Arrow stream reader takes:
 * each large take is one read into fresh memory of its own (which the batches decoded from it
 * keep), plus a little more, so the small takes that follow (the next message's framing and
 * metadata) need no read of their own; an announced take is read while the caller works.
 */
import type { FileHandle } from "node:fs/promises"
import type { SequentialSource } from "./IpcStreamReader.ts"

/** Bytes read past each take, which usually hold the next message's framing and metadata. */
export const LOOKAHEAD = 64 * 1024

/** A file from its start to its end (however long it has grown); `lookahead` is for tests. */
export const fileSource = (file: FileHandle, lookahead = LOOKAHEAD): SequentialSource => {
  /** Bytes read but not taken yet, starting at the take position. */
  let window: Uint8Array = new Uint8Array(0)
  /** File position just past `window`. */
  let position = 0
  /** The announced take being read, and its length. */
  let ahead: { readonly length: number; readonly bytes: Promise<Uint8Array> } | undefined

  /** `length` bytes from the take position: the window's, then the file's read into the same fresh buffer. */
  const fill = async (length: number): Promise<Uint8Array> => {
    const held = window
    const wanted = length + lookahead
    const buffer = new Uint8Array(Buffer.allocUnsafeSlow(wanted).buffer, 0, wanted)
    buffer.set(held, 0)
    let filled = held.byteLength
    const start = position
    while (filled < wanted) {
      const { bytesRead } = await file.read(buffer, filled, wanted - filled, start + filled - held.byteLength)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    position = start + filled - held.byteLength
    const end = Math.min(length, filled)
    window = buffer.subarray(end, filled)
    return buffer.subarray(0, end)
  }

  const takeNow = (length: number): Promise<Uint8Array> => {
    if (length <= window.byteLength) {
      const bytes = window.subarray(0, length)
      window = window.subarray(length)
      return Promise.resolve(bytes)
    }
    return fill(length)
  }

  return {
    take: (length) => {
      if (ahead === undefined) return takeNow(length)
      const announced = ahead
      ahead = undefined
      if (announced.length === length) return announced.bytes
      // Another take than the announced one (a reader that stopped early): the bytes read ahead,
      // followed in their buffer by the window, go back in front of it.
      return announced.bytes.then((bytes) => {
        window = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength + window.byteLength)
        return takeNow(length)
      })
    },
    willTake: (length) => {
      if (ahead !== undefined || length <= window.byteLength) return
      const bytes = fill(length)
      // A failed read-ahead fails the take that collects it, not the process.
      bytes.catch(() => undefined)
      ahead = { length, bytes }
    }
  }
}
