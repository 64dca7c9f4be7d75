/**
 * Benchmark 7, the S3 IO manager against a local S3-protocol server (s3rver in a child process on
 * 127.0.0.1): writing and reading a 256 MiB Arrow table through `makeS3IOManager`, beside bare SDK
 * put / get of the very bytes it stores, against the same server, in the same rounds.
 */
import { spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { makeS3IOManager } from "@materia/io-managers/s3"
import { Field, Float64, Int32, makeData, RecordBatch, Schema, Struct, Table } from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { makeTempDir } from "./Child.ts"
import { count, type Goal, median, mib, ms, renderSection, type Section } from "./Measure.ts"

/**
 * Rows of the table: a Float64 and an Int32 column (12 bytes a row), ~256 MiB, or
 * `MATERIA_BENCH_S3_MIB` MiB when set (smaller runs while profiling; the results use 256 MiB).
 */
const ROWS = Math.floor(((Number(process.env.MATERIA_BENCH_S3_MIB) || 256) * 2 ** 20) / 12)
const BATCH_ROWS = 2 ** 20
const ROUNDS = Number(process.env.MATERIA_BENCH_S3_ROUNDS) || 5
const SHARE_GOAL = 0.7
const BUCKET = "bench"

type Name = "bare put" | "bare Upload" | "write" | "bare get" | "load" | "loadBatches"
const NAMES: ReadonlyArray<Name> = ["bare put", "bare Upload", "write", "bare get", "load", "loadBatches"]
const LABELS: Record<Name, string> = {
  "bare put": "bare SDK `PutObject` of the stored bytes (one request)",
  "bare Upload":
    "bare lib-storage `Upload` of the stored bytes (16 MiB parts, 4 at once: the IO manager's defaults)",
  write: "IO manager `write(table)`: IPC encode + sha256 + multipart `Upload` + manifest",
  "bare get": "bare SDK `GetObject`, body read whole",
  load: "IO manager `load` (whole): manifest + GetObject + sha256 + `tableFromIPC`",
  loadBatches: "IO manager `loadBatches` (streamed, hash verified at the end)"
}
/** The bare operation each IO manager operation is held against. */
const BARE_OF: Partial<Record<Name, Name>> = { write: "bare put", load: "bare get", loadBatches: "bare get" }

/**
 * Starts s3rver with a `bench` bucket in its own process (so its CPU is not the client's), storing
 * under `directory`; resolves to its port and a stop that also removes the directory.
 */
export const startS3rver = async (directory: string) => {
  const script = `const S3rver = require("s3rver");
new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: ${JSON.stringify(directory)},
  configureBuckets: [{ name: ${JSON.stringify(BUCKET)} }] }).run().then((a) => process.stdout.write(a.port + "\\n"))`
  const require = createRequire(import.meta.url)
  const child = spawn(process.execPath, ["-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NODE_PATH: require.resolve("s3rver").replace(/\/s3rver\/.*$/, "") }
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (data: Buffer) => resolve(Number(String(data).trim())))
    child.once("exit", (code) => reject(new Error(`s3rver exited with ${code}`)))
  })
  return {
    port,
    stop: async () => {
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve())
        child.kill()
      })
      rmSync(directory, { recursive: true, force: true })
    }
  }
}

const makeTable = (): Table => {
  const schema = new Schema([new Field("x", new Float64(), false), new Field("n", new Int32(), false)])
  const batches: Array<RecordBatch> = []
  for (let start = 0; start < ROWS; start += BATCH_ROWS) {
    const length = Math.min(BATCH_ROWS, ROWS - start)
    const x = Float64Array.from({ length }, (_, i) => (start + i) / 7)
    const n = Int32Array.from({ length }, (_, i) => start + i)
    batches.push(
      new RecordBatch(
        schema,
        makeData({
          type: new Struct(schema.fields),
          length,
          nullCount: 0,
          children: [
            makeData({ type: new Float64(), length, nullCount: 0, data: x }),
            makeData({ type: new Int32(), length, nullCount: 0, data: n })
          ]
        })
      )
    )
  }
  return new Table(batches)
}

const timed = async <A>(run: () => Promise<A>): Promise<{ value: A; millis: number }> => {
  const start = performance.now()
  const value = await run()
  return { value, millis: performance.now() - start }
}

