/**
 * Benchmark 8, streaming a table larger than memory: a 5 GiB table generated batch by batch goes
 * through three streaming steps on the local-disk IO manager (write stream → loadBatches →
 * transform → write, twice), in a child process whose peak RSS (`process.resourceUsage().maxRSS`)
 * is the figure. Run as `node --import tsx bench/src/StreamBench.ts worker <dir> <bytes>` it is that child.
 */
import { rmSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { makeTempDir, runTsJson } from "./Child.ts"
import { count, type Goal, mib, ms, type Section } from "./Measure.ts"

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

/** The child: three streaming steps through the fs IO manager, each reading the previous one from disk. */
const worker = async (dir: string, totalBytes: number): Promise<StreamWorkerReport> => {
  const Effect = await import("effect/Effect")
  const Stream = await import("effect/Stream")
  const { Float64, Int32, makeData, RecordBatch, Schema, Field, Struct } = await import("apache-arrow")
  const { makeFsIOManager } = await import("@materia/io-managers/fs")
  const io = makeFsIOManager({ root: dir })
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
  /** Step 1's body: generates the table one batch at a time. */
  async function* generate() {
    for (let b = 0; b < batches; b++) {
      const x = new Float64Array(BATCH_ROWS)
      const n = new Int32Array(BATCH_ROWS)
      for (let i = 0; i < BATCH_ROWS; i++) {
        x[i] = b + i / BATCH_ROWS
        n[i] = i
      }
      yield batchOf(x, n)
    }
  }
  /** Steps 2 and 3: read the upstream as a stream, transform each batch, stream it out. */
  async function* transform(upstream: AsyncIterable<unknown>, factor: number) {
    for await (const item of upstream) {
      const batch = item as InstanceType<typeof RecordBatch>
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
  const steps: Array<StepReport> = []
  const context = (key: string) => ({
    assetKey: key,
    assetPath: [key],
    runId: "bench",
    attemptId: "bench-1",
    codeVersion: "v1",
    inputVersions: {}
  })
  const step = async (name: string, value: AsyncIterable<unknown>) => {
    const start = performance.now()
    const stored = await Effect.runPromise(io.write(value, context(name)))
    steps.push({
      name,
      rows: Number(stored.metadata.rows),
      bytes: Number(stored.metadata.bytes),
      wallMillis: performance.now() - start,
      maxRssBytes: process.resourceUsage().maxRSS * 1024
    })
    return stored
  }
  const upstream = (handle: Parameters<typeof io.loadBatches>[0], key: string) =>
    Stream.toAsyncIterable(io.loadBatches(handle, { assetKey: key, consumerKey: "next" }))
  const raw = await step("raw", generate())
  const doubled = await step("doubled", transform(upstream(raw.handle, "raw"), 2))
  rmSync(`${dir}/raw`, { recursive: true, force: true })
  await step("scaled", transform(upstream(doubled.handle, "doubled"), 0.5))
  return { steps, rssAtStartBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024 }
}

/** Runs the streaming benchmark: one child process moves 5 GiB through three steps. */
export const streamBench = async (): Promise<Section> => {
  const dir = makeTempDir("stream-5gib")
  let report: StreamWorkerReport
  try {
    report = await runTsJson<StreamWorkerReport>("StreamBench.ts", ["worker", dir, String(5 * GIB)])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const rate = (step: StepReport) => step.bytes / 1e6 / (step.wallMillis / 1000)
  const goals: Array<Goal> = [
    {
      name: "peak RSS of a 5 GiB table streamed through three steps (fs IO manager, Arrow IPC)",
      target: `< ${mib(RSS_GOAL)} MiB`,
      actual: `${mib(report.maxRssBytes)} MiB`,
      met: report.maxRssBytes < RSS_GOAL
    }
  ]
  return {
    title: "8. Streaming a 5 GiB table through three steps",
    summary:
      `One child process writes a ${mib(report.steps[0]!.bytes)} MiB table (${count(report.steps[0]!.rows)} rows, ` +
      `a Float64 and an Int32 column, ${count(BATCH_ROWS)}-row record batches) generated batch by batch by an ` +
      "`async function*` with `makeFsIOManager({ root }).write(stream)`, then twice reads the last step " +
      "back with `loadBatches` (hash verified at the end), transforms every batch into new arrays and " +
      "writes the result as a stream. Files live under bench/.tmp; the first step's folder is removed " +
      "once the second is written. One run (it moves about 15 GiB through the disk).",
    tables: [
      {
        header: ["step", "rows", "MiB written", "wall", "MB/s", "peak RSS so far (MiB)"],
        rows: report.steps.map((step) => [
          step.name,
          count(step.rows),
          mib(step.bytes),
          `${ms(step.wallMillis)} ms`,
          count(rate(step)),
          mib(step.maxRssBytes)
        ])
      }
    ],
    goals,
    notes: [
      `RSS at the start of the child (modules loaded): ${mib(report.rssAtStartBytes)} MiB.`,
      "Memory stays bounded because each batch's bytes are written (and awaited) before the next batch is pulled from the body: Arrow's stream writer has no backpressure of its own."
    ]
  }
}

if (process.argv[2] === "worker" && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const report = await worker(process.argv[3]!, Number(process.argv[4]))
  process.stdout.write(`${JSON.stringify(report)}\n`)
}
