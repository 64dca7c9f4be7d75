import { createHash } from "node:crypto"
import { Readable } from "node:stream"
import { type RecordBatch, Table, tableFromArrays } from "apache-arrow"
import { describe, expect, it } from "vitest"
import { arrowIpcChunks, canonicalSchema } from "../fs/ArrowIpc.ts"
import { verifiedIpcBatches } from "../fs/IpcStreamReader.ts"
import { bodySource } from "./BodySource.ts"

class Corrupt extends Error {}

const errors = {
  resized: (found: number) => new Error(`size ${found}`),
  corrupt: (found: string) => new Corrupt(`sha256 ${found}`),
  undecodable: (cause: unknown) => new Error(`undecodable: ${String(cause)}`)
}

const table = (): Table => {
  const part = (offset: number, rows: number) =>
    tableFromArrays({
      x: Float64Array.from({ length: rows }, (_, i) => (offset + i) / 3),
      tag: Array.from({ length: rows }, (_, i) => `tag-${(offset + i) % 5}`)
    })
  const batches = [...part(0, 3001).batches, ...part(3001, 3).batches, ...part(3004, 20_000).batches]
  const canonical = canonicalSchema(batches[0]!.schema)
  return new Table(batches.map(canonical.batch))
}

/** `bytes` as a body arriving in pieces of `size` bytes (the last one shorter). */
const body = (bytes: Uint8Array, size: number) => {
  const pieces: Array<Uint8Array> = []
  for (let offset = 0; offset < bytes.byteLength; offset += size)
    pieces.push(Uint8Array.from(bytes.subarray(offset, offset + size)))
  return Readable.from(pieces)
}

const read = async (stored: Uint8Array, expected: Uint8Array, pieceSize: number) => {
  const manifest = {
    version: 1 as const,
    format: "arrow" as const,
    file: "value.arrow",
    bytes: expected.byteLength,
    sha256: createHash("sha256").update(expected).digest("hex")
  }
  const batches: Array<RecordBatch> = []
  try {
    for await (const batch of verifiedIpcBatches(bodySource(body(stored, pieceSize)), manifest, errors))
      batches.push(batch)
    return { batches, error: undefined }
  } catch (error) {
    return { batches, error }
  }
}

describe("verifiedIpcBatches over a response body", () => {
  const value = table()
  const bytes = Buffer.concat([...arrowIpcChunks(value)].flat())
  const rows = value.toArray().map((row) => ({ ...row.toJSON() }))

  it.each([3, 64, 4099, 65_536, 1 << 20])("yields the stored table from pieces of %i bytes", async (size) => {
    const { batches, error } = await read(bytes, bytes, size)
    expect(error).toBeUndefined()
    expect(batches.map((batch) => batch.numRows)).toEqual([3001, 3, 20_000])
    expect(new Table(batches).toArray().map((row) => ({ ...row.toJSON() }))).toEqual(rows)
    // Every body is its own memory at offset 0: Arrow's buffers are aligned views, not copies.
    for (const batch of batches) expect(batch.getChild("x")!.data[0]!.values.byteOffset % 8).toBe(0)
  })

  it.each([
    ["in the data of the last batch", (length: number) => length - 1000],
    ["in the second message's header", () => 300],
    ["in the middle", (length: number) => Math.floor(length / 2) + 1]
  ])("fails by the hash when a byte changed %s", async (_, where) => {
    const damaged = Uint8Array.from(bytes)
    const at = where(bytes.byteLength)
    damaged[at] = damaged[at]! ^ 0x5a
    const { error } = await read(damaged, bytes, 4099)
    expect(error).toBeInstanceOf(Corrupt)
    expect((error as Error).message).toBe(`sha256 ${createHash("sha256").update(damaged).digest("hex")}`)
  })
})
