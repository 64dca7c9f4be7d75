/**
 * The batch-stream encoder on its own: the same bytes as the table of the same batches, and
 * messages that say which item of the stream is wrong.
 */
import { Table, tableFromArrays } from "apache-arrow"
import { describe, expect, it } from "vitest"
import { encodeBatchStream } from "./BatchStream.ts"
import { arrowIpcChunks } from "./fs/ArrowIpc.ts"
import { parquetChunksOfTable } from "./fs/Parquet.ts"

const streamOf = (items: ReadonlyArray<unknown>, fail?: Error): AsyncIterable<unknown> => ({
  async *[Symbol.asyncIterator]() {
    yield* items
    if (fail !== undefined) throw fail
  }
})

const bytesOf = async (
  chunks: Iterable<ReadonlyArray<Uint8Array>> | AsyncIterable<ReadonlyArray<Uint8Array>>
) => {
  const all: Array<number> = []
  for await (const group of chunks) for (const chunk of group) all.push(...chunk)
  return Uint8Array.from(all)
}

const table = (): Table => {
  const parts = [0, 1, 2].map((b) =>
    tableFromArrays({ id: Int32Array.of(b, b + 1), label: [`x${b}`, `y${b}`] })
  )
  return parts.slice(1).reduce((all, part) => all.concat(part), parts[0]!)
}

describe("encodeBatchStream", () => {
  it("gives the bytes of the table made of the same batches, in both formats, and its summary", async () => {
    const whole = table()
    const arrow = encodeBatchStream(streamOf(whole.batches), "arrow")
    expect(await bytesOf(arrow.chunks)).toEqual(await bytesOf(arrowIpcChunks(whole)))
    expect(arrow.summary()).toEqual({ rows: 6, schema: { id: "Int32", label: "Dictionary<Int32, Utf8>" } })
    const parquet = encodeBatchStream(streamOf(whole.batches), "parquet")
    expect(await bytesOf(parquet.chunks)).toEqual(await bytesOf(parquetChunksOfTable(whole)))
  })

  it("names the item that is not a record batch, and how far a failing source got", async () => {
    const batch = table().batches[0]!
    await expect(bytesOf(encodeBatchStream(streamOf([batch, new Map()]), "arrow").chunks)).rejects.toThrow(
      "item 2 of the stream is an object of class Map, expected an Apache Arrow RecordBatch"
    )
    await expect(
      bytesOf(encodeBatchStream(streamOf([new Table([batch]), batch], new Error("gone")), "arrow").chunks)
    ).rejects.toThrow("the stream of record batches failed after 2 item(s): gone")
  })
})
