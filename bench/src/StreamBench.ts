/**
 * Benchmark 8, streaming a table larger than memory: a 5 GiB table generated batch by batch goes
 * through three streaming assets on the local-disk IO manager (write stream → `streamOf` (loadBatches) →
 * transform → write, twice) run by `materialize`, in a child process whose peak RSS (`process.resourceUsage().maxRSS`)
 * is the figure; 1 GiB pipelines do the same in Parquet and on S3. Run as
 * `node --import tsx bench/src/StreamBench.ts worker <dir> <bytes> [arrow|parquet] [s3 endpoint]` it is that child.
 */
import { rmSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { makeTempDir, runTsJson } from "./Child.ts"
import { count, type Goal, mib, ms, type Section } from "./Measure.ts"
import { startS3rver } from "./S3Bench.ts"

const GIB = 2 ** 30
/** The table: a Float64 and an Int32 column, no nulls (12 bytes a row), 1M-row batches. */
const BATCH_ROWS = 2 ** 20
const ROW_BYTES = 12
/** Peak RSS goal of the whole pipeline. */
const RSS_GOAL = GIB

/** One step of the pipeline, as the worker measured it. */
interface StepReport {
  readonly name: string
  readonly rows: number
  readonly bytes: number
  readonly wallMillis: number
  /** Peak RSS of the process so far, after this step. */
  readonly maxRssBytes: number
}

interface StreamWorkerReport {
  readonly steps: ReadonlyArray<StepReport>
  readonly rssAtStartBytes: number
  readonly maxRssBytes: number
}

/**
 * The child: a project of three assets run by `materialize`: `raw` generates the table batch by batch,
 * `doubled` and `scaled` read their upstream with `streamOf` (from storage, batch by batch) and
 * stream out a transformed copy. The IO manager is wrapped to note what each write stored.
 */
const worker = async (
  dir: string,
  totalBytes: number,
  format: "arrow" | "parquet" = "arrow",
  endpoint?: string
): Promise<StreamWorkerReport> => {
  const { asset, defineProject, materialize, streamOf } = await import("@materia/assets")
  const Effect = await import("effect/Effect")
  const { Float64, Int32, makeData, RecordBatch, Schema, Field, Struct } = await import("apache-arrow")
  const inner =
    endpoint === undefined
      ? (await import("@materia/io-managers/fs")).makeFsIOManager({ root: dir, name: "store", format })
      : (await import("@materia/io-managers/s3")).makeS3IOManager({
          name: "store",
          bucket: "bench",
          prefix: "stream",
          endpoint,
          credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
          format,
          tempDir: dir
        })
  const steps: Array<StepReport> = []
  let stepStart = performance.now()
  const store: typeof inner = {
    ...inner,
    write: (value, context) =>
      Effect.tap(inner.write(value, context), (stored) =>
        Effect.sync(() => {
          steps.push({
            name: context.assetKey,
            rows: Number(stored.metadata.rows),
            bytes: Number(stored.metadata.bytes),
            wallMillis: performance.now() - stepStart,
            maxRssBytes: process.resourceUsage().maxRSS * 1024
          })
          stepStart = performance.now()
        })
      )
  }
  const rssAtStartBytes = process.memoryUsage().rss
  const batches = Math.ceil(totalBytes / (BATCH_ROWS * ROW_BYTES))
  const schema = new Schema([new Field("x", new Float64(), false), new Field("n", new Int32(), false)])
  const batchOf = (x: Float64Array, n: Int32Array) =>
    new RecordBatch(
      schema,
      makeData({
        type: new Struct(schema.fields),
        length: x.length,
        nullCount: 0,
        children: [
          makeData({ type: new Float64(), length: x.length, nullCount: 0, data: x }),
          makeData({ type: new Int32(), length: n.length, nullCount: 0, data: n })
        ]
      })
    )
  /** Reads each upstream batch and yields a transformed copy (new arrays). */
  async function* transform(upstream: AsyncIterable<InstanceType<typeof RecordBatch>>, factor: number) {
    for await (const batch of upstream) {
      const x = batch.getChildAt(0)!.toArray() as Float64Array
      const n = batch.getChildAt(1)!.toArray() as Int32Array
      const nx = new Float64Array(x.length)
      const nn = new Int32Array(n.length)
      for (let i = 0; i < x.length; i++) {
        nx[i] = x[i]! * factor
        nn[i] = n[i]! + 1
      }
      yield batchOf(nx, nn)
    }
  }
  const raw = asset("raw", { io: "store" }, async function* () {
    for (let b = 0; b < batches; b++) {
      const x = new Float64Array(BATCH_ROWS)
      const n = new Int32Array(BATCH_ROWS)
      for (let i = 0; i < BATCH_ROWS; i++) {
        x[i] = b + i / BATCH_ROWS
        n[i] = i
      }
      yield batchOf(x, n)
    }
  })
  const doubled = asset("doubled", { io: "store", ins: { raw: streamOf(raw) } }, ({ raw }) =>
    transform(raw, 2)
  )
  const scaled = asset("scaled", { io: "store", ins: { doubled: streamOf(doubled) } }, ({ doubled }) =>
    transform(doubled, 0.5)
  )
  const project = defineProject({
    name: "stream-bench",
    assets: [raw, doubled, scaled],
    ioManagers: { store }
  })
  stepStart = performance.now()
  const result = await materialize(project, ["scaled"], { storage: "memory", concurrency: 1 })
  if (result.status !== "succeeded") throw new Error(`the pipeline ended ${result.status}`)
  return { steps, rssAtStartBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024 }
}

/** One pipeline: where the steps store their values, in which format, how much. */
interface Pipeline {
  readonly io: "fs" | "s3"
  readonly format: "arrow" | "parquet"
  readonly bytes: number
}

/** The goal's pipeline first; the others show every format and manager streams with bounded memory. */
const PIPELINES: ReadonlyArray<Pipeline> = [
  { io: "fs", format: "arrow", bytes: 5 * GIB },
  { io: "fs", format: "parquet", bytes: GIB },
  { io: "s3", format: "arrow", bytes: GIB },
  { io: "s3", format: "parquet", bytes: GIB }
]

const runPipeline = async (pipeline: Pipeline): Promise<StreamWorkerReport> => {
  const dir = makeTempDir(`stream-${pipeline.io}-${pipeline.format}`)
  const server = pipeline.io === "s3" ? await startS3rver(makeTempDir("stream-s3rver")) : undefined
  try {
    const args = ["worker", dir, String(pipeline.bytes), pipeline.format]
    if (server !== undefined) args.push(`http://127.0.0.1:${server.port}`)
    return await runTsJson<StreamWorkerReport>("StreamBench.ts", args)
  } finally {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs the streaming benchmark: each pipeline is one child process moving its table through three steps. */
export const streamBench = async (): Promise<Section> => {
  const reports: Array<{ readonly pipeline: Pipeline; readonly report: StreamWorkerReport }> = []
  for (const pipeline of PIPELINES) reports.push({ pipeline, report: await runPipeline(pipeline) })
  const rate = (step: StepReport) => step.bytes / 1e6 / (step.wallMillis / 1000)
  const label = (pipeline: Pipeline) => `${pipeline.io}, ${pipeline.format}, ${mib(pipeline.bytes)} MiB`
  const goal = reports[0]!
  const goals: Array<Goal> = [
    {
      name: `peak RSS of a ${mib(goal.pipeline.bytes)} MiB table streamed through three steps (fs IO manager, Arrow IPC)`,
      target: `< ${mib(RSS_GOAL)} MiB`,
      actual: `${mib(goal.report.maxRssBytes)} MiB`,
      met: goal.report.maxRssBytes < RSS_GOAL
    }
  ]
  const first = goal.report.steps[0]!
  return {
    title: "8. Streaming a table larger than memory through three steps",
    summary:
      `Each pipeline is one child process. Step 1 writes a table (a Float64 and an Int32 column, ` +
      `${count(BATCH_ROWS)}-row record batches; ${count(first.rows)} rows for 5 GiB) generated batch by batch ` +
      "by an `async function*` with `io.write(stream)`; steps 2 and 3 read the previous step back with " +
      "`loadBatches` (hash verified at the end), transform every batch into new arrays and write the result " +
      'as a stream: three assets run by `materialize` (`storage: "memory"`), the downstream ones taking ' +
      "their input as `streamOf(upstream)`, every value stored by the IO manager. The 5 GiB pipeline holds the goal; " +
      "the 1 GiB ones show the other formats and the S3 IO manager (s3rver in its own process on " +
      "127.0.0.1) streaming with bounded memory too. Files live under bench/.tmp. One run each.",
    tables: [
      {
        header: ["pipeline", "step", "rows", "MiB stored", "wall", "MB/s stored", "peak RSS so far (MiB)"],
        rows: reports.flatMap(({ pipeline, report }) =>
          report.steps.map((step) => [
            label(pipeline),
            step.name,
            count(step.rows),
            mib(step.bytes),
            `${ms(step.wallMillis)} ms`,
            count(rate(step)),
            mib(step.maxRssBytes)
          ])
        )
      },
      {
        header: ["pipeline", "RSS at start (MiB)", "peak RSS (MiB)"],
        rows: reports.map(({ pipeline, report }) => [
          label(pipeline),
          mib(report.rssAtStartBytes),
          mib(report.maxRssBytes)
        ])
      }
    ],
    goals,
    notes: [
      "Memory stays bounded because each batch's bytes are written (fs) or handed to the multipart upload (S3, about `partSize × queueSize` buffered) before the next batch is pulled from the body: Arrow's stream writer has no backpressure of its own. Parquet goes row group by row group through parquet-wasm, every wasm object freed; a Parquet object on S3 is downloaded (and verified) to a temporary file, then read row group by row group.",
      "The RSS at start is the child with its modules loaded (Arrow, the IO manager, the AWS SDK for S3)."
    ]
  }
}

if (process.argv[2] === "worker" && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const format = process.argv[5] === "parquet" ? "parquet" : "arrow"
  const report = await worker(process.argv[3]!, Number(process.argv[4]), format, process.argv[6])
  process.stdout.write(`${JSON.stringify(report)}\n`)
}
