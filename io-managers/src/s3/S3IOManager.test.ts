/**
 * The S3 IO manager against a real S3-protocol server (s3rver, started here on 127.0.0.1): the
 * conformance suite, the key layout, multipart round trips, and the failures a user meets. Not
 * tested, because s3rver cannot show them: a wrong secret for a known access key id (s3rver skips V4
 * signature checks; an unknown key id is refused and tested), an AbortMultipartUpload that succeeds
 * (s3rver answers 405, so only the reporting of a failed abort is tested), and the refusal to
 * replace an existing key (s3rver ignores `If-None-Match` on writes).
 */
import { createHash, randomUUID } from "node:crypto"
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { createRequire } from "node:module"
import { type AddressInfo, connect, createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { type IOManager, IOManagerError, type OutputContext, type StoredValue } from "@materia/core"
import { Float64, Int32, type RecordBatch, Table, tableFromArrays, Utf8, vectorFromArray } from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeFsIOManager } from "../fs/FsIOManager.ts"
import { ioManagerSuite } from "../IOManagerSuite.ts"
import { InvalidS3Options, makeS3IOManager, type S3IOManagerOptions } from "./S3IOManager.ts"

/** The part of s3rver's API these tests use (the package ships no types). */
interface S3rverServer {
  run(): Promise<AddressInfo>
  close(): Promise<void>
}
type S3rverConstructor = new (options: {
  readonly address: string
  readonly port: number
  readonly silent: boolean
  readonly directory: string
  readonly configureBuckets: ReadonlyArray<{ readonly name: string }>
}) => S3rverServer
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor

const BUCKET = "materia-test"
const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }
const MiB = 1024 * 1024

let server: S3rverServer
let directory: string
let port: number
/** A client of the test itself, to look at and tamper with what the manager stored. */
let admin: S3Client

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "materia-s3rver-"))
  server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET }]
  })
  port = (await server.run()).port
  admin = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })
})

afterAll(async () => {
  admin?.destroy()
  await server?.close()
  if (directory !== undefined) await rm(directory, { recursive: true, force: true })
})

/** A manager on the test server under a fresh prefix, configured the way a user would. */
const makeIO = (options: Partial<S3IOManagerOptions> = {}): { io: IOManager; prefix: string } => {
  const prefix = options.prefix ?? `t/${randomUUID()}`
  const io = makeS3IOManager({
    bucket: BUCKET,
    endpoint: `http://127.0.0.1:${port}`,
    credentials,
    ...options,
    prefix
  })
  return { io, prefix }
}

ioManagerSuite("s3", async () => ({ io: makeIO().io, cleanup: async () => {} }), {
  contentVersionsForObjects: true,
  streams: "stored"
})

// Tables go to Parquet; bytes and JSON are stored as they are.
ioManagerSuite(
  "s3 (parquet)",
  async () => ({ io: makeIO({ format: "parquet" }).io, cleanup: async () => {} }),
  {
    contentVersionsForObjects: true,
    streams: "stored"
  }
)

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
const failureOf = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

const context = (assetKey: string, attemptId = "run1-1"): OutputContext => ({
  assetKey,
  assetPath: assetKey.split("/"),
  runId: "run1",
  attemptId,
  codeVersion: "v1",
  inputVersions: {}
})
const input = (assetKey: string) => ({ assetKey, consumerKey: "next" })

const keysUnder = async (prefix: string): Promise<ReadonlyArray<string>> => {
  const listed = await admin.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }))
  return (listed.Contents ?? []).map((object) => object.Key ?? "").sort()
}

const objectBytes = async (key: string): Promise<Uint8Array> => {
  const output = await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
  return output.Body!.transformToByteArray()
}

const putObject = (key: string, body: Uint8Array) =>
  admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }))

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** A Float64 table of `batches` record batches of `rows` rows each (8 bytes a row). */
const floats = (batches: number, rows: number) =>
  new Table(
    Array.from({ length: batches }, (_, b) =>
      tableFromArrays({ x: Float64Array.from({ length: rows }, (_, i) => b * rows + i) })
    ).flatMap((part) => part.batches)
  )