/** Runs the S3 benchmark. */
export const s3Bench = async (): Promise<Section> => {
  const directory = makeTempDir("s3rver")
  const server = await startS3rver(directory)
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${server.port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })
  const io = makeS3IOManager({ bucket: BUCKET, prefix: "io", client })
  const table = makeTable()
  const rounds: Array<Map<Name, number>> = []
  let bytes = 0
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const millis = new Map<Name, number>()
      const context = {
        assetKey: "table",
        assetPath: ["table"],
        runId: "bench",
        attemptId: `bench-${round}`,
        codeVersion: "v1",
        inputVersions: {}
      }
      const written = await timed(() => Effect.runPromise(io.write(table, context)))
      millis.set("write", written.millis)
      bytes = Number(written.value.metadata.bytes)
      const key = `io/table/${context.attemptId}/value.arrow`
      // The very bytes the manager stored, read back once (untimed) for the bare operations.
      const stored = await (
        await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
      ).Body!.transformToByteArray()
      const put = await timed(() =>
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `bare/${round}/put`, Body: stored }))
      )
      millis.set("bare put", put.millis)
      const upload = await timed(() =>
        new Upload({
          client,
          params: { Bucket: BUCKET, Key: `bare/${round}/upload`, Body: stored },
          partSize: 16 * 2 ** 20,
          queueSize: 4,
          leavePartsOnError: true
        }).done()
      )
      millis.set("bare Upload", upload.millis)
      const get = await timed(async () => {
        const output = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `bare/${round}/put` }))
        let size = 0
        for await (const chunk of output.Body as AsyncIterable<Uint8Array>) size += chunk.byteLength
        return size
      })
      millis.set("bare get", get.millis)
      const input = { assetKey: "table", consumerKey: "bench" }
      const load = await timed(() => Effect.runPromise(io.load(written.value.handle, input)))
      if ((load.value as Table).numRows !== table.numRows) throw new Error("load returned other rows")
      millis.set("load", load.millis)
      const streamed = await timed(() =>
        Effect.runPromise(
          Stream.runFold(
            io.loadBatches(written.value.handle, input),
            () => 0,
            (rows, batch) => rows + batch.numRows
          )
        )
      )
      if (streamed.value !== table.numRows) throw new Error("loadBatches returned other rows")
      millis.set("loadBatches", streamed.millis)
      rounds.push(millis)
    }
  } finally {
    client.destroy()
    await server.stop()
  }
  const rate = (millis: number) => bytes / 1e6 / (millis / 1000)
  const of = (name: Name) => rounds.map((r) => r.get(name)!)
  const shares = (name: Name) => rounds.map((r) => r.get(BARE_OF[name]!)! / r.get(name)!)
  const percent = (value: number) => `${(value * 100).toFixed(0)}%`
  const rows = NAMES.map((name) => [
    LABELS[name],
    count(rate(median(of(name)))),
    `${ms(median(of(name)))} ms`,
    BARE_OF[name] === undefined
      ? ""
      : `${percent(median(shares(name)))} (${shares(name).map(percent).join(", ")})`
  ])
  const goals: Array<Goal> = (["write", "load", "loadBatches"] as const).map((name) => ({
    name: `S3 IO manager ${name} of a ${mib(bytes)} MiB Arrow table vs ${BARE_OF[name]} (same bytes, same local s3rver)`,
    target: `≥ ${percent(SHARE_GOAL)}`,
    actual: `${count(rate(median(of(name))))} vs ${count(rate(median(of(BARE_OF[name]!))))} MB/s (medians); median per-round share ${percent(median(shares(name)))}`,
    met: median(shares(name)) >= SHARE_GOAL
  }))
  return {
    title: "7. S3 IO manager against a local S3-protocol server",
    summary:
      `A ${mib(bytes)} MiB Arrow table (${count(table.numRows)} rows, a Float64 and an Int32 column, ` +
      `${table.batches.length} record batches) written with \`makeS3IOManager\` and read back whole and ` +
      "streamed, beside bare AWS SDK requests moving the same bytes (the object the manager stored) to " +
      `and from the same s3rver, which runs in its own process on 127.0.0.1 and stores on bench/.tmp. ` +
      `${ROUNDS} rounds, operations interleaved; medians, MB = 10⁶ bytes; a share is the median of ` +
      "per-round ratios of bare time to IO-manager time (each round's in brackets).",
    tables: [{ header: ["operation", "MB/s", "wall", "share of bare (per round)"], rows }],
    goals,
    notes: [
      "The IO manager also hashes what it writes and reads (sha256, the data version, verified on every read), writes a manifest and reads it back before the value; the bare requests do none of this.",
      "The IO manager uploads only through lib-storage's multipart `Upload` (never a streamed PutObject, which a cut connection can leave truncated); the bare `Upload` row shows what multipart itself costs on s3rver, " +
        "which completes a multipart upload by copying every part into a new object file (and hashing it again). " +
        `Against that bare \`Upload\` of the same bytes, the IO manager's write reaches ${percent(median(rounds.map((r) => r.get("bare Upload")! / r.get("write")!)))} (median of per-round shares).`
    ]
  }
}

/** Run alone (`node --import tsx bench/src/S3Bench.ts`): prints this section only. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const section = await s3Bench()
  process.stdout.write(`${renderSection(section)}\n`)
}
