import { createHash } from "node:crypto"
import { mkdtemp, open, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type RecordBatch, Table, tableFromArrays, tableToIPC } from "apache-arrow"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { arrowIpcChunks, canonicalSchema } from "./ArrowIpc.ts"
import { fileSource } from "./FileSource.ts"
import { verifiedIpcBatches } from "./IpcStreamReader.ts"
import type { Manifest } from "./Manifest.ts"

class Resized extends Error {}
class Corrupt extends Error {}
class Undecodable extends Error {}

const errors = {
  resized: (found: number) => new Resized(`size ${found}`),
  corrupt: (found: string) => new Corrupt(`sha256 ${found}`),
  undecodable: (cause: unknown) => new Undecodable(String(cause))
}

/** Three tables of odd lengths (so no message is a round size), a dictionary column among them. */
const table = (): Table => {
  const part = (offset: number, rows: number) =>
    tableFromArrays({
      x: Float64Array.from({ length: rows }, (_, i) => (offset + i) / 3),
      n: Int32Array.from({ length: rows }, (_, i) => offset + i),
      tag: Array.from({ length: rows }, (_, i) => `tag-${(offset + i) % 7}`)
    })
  const batches = [...part(0, 1001).batches, ...part(1001, 17).batches, ...part(1018, 30_011).batches]
  // One schema (dictionary ids) for all: each part has a dictionary of its own.
  const canonical = canonicalSchema(batches[0]!.schema)
  return new Table(batches.map(canonical.batch))
}

const ipcBytes = (value: Table): Uint8Array => {
  const chunks = [...arrowIpcChunks(value)].flat()
  return Buffer.concat(chunks)
}

const manifestOf = (bytes: Uint8Array): Manifest => ({
  version: 1,
  format: "arrow",
  file: "value.arrow",
  bytes: bytes.byteLength,
  sha256: createHash("sha256").update(bytes).digest("hex")
})

let dir = ""
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "materia-ipc-reader-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

let files = 0
/** Reads `stored` as a file through the verified reader, with the manifest of `expected`. */
const readBack = async (stored: Uint8Array, expected: Uint8Array, lookahead?: number) => {
  const path = join(dir, `value-${files++}.arrow`)
  await writeFile(path, stored)
  const file = await open(path, "r")
  const batches: Array<RecordBatch> = []
  try {
    for await (const batch of verifiedIpcBatches(fileSource(file, lookahead), manifestOf(expected), errors))
      batches.push(batch)
    return { batches, error: undefined }
  } catch (error) {
    return { batches, error }
  } finally {
    await file.close()
  }
}

const rowsOf = (batches: ReadonlyArray<RecordBatch>) =>
  new Table(batches).toArray().map((row) => ({ ...row.toJSON() }))

describe("verifiedIpcBatches over a file", () => {
  const value = table()
  const bytes = ipcBytes(value)
  const expectedRows = value.toArray().map((row) => ({ ...row.toJSON() }))

  it.each([
    ["the default read-ahead", undefined],
    ["no read-ahead (every header read on its own)", 0],
    ["a read-ahead that ends inside headers and bodies", 13],
    ["a read-ahead larger than some bodies", 5000]
  ])("yields every batch, equal to the stored table, with %s", async (_, lookahead) => {
    const { batches, error } = await readBack(bytes, bytes, lookahead)
    expect(error).toBeUndefined()
    expect(batches.map((batch) => batch.numRows)).toEqual(value.batches.map((batch) => batch.numRows))
    expect(rowsOf(batches)).toEqual(expectedRows)
  })

  it("reads a stream written by Arrow's own writer (one dictionary per table)", async () => {
    const own = tableToIPC(value, "stream")
    const { batches, error } = await readBack(own, own, 7)
    expect(error).toBeUndefined()
    expect(rowsOf(batches)).toEqual(expectedRows)
  })

  it("yields the empty batch of a table without rows", async () => {
    const empty = ipcBytes(tableFromArrays({ n: new Int32Array(0) }))
    const { batches, error } = await readBack(empty, empty)
    expect(error).toBeUndefined()
    expect(batches.reduce((rows, batch) => rows + batch.numRows, 0)).toBe(0)
    expect(batches[0]?.schema.fields.map((field) => field.name)).toEqual(["n"])
  })

  it("fails after the last batch when a byte of a body changed mid-stream", async () => {
    const damaged = Uint8Array.from(bytes)
    const at = Math.floor(bytes.byteLength / 2) + 3
    damaged[at] = damaged[at]! ^ 0xff
    const { batches, error } = await readBack(damaged, bytes, 13)
    expect(error).toBeInstanceOf(Corrupt)
    expect((error as Error).message).toBe(`sha256 ${createHash("sha256").update(damaged).digest("hex")}`)
    // The damage sits in the data of the last (largest) batch, which decodes: the hash finds it.
    expect(batches.length).toBe(value.batches.length)
  })

  it("reports a changed header by its hash, not as a decoding failure", async () => {
    for (const at of [2, 6, 40, 400]) {
      const damaged = Uint8Array.from(bytes)
      damaged[at] = damaged[at]! ^ 0xff
      const { error } = await readBack(damaged, bytes, 13)
      expect(error, `byte ${at}`).toBeInstanceOf(Corrupt)
    }
  })

  it("reports a metadata length or body length beyond the value by its hash", async () => {
    const damaged = Uint8Array.from(bytes)
    // The first message's metadata length (after the continuation marker) made huge.
    damaged[7] = 0x7f
    const { error } = await readBack(damaged, bytes)
    expect(error).toBeInstanceOf(Corrupt)
  })

  it("reports a truncated or extended value by its size", async () => {
    const cut = await readBack(bytes.subarray(0, bytes.byteLength - 100), bytes, 13)
    expect(cut.error).toBeInstanceOf(Resized)
    expect((cut.error as Error).message).toBe(`size ${bytes.byteLength - 100}`)
    const longer = Buffer.concat([bytes, new Uint8Array(9)])
    const extended = await readBack(longer, bytes)
    expect(extended.error).toBeInstanceOf(Resized)
    expect((extended.error as Error).message).toBe(`size ${bytes.byteLength + 9}`)
  })

  it("reports bytes that are no Arrow stream at all, with a matching hash, as undecodable", async () => {
    const junk = new Uint8Array(1000).fill(7)
    const { error } = await readBack(junk, junk)
    expect(error).toBeInstanceOf(Undecodable)
  })
})