/**
 * A TCP proxy in front of s3rver that forwards `limit` bytes of requests in all, then either cuts
 * every connection (and refuses new ones) or stalls them (requests are read but never answered),
 * as a network failure mid-upload would.
 */
const startProxy = async (limit: number, mode: "cut" | "stall") => {
  const sockets = new Set<Socket>()
  const stalled = new Set<Socket>()
  let forwarded = 0
  let reached: () => void = () => undefined
  const limitReached = new Promise<void>((resolve) => {
    reached = resolve
  })
  const proxy = createServer((client) => {
    sockets.add(client)
    client.on("error", () => undefined)
    if (forwarded >= limit && mode === "cut") {
      client.destroy()
      return
    }
    const upstream = connect(port, "127.0.0.1")
    sockets.add(upstream)
    upstream.on("error", () => undefined)
    client.on("data", (chunk: Buffer) => {
      // A stalled connection is still read (so that its closing is seen), never forwarded.
      if (stalled.has(client)) return
      const room = limit - forwarded
      forwarded += chunk.byteLength
      if (chunk.byteLength < room) {
        upstream.write(chunk)
        return
      }
      if (room > 0) upstream.write(chunk.subarray(0, room))
      reached()
      if (mode === "stall") stalled.add(client)
      else for (const socket of sockets) socket.destroy()
    })
    upstream.on("data", (chunk: Buffer) => client.write(chunk))
    client.on("close", () => upstream.destroy())
    upstream.on("close", () => client.destroy())
  })
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
  return {
    endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    limitReached,
    /** Resolves once every connection stalled so far has been closed by the client. */
    stalledClosed: () =>
      Promise.all(
        [...stalled].map((socket) =>
          socket.closed ? undefined : new Promise((resolve) => socket.once("close", resolve))
        )
      ),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => proxy.close(() => resolve()))
    }
  }
}

