import { createHash } from "node:crypto"
import { existsSync, statSync } from "node:fs"
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type IOManager, IOManagerError, type OutputContext, type StoredValue } from "@materia/core"
import { Float64, Int32, Table, tableFromArrays, Utf8, vectorFromArray } from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ioManagerSuite } from "../IOManagerSuite.ts"
import { makeFsIOManager } from "./FsIOManager.ts"

ioManagerSuite(
  "fs",
  async () => {
    const root = await mkdtemp(join(tmpdir(), "materia-fs-suite-"))
    return { io: makeFsIOManager({ root }), cleanup: () => rm(root, { recursive: true, force: true }) }
  },
  { contentVersionsForObjects: true, streams: "stored" }
)

// Tables go to Parquet; bytes and JSON are stored as they are.
ioManagerSuite(
  "fs (parquet)",
  async () => {
    const root = await mkdtemp(join(tmpdir(), "materia-fs-parquet-suite-"))
    return {
      io: makeFsIOManager({ root, format: "parquet" }),
      cleanup: () => rm(root, { recursive: true, force: true })
    }
  },
  { contentVersionsForObjects: true, streams: "stored" }
)

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
const failureOf = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

const context = (assetKey: string, attemptId: string): OutputContext => ({
  assetKey,
  assetPath: assetKey.split("/"),
  runId: "run1",
  attemptId,
  codeVersion: "v1",
  inputVersions: {}
})

/** Every file under `dir`, as paths relative to it. */
const filesUnder = async (dir: string): Promise<ReadonlyArray<string>> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort()

const flipByte = async (path: string, at: number) => {
  const bytes = await readFile(path)
  bytes[at] = bytes[at]! ^ 0xff
  await writeFile(path, bytes)
}

