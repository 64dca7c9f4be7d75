/**
 * A response body as the `SequentialSource` the Arrow stream reader takes: the body arrives in
 * small pieces (~64 KiB), so a take that spans pieces is copied once into fresh memory of its own
 * (which the batches decoded from it keep); an announced take starts filling while the caller works.
 */
import type { Readable } from "node:stream"
import type { SequentialSource } from "../fs/IpcStreamReader.ts"

/** A take this small that one piece holds is a view of that piece (framing and metadata bytes). */
const SMALL_TAKE = 4096

/** The pieces of `body` in order; `take` may also be a view of a piece (see SMALL_TAKE). */
export const bodySource = (body: Readable): SequentialSource => {
  const pieces = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
  /** Pieces received but not taken yet, the first possibly in part. */
  const held: Array<Uint8Array> = []
  let heldBytes = 0
  let ended = false
  let ahead: { readonly length: number; readonly bytes: Promise<Uint8Array> } | undefined

  /** Receives pieces until `length` bytes are held or the body ends. */
  const receive = async (length: number) => {
    while (heldBytes < length && !ended) {
      const next = await pieces.next()
      if (next.done === true) ended = true
      else if (next.value.byteLength > 0) {
        held.push(next.value)
        heldBytes += next.value.byteLength
      }
    }
  }

  const takeNow = async (length: number): Promise<Uint8Array> => {
    await receive(length)
    const size = Math.min(length, heldBytes)
    const first = held[0]
    if (first !== undefined && size <= SMALL_TAKE && first.byteLength >= size) {
      const bytes = first.subarray(0, size)
      if (first.byteLength === size) held.shift()
      else held[0] = first.subarray(size)
      heldBytes -= size
      return bytes
    }
    // Fresh memory at offset 0, so Arrow's buffers in it are aligned.
    const bytes = new Uint8Array(size)
    let filled = 0
    while (filled < size) {
      const piece = held[0]!
      const part = Math.min(piece.byteLength, size - filled)
      bytes.set(part === piece.byteLength ? piece : piece.subarray(0, part), filled)
      filled += part
      if (part === piece.byteLength) held.shift()
      else held[0] = piece.subarray(part)
    }
    heldBytes -= size
    return bytes
  }

  return {
    take: (length) => {
      if (ahead === undefined) return takeNow(length)
      const announced = ahead
      ahead = undefined
      if (announced.length === length) return announced.bytes
      // Another take than the announced one (a reader that stopped early): its bytes go back in front.
      return announced.bytes.then((bytes) => {
        if (bytes.byteLength > 0) held.unshift(bytes)
        heldBytes += bytes.byteLength
        return takeNow(length)
      })
    },
    willTake: (length) => {
      if (ahead !== undefined) return
      const bytes = takeNow(length)
      // A failed read-ahead fails the take that collects it, not the process.
      bytes.catch(() => undefined)
      ahead = { length, bytes }
    }
  }
}