describe("S3 IO manager", () => {
  it("stores a path key's value at <prefix>/ml/model/<attempt>/value.arrow with a manifest, in the fs manager's bytes", async () => {
    const { io, prefix } = makeIO()
    const table = new Table({
      city: vectorFromArray(["Paris", null], new Utf8()),
      n: vectorFromArray([1, 2], new Int32()),
      price: vectorFromArray([0.5, null], new Float64())
    })
    const stored = await run(io.write(table, context("ml/model", "run1-1")))
    expect(stored.handle).toEqual({ ioManager: "s3", location: "ml/model/run1-1", format: "arrow" })
    const folder = `${prefix}/ml/model/run1-1`
    expect(await keysUnder(prefix)).toEqual([`${folder}/manifest.json`, `${folder}/value.arrow`])

    const bytes = await objectBytes(`${folder}/value.arrow`)
    const manifest = JSON.parse(Buffer.from(await objectBytes(`${folder}/manifest.json`)).toString("utf8"))
    expect(manifest).toEqual({
      version: 1,
      format: "arrow",
      file: "value.arrow",
      bytes: bytes.byteLength,
      sha256: sha256(bytes),
      rows: 2,
      schema: { city: "Utf8", n: "Int32", price: "Float64" }
    })
    expect(stored.dataVersion).toBe(sha256(bytes).slice(0, 32))
    expect(stored.metadata).toEqual({ bytes: bytes.byteLength, rows: 2, schema: manifest.schema })

    // Same formats as local disk: byte for byte, hence the same data version.
    const root = await mkdtemp(join(tmpdir(), "materia-s3-fs-"))
    try {
      const onDisk = await run(makeFsIOManager({ root }).write(table, context("ml/model", "run1-1")))
      expect(onDisk.dataVersion).toBe(stored.dataVersion)
      expect(new Uint8Array(await readFile(join(root, "ml", "model", "run1-1", "value.arrow")))).toEqual(
        bytes
      )
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it("stores a table as Parquet when the asset names that format, in the fs manager's bytes; other values are refused then", async () => {
    const { io, prefix } = makeIO()
    const table = floats(2, 1000)
    const stored = await run(io.write(table, { ...context("ml/features"), format: "parquet" }))
    expect(stored.handle).toEqual({ ioManager: "s3", location: "ml/features/run1-1", format: "parquet" })
    const folder = `${prefix}/ml/features/run1-1`
    expect(await keysUnder(prefix)).toEqual([`${folder}/manifest.json`, `${folder}/value.parquet`])
    const bytes = await objectBytes(`${folder}/value.parquet`)
    expect(stored.dataVersion).toBe(sha256(bytes).slice(0, 32))
    const loaded = (await run(io.load(stored.handle, input("ml/features")))) as Table
    expect(loaded.numRows).toBe(2000)
    expect(loaded.getChildAt(0)!.get(1999)).toBe(1999)
    const batches = await run(Stream.runCollect(io.loadBatches(stored.handle, input("ml/features"))))
    expect(batches.reduce((rows, batch) => rows + batch.numRows, 0)).toBe(2000)

    const root = await mkdtemp(join(tmpdir(), "materia-s3-fs-"))
    try {
      const fs = makeFsIOManager({ root })
      const onDisk = await run(fs.write(table, { ...context("ml/features"), format: "parquet" }))
      expect(onDisk.dataVersion).toBe(stored.dataVersion)
    } finally {
      await rm(root, { recursive: true, force: true })
    }

    const error = await failureOf(io.write({ not: "a table" }, { ...context("ml/other"), format: "parquet" }))
    expect(error).toBeInstanceOf(IOManagerError)
    expect(error.message).toContain("expected an Arrow table for format parquet, found an object")
  })

  it("round-trips values larger than one part through multipart uploads, whole and as record batches", async () => {
    const { io, prefix } = makeIO({ partSize: 5 * MiB })
    const bytes = Uint8Array.from({ length: 12 * MiB + 3 }, (_, i) => (i * 31) % 251)
    const storedBytes = await run(io.write(bytes, context("weights")))
    const loaded = (await run(io.load(storedBytes.handle, input("weights")))) as Uint8Array
    expect(loaded.byteLength).toBe(bytes.byteLength)
    expect(sha256(loaded)).toBe(sha256(bytes))
    expect(storedBytes.dataVersion).toBe(sha256(bytes).slice(0, 32))

    const table = floats(4, 400_000) // about 12.8 MB of doubles
    const stored = await run(io.write(table, context("big")))
    const object = await objectBytes(`${prefix}/big/run1-1/value.arrow`)
    expect(object.byteLength).toBeGreaterThan(12 * MiB)
    expect(stored.dataVersion).toBe(sha256(object).slice(0, 32))
    const batches = await run(Stream.runCollect(io.loadBatches(stored.handle, input("big"))))
    expect(batches.map((batch) => batch.numRows)).toEqual([400_000, 400_000, 400_000, 400_000])
    const last = (batches.at(-1) as unknown as RecordBatch).getChildAt(0)!
    expect(last.get(399_999)).toBe(1_599_999)
    const whole = (await run(io.load(stored.handle, input("big")))) as Table
    expect(whole.numRows).toBe(1_600_000)
    expect(whole.getChildAt(0)!.get(1_234_567)).toBe(1_234_567)
  })

  it("refuses an invalid bucket name, prefix or option when it is made", () => {
    const make = (options: Partial<S3IOManagerOptions>) => () =>
      makeS3IOManager({ bucket: BUCKET, ...options })
    const cases: ReadonlyArray<[Partial<S3IOManagerOptions>, string]> = [
      [
        { bucket: "My_Bucket" },
        `invalid S3 IO manager option "bucket": "My_Bucket" is not a valid bucket name`
      ],
      [{ bucket: "ab" }, "is not a valid bucket name"],
      [{ bucket: "a..b" }, `it contains ".."`],
      [{ bucket: "192.168.1.10" }, "formatted as an IP address"],
      [{ prefix: "/materia" }, `option "prefix": "/materia" starts with "/"`],
      [{ prefix: "materia/../other" }, `has the segment ".."`],
      [{ prefix: "a//b" }, `has the segment ""`],
      [{ endpoint: "localhost:9000" }, "expected an http:// or https:// URL"],
      [{ partSize: 1024 }, "from 5 MiB to 5 GiB"],
      [{ format: "csv" as "arrow" }, `option "format": "csv" is not a table format`],
      [{ client: new S3Client({}), endpoint: "http://127.0.0.1:9000" }, "give either `client` or `endpoint`"]
    ]
    for (const [options, message] of cases) {
      expect(make(options)).toThrow(InvalidS3Options)
      expect(make(options)).toThrow(message)
    }
    // A trailing slash is tolerated and dropped; no prefix at all is allowed.
    expect(make({ prefix: "materia/prod/" })).not.toThrow()
    expect(make({})).not.toThrow()
  })

  it("fails with the bucket, the location and NoSuchBucket when the bucket does not exist", async () => {
    const { io, prefix } = makeIO({ bucket: "materia-no-such-bucket" })
    const error = await failureOf(io.write({ a: 1 }, context("ml/model")))
    expect(error).toBeInstanceOf(IOManagerError)
    expect(error.operation).toBe("write")
    expect(error.location).toBe(`s3://materia-no-such-bucket/${prefix}/ml/model/run1-1/value.json`)
    expect(error.message).toContain(
      `could not write asset "ml/model" at s3://materia-no-such-bucket/${prefix}/`
    )
    expect(error.message).toContain("NoSuchBucket: The specified bucket does not exist (HTTP 404)")
    expect(error.message).toContain(`bucket "materia-no-such-bucket" does not exist: create it`)

    const handle = { ioManager: "s3", location: "ml/model/run1-1", format: "json" }
    const loading = await failureOf(io.load(handle, input("ml/model")))
    expect(loading.message).toContain(`s3://materia-no-such-bucket/${prefix}/ml/model/run1-1/manifest.json`)
    expect(loading.message).toContain("NoSuchBucket")
  })

  // s3rver refuses an access key id it does not know (InvalidAccessKeyId, HTTP 403), which is what
  // is tested here. It does not verify V4 signatures, so a known key id with a wrong secret is
  // accepted by it; that path (SignatureDoesNotMatch on real S3) maps through the same code but is
  // not exercised by these tests.
  it("fails with the location and InvalidAccessKeyId when the credentials are refused, storing nothing", async () => {
    const { io, prefix } = makeIO({ credentials: { accessKeyId: "NOT-A-KEY", secretAccessKey: "S3RVER" } })
    const error = await failureOf(io.write(Uint8Array.of(1, 2, 3), context("raw")))
    expect(error).toBeInstanceOf(IOManagerError)
    expect(error.location).toBe(`s3://${BUCKET}/${prefix}/raw/run1-1/value.bin`)
    expect(error.message).toContain(
      `could not write asset "raw" at s3://${BUCKET}/${prefix}/raw/run1-1/value.bin`
    )
    expect(error.message).toContain("InvalidAccessKeyId: The AWS Access Key Id you provided does not exist")
    expect(error.message).toContain("the credentials were refused: check the `credentials` option")
    expect(await keysUnder(prefix)).toEqual([])

    const { io: good } = makeIO({ prefix })
    const stored = await run(good.write(Uint8Array.of(1), context("raw")))
    const loading = await failureOf(io.load(stored.handle, input("raw")))
    expect(loading.message).toContain("InvalidAccessKeyId")
    expect(loading.message).toContain(`s3://${BUCKET}/${prefix}/raw/run1-1/manifest.json`)
  })

  it("an upload cut mid-stream by the network leaves no value and no manifest, and the error names the location and the cause", async () => {
    const proxy = await startProxy(7 * MiB, "cut")
    try {
      const { io, prefix } = makeIO({ endpoint: proxy.endpoint, partSize: 5 * MiB })
      const error = await failureOf(io.write(new Uint8Array(16 * MiB).fill(7), context("ml/weights")))
      expect(error).toBeInstanceOf(IOManagerError)
      expect(error.location).toBe(`s3://${BUCKET}/${prefix}/ml/weights/run1-1/value.bin`)
      // The real cause leads; the failed best-effort abort (the proxy is gone too) only follows it.
      expect(error.reason).toMatch(/^upload failed \((ECONNRESET|EPIPE): /)
      expect(error.reason).toContain("could not be aborted")
      expect(error.reason.indexOf("upload failed")).toBeLessThan(error.reason.indexOf("could not be aborted"))
      expect(await keysUnder(prefix)).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  it("a value whose stream fails midway leaves no manifest; the error says so, with the location, beside the failed abort", async () => {
    const { io, prefix } = makeIO({ partSize: 5 * MiB })
    const table = floats(3, 500_000) // three batches of 4 MB: the first part is uploaded before the failure
    // The batches as an array whose iteration (what the encoder does) fails at the third batch.
    const batches = [...table.batches]
    Object.defineProperty(batches, Symbol.iterator, {
      value: function* () {
        yield batches[0]
        yield batches[1]
        throw new Error("the source of batch 3 failed")
      }
    })
    Object.defineProperty(table, "batches", { value: batches })
    const error = await failureOf(io.write(table, context("features")))
    expect(error).toBeInstanceOf(IOManagerError)
    expect(error.location).toBe(`s3://${BUCKET}/${prefix}/features/run1-1/value.arrow`)
    expect(error.reason).toMatch(
      /^could not encode the value as arrow while uploading it \(the source of batch 3 failed\); no object was written/
    )
    // s3rver has no AbortMultipartUpload: the abort's 405 is reported after the cause, not instead of it.
    expect(error.reason).toContain("could not be aborted (MethodNotAllowed")
    expect(error.reason).toContain("AbortIncompleteMultipartUpload lifecycle rule")
    expect(await keysUnder(prefix)).toEqual([])
  })

  it("an interrupted write aborts its upload requests and leaves no manifest", {
    timeout: 15_000
  }, async () => {
    const proxy = await startProxy(1 * MiB, "stall")
    try {
      const { io, prefix } = makeIO({ endpoint: proxy.endpoint, partSize: 5 * MiB })
      const fiber = Effect.runFork(io.write(new Uint8Array(12 * MiB).fill(1), context("slow")))
      await proxy.limitReached
      await run(Fiber.interrupt(fiber))
      // The stalled part uploads are abandoned (their requests aborted), not left hanging.
      await proxy.stalledClosed()
      expect(await keysUnder(prefix)).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  it("a corrupted or resized object fails load and loadBatches with the hash or size mismatch", async () => {
    const { io, prefix } = makeIO()
    const loadFailure = (stored: StoredValue, assetKey: string) =>
      failureOf(io.load(stored.handle, input(assetKey)))
    const streamFailure = (stored: StoredValue, assetKey: string) =>
      failureOf(Stream.runCollect(io.loadBatches(stored.handle, input(assetKey))))

    const bytes = await run(
      io.write(
        Uint8Array.from({ length: 4096 }, (_, i) => i % 256),
        context("raw")
      )
    )
    const bytesKey = `${prefix}/raw/run1-1/value.bin`
    const original = await objectBytes(bytesKey)
    const flipped = Uint8Array.from(original)
    flipped[100] = flipped[100]! ^ 0xff
    await putObject(bytesKey, flipped)
    const corrupt = await loadFailure(bytes, "raw")
    expect(corrupt).toBeInstanceOf(IOManagerError)
    expect(corrupt.message).toContain(
      `at s3://${BUCKET}/${bytesKey}: the value object is corrupt: expected sha256 ${sha256(original)}, found ${sha256(flipped)}`
    )
    expect(corrupt.message).toContain("run `materia wipe --select raw` and re-materialize")
    await putObject(bytesKey, original.subarray(0, 4000))
    expect((await loadFailure(bytes, "raw")).message).toContain(
      `at s3://${BUCKET}/${bytesKey}: the value object has 4000 bytes, expected 4096`
    )

    const table = await run(io.write(floats(2, 1000), context("ml/features")))
    const tableKey = `${prefix}/ml/features/run1-1/value.arrow`
    const ipc = await objectBytes(tableKey)
    const damaged = Uint8Array.from(ipc)
    damaged[ipc.byteLength - 100] = damaged[ipc.byteLength - 100]! ^ 0xff
    await putObject(tableKey, damaged)
    for (const error of [
      await loadFailure(table, "ml/features"),
      await streamFailure(table, "ml/features")
    ]) {
      expect(error).toBeInstanceOf(IOManagerError)
      expect(error.message).toContain(
        `at s3://${BUCKET}/${tableKey}: the value object is corrupt: expected sha256 ${sha256(ipc)}, found ${sha256(damaged)}`
      )
    }
  })

  it("delete removes the value and its manifest; deleting again succeeds", async () => {
    const { io, prefix } = makeIO()
    const kept = await run(io.write({ keep: true }, context("ml/model", "run1-1")))
    const dropped = await run(io.write({ keep: false }, context("ml/model", "run2-1")))
    await run(io.delete(dropped.handle))
    await run(io.delete(dropped.handle))
    expect(await keysUnder(prefix)).toEqual([
      `${prefix}/ml/model/run1-1/manifest.json`,
      `${prefix}/ml/model/run1-1/value.json`
    ])
    expect(await run(io.load(kept.handle, input("ml/model")))).toEqual({ keep: true })
    const error = await failureOf(io.load(dropped.handle, input("ml/model")))
    expect(error.message).toContain(
      `at s3://${BUCKET}/${prefix}/ml/model/run2-1/manifest.json: the manifest is missing`
    )
  })

  it("refuses handles of another IO manager and locations that are not attempt keys", async () => {
    const { io } = makeIO()
    const foreign = await failureOf(
      io.load({ ioManager: "fs", location: "a/r1", format: "json" }, input("a"))
    )
    expect(foreign.message).toContain(`the handle belongs to IO manager "fs", not "s3"`)
    for (const location of ["a", "a/../../b", "/a/r1", "a//r1"]) {
      const error = await failureOf(io.delete({ ioManager: "s3", location, format: "json" }))
      expect(error).toBeInstanceOf(IOManagerError)
      expect(error.message).toContain("expected a location <asset key path>/<attempt id>")
    }
  })
})

describe("exploring values stored on S3", () => {
  it("fetches Arrow and Parquet values into the Parquet cache by data version, then serves them from it", async () => {
    const { openExplorer, fetchedTable } = await import("../duckdb/Explore.ts")
    const { io } = makeIO()
    const arrow = await run(io.write(floats(2, 1000), context("ml/features")))
    const parquet = await run(io.write(floats(3, 100), { ...context("orders"), format: "parquet" }))
    const notTable = await run(io.write({ not: "a table" }, context("notes")))
    expect(fetchedTable(io, "notes", notTable.handle, notTable.dataVersion)).toBeUndefined()
    const dir = await mkdtemp(join(tmpdir(), "materia-s3-explore-"))
    const cacheDir = join(dir, "cache")
    const tables = [
      fetchedTable(io, "ml/features", arrow.handle, arrow.dataVersion)!,
      fetchedTable(io, "orders", parquet.handle, parquet.dataVersion)!
    ]
    try {
      const explorer = await openExplorer({ storageRoot: dir, cacheDir, tables })
      try {
        expect(explorer.views).toEqual(["ml/features", "ml__features", "orders"])
        const result = await explorer.query(
          'select (select count(*) from "ml/features") as a, (select count(*) from orders) as b'
        )
        expect(result.rows).toEqual([{ a: 2000, b: 300 }])
      } finally {
        explorer.close()
      }
      expect((await readdir(cacheDir)).sort()).toEqual(
        [`${arrow.dataVersion}.parquet`, `${parquet.dataVersion}.parquet`].sort()
      )
      // The same data versions are served from the cache: S3 is not read again.
      await run(io.delete(arrow.handle))
      const again = await openExplorer({ storageRoot: dir, cacheDir, tables })
      try {
        expect((await again.query('select count(*) as n from "ml/features"')).rows).toEqual([{ n: 2000 }])
      } finally {
        again.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