describe("fs IO manager", () => {
  let root: string
  let io: IOManager

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "materia-fs-"))
    io = makeFsIOManager({ root })
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  const write = (value: unknown, assetKey = "asset", attemptId = "run1-1"): Promise<StoredValue> =>
    run(io.write(value, context(assetKey, attemptId)))
  const loadFailure = (stored: StoredValue, assetKey = "asset") =>
    failureOf(io.load(stored.handle, { assetKey, consumerKey: "next" }))
  const streamFailure = (stored: StoredValue, assetKey = "asset") =>
    failureOf(Stream.runCollect(io.loadBatches(stored.handle, { assetKey, consumerKey: "next" })))

  const floats = (batches: number, rows: number) =>
    new Table(
      Array.from({ length: batches }, (_, b) =>
        tableFromArrays({ x: Float64Array.from({ length: rows }, (_, i) => b * rows + i) })
      ).flatMap((part) => part.batches)
    )

  it("stores a path key's value in <root>/ml/model/<attempt>/ with a manifest of its hash, size and schema", async () => {
    const table = new Table({
      city: vectorFromArray(["Paris", null], new Utf8()),
      n: vectorFromArray([1, 2], new Int32()),
      price: vectorFromArray([0.5, null], new Float64())
    })
    const stored = await write(table, "ml/model", "run1-1")
    const folder = join(root, "ml", "model", "run1-1")
    expect(stored.handle).toEqual({ ioManager: "fs", location: "ml/model/run1-1", format: "arrow" })
    expect(await filesUnder(root)).toEqual(["ml/model/run1-1/manifest.json", "ml/model/run1-1/value.arrow"])

    const bytes = await readFile(join(folder, "value.arrow"))
    const sha256 = createHash("sha256").update(bytes).digest("hex")
    const manifest: unknown = JSON.parse(await readFile(join(folder, "manifest.json"), "utf8"))
    const schema = { city: "Utf8", n: "Int32", price: "Float64" }
    expect(manifest).toEqual({
      version: 1,
      format: "arrow",
      file: "value.arrow",
      bytes: bytes.byteLength,
      sha256,
      rows: 2,
      schema
    })
    expect(stored.dataVersion).toBe(sha256.slice(0, 32))
    expect(stored.metadata).toEqual({ bytes: bytes.byteLength, rows: 2, schema })

    await write(Uint8Array.of(1, 2, 3), "ml/model", "run2-1")
    await write({ ok: true }, "ml/model", "run3-1")
    expect(await filesUnder(join(root, "ml", "model"))).toEqual([
      "run1-1/manifest.json",
      "run1-1/value.arrow",
      "run2-1/manifest.json",
      "run2-1/value.bin",
      "run3-1/manifest.json",
      "run3-1/value.json"
    ])
    expect(await readFile(join(root, "ml", "model", "run3-1", "value.json"), "utf8")).toBe('{"ok":true}')
  })

  it("writes each batch of a stream to disk before pulling the next one from the body (bounded memory)", async () => {
    const rows = 100_000
    const table = floats(6, rows)
    const tmp = join(root, "streamed", "run1-1", "value.arrow.tmp")
    const onDisk: Array<number> = []
    const body = async function* () {
      for (const [b, batch] of table.batches.entries()) {
        // What the writer has flushed when the body is asked for batch b.
        if (b > 0) onDisk.push(existsSync(tmp) ? statSync(tmp).size : 0)
        yield batch
      }
    }
    const stored = await write(body(), "streamed")
    expect(stored.metadata.rows).toBe(6 * rows)
    expect(onDisk).toHaveLength(5)
    // Every earlier batch (8 bytes a row) is in the file before the next one is pulled.
    onDisk.forEach((size, i) => {
      expect(size).toBeGreaterThanOrEqual((i + 1) * rows * 8)
    })
  })

  it("stores and loads a zero-row table built from empty vectors", async () => {
    const empty = new Table({ id: vectorFromArray([], new Int32()), name: vectorFromArray([], new Utf8()) })
    const stored = await write(empty)
    const loaded = (await run(io.load(stored.handle, { assetKey: "asset", consumerKey: "next" }))) as Table
    expect(loaded.numRows).toBe(0)
    expect(loaded.schema.fields.map((f) => f.name)).toEqual(["id", "name"])
  })

  it("leaves no .tmp file after writes", async () => {
    await write(floats(3, 1000), "a", "r-1")
    await write(Uint8Array.of(9), "a", "r-2")
    await write({ list: [1, 2] }, "b", "r-1")
    const files = await filesUnder(root)
    expect(files).toHaveLength(6)
    expect(files.filter((file) => file.endsWith(".tmp"))).toEqual([])
  })

  it("refuses values JSON cannot represent, saying what was found and what to return instead", async () => {
    const cyclic: Record<string, unknown> = { name: "loop" }
    cyclic.self = cyclic
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ stats: { count: 10n } }, "a bigint at $.stats.count"],
      [{ fit: () => 1 }, "a function at $.fit"],
      [cyclic, "a cycle at $.self"],
      [[1, Number.NaN], "the number NaN at $[1]"],
      [{ when: new Date(0) }, "an object of class Date at $.when"],
      [new Map(), "an object of class Map at $"],
      [{ "odd key": [undefined] }, 'undefined at $["odd key"][0]']
    ]
    for (const [value, found] of cases) {
      const error = await failureOf(io.write(value, context("asset", "run1-1")))
      expect(error).toBeInstanceOf(IOManagerError)
      expect(error.message).toContain(found)
      expect(error.message).toContain("return an Arrow table, a Uint8Array, or plain JSON")
    }
    expect(await filesUnder(root)).toEqual([])
    // Shared (not cyclic) references and undefined properties are fine; the latter are omitted.
    const shared = { x: 1 }
    const stored = await write({ a: shared, b: shared, skipped: undefined })
    expect(await run(io.load(stored.handle, { assetKey: "asset", consumerKey: "next" }))).toEqual({
      a: { x: 1 },
      b: { x: 1 }
    })
  })

  it("leaves no value file and no attempt folder when a table fails to encode midway", async () => {
    const table = floats(3, 100_000)
    // Only the writer reads the values of the second batch's column.
    Object.defineProperty(table.batches[1]!.data.children[0], "values", {
      get() {
        throw new Error("boom in batch 2")
      }
    })
    const error = await failureOf(io.write(table, context("ml/model", "run1-1")))
    expect(error).toBeInstanceOf(IOManagerError)
    expect(error.message).toContain("could not encode the value as arrow (boom in batch 2)")
    expect(existsSync(join(root, "ml", "model", "run1-1"))).toBe(false)
    expect(await filesUnder(root)).toEqual([])
  })

  it("fails to load a corrupted value with the expected and found hashes", async () => {
    const stored = await write(
      Uint8Array.from({ length: 4096 }, (_, i) => i % 256),
      "ml/model"
    )
    const path = join(root, "ml", "model", "run1-1", "value.bin")
    const expected = createHash("sha256")
      .update(await readFile(path))
      .digest("hex")
    await flipByte(path, 1234)
    const found = createHash("sha256")
      .update(await readFile(path))
      .digest("hex")
    const error = await loadFailure(stored, "ml/model")
    expect(error).toBeInstanceOf(IOManagerError)
    expect(error.message).toContain(
      `value file ${path} is corrupt: expected sha256 ${expected}, found ${found}`
    )
    expect(error.message).toContain("run `materia wipe --select ml/model` and re-materialize")
  })

  it("fails to load or stream a corrupted table, whether the damage is in a header or in the data", async () => {
    const table = floats(2, 10_000)
    for (const [attemptId, at] of [
      ["run1-1", 20],
      ["run1-2", 60_000]
    ] as const) {
      const stored = await write(table, "asset", attemptId)
      const path = join(root, "asset", attemptId, "value.arrow")
      await flipByte(path, at)
      for (const error of [await loadFailure(stored), await streamFailure(stored)]) {
        expect(error).toBeInstanceOf(IOManagerError)
        expect(error.message).toContain(`value file ${path} is corrupt: expected sha256`)
      }
    }
  })

  it("fails to load a truncated value, naming both sizes", async () => {
    const stored = await write(floats(1, 1000))
    const path = join(root, "asset", "run1-1", "value.arrow")
    await truncate(path, 100)
    const manifest = JSON.parse(await readFile(join(root, "asset", "run1-1", "manifest.json"), "utf8")) as {
      bytes: number
    }
    for (const error of [await loadFailure(stored), await streamFailure(stored)])
      expect(error.message).toContain(`value file ${path} has 100 bytes, expected ${manifest.bytes}`)
  })

  it("says which file is missing and how to recover", async () => {
    const stored = await write({ a: 1 }, "ml/model")
    const folder = join(root, "ml", "model", "run1-1")
    await rm(join(folder, "manifest.json"))
    expect((await loadFailure(stored, "ml/model")).message).toContain(
      `manifest ${join(folder, "manifest.json")} is missing; run \`materia wipe --select ml/model\` and re-materialize`
    )
    await rm(join(folder, "value.json"))
    expect((await loadFailure(stored, "ml/model")).message).toContain(
      `value file ${join(folder, "value.json")} is missing; run \`materia wipe --select ml/model\` and re-materialize`
    )
    const table = await write(floats(1, 10), "ml/model", "run2-1")
    await rm(join(root, "ml", "model", "run2-1"), { recursive: true })
    expect((await streamFailure(table, "ml/model")).message).toContain(
      `value file ${join(root, "ml", "model", "run2-1", "value.arrow")} is missing`
    )
  })

  it("refuses unsafe attempt ids and never writes outside the root", async () => {
    for (const attemptId of ["../x", "..", "a/b", "a\\b", "", "."]) {
      const error = await failureOf(io.write({ a: 1 }, context("asset", attemptId)))
      expect(error).toBeInstanceOf(IOManagerError)
      expect(error.message).toContain(`attempt id ${JSON.stringify(attemptId)} is not a safe folder name`)
    }
    expect(existsSync(join(root, "x"))).toBe(false)
    expect(await filesUnder(root)).toEqual([])
  })

  it("never overwrites an attempt folder", async () => {
    const first = await write({ v: 1 }, "asset", "run1-1")
    const error = await failureOf(io.write({ v: 2 }, context("asset", "run1-1")))
    expect(error.message).toContain("already exists; a stored value is never overwritten")
    expect(await run(io.load(first.handle, { assetKey: "asset", consumerKey: "next" }))).toEqual({ v: 1 })
  })

  it("refuses handles that point outside an attempt folder of its root", async () => {
    const stored = await write({ v: 1 }, "ml/model", "run1-1")
    for (const location of ["../outside/run1-1", "ml/../../etc", "/etc/passwd", "model"]) {
      const error = await failureOf(
        io.load({ ...stored.handle, location }, { assetKey: "ml/model", consumerKey: "next" })
      )
      expect(error).toBeInstanceOf(IOManagerError)
    }
    // A location naming the asset's folder rather than an attempt's removes nothing.
    const error = await failureOf(io.delete({ ...stored.handle, location: "ml/model" }))
    expect(error.message).toContain("holds files the fs IO manager did not write")
    expect(await filesUnder(root)).toEqual(["ml/model/run1-1/manifest.json", "ml/model/run1-1/value.json"])
    await run(io.delete(stored.handle))
    await run(io.delete(stored.handle))
    expect(await filesUnder(root)).toEqual([])
  })
})
