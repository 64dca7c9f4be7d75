/**
 * The child-process entry of the disk benchmark: one operation per process so that each has its own
 * peak RSS. `raw` writes 1 GiB in 16 MiB chunks + fsync and reads it back; `write` builds a ~1 GiB
 * Arrow table and stores it with the fs IO manager; `load` and `stream` read it back whole or by batches.
 * Usage: `node --import tsx bench/src/IOWorker.ts <mode> <dir> [<location> <rows>]`; prints one JSON line.
 */
import { execFileSync } from "node:child_process"
import { randomFillSync } from "node:crypto"
import { writeFileSync } from "node:fs"
import { open, rm } from "node:fs/promises"
import { join } from "node:path"
import type { IOManager, ValueHandle } from "@materia/core"
import { makeFsIOManager } from "@materia/io-managers/fs"
import { type RecordBatch, Table, tableFromArrays } from "apache-arrow"
import { Effect, Stream } from "effect"
import { BATCH_ROWS, BATCHES, GIB, type IOWorkerReport, MODES, type Mode, RAW_CHUNK } from "./IOBench.ts"
import { timeAsync } from "./Measure.ts"

const ASSET = "bench_table"

/**
 * Writes back dirty pages and drops the page cache so that the next read comes from the disk;
 * false where that is not allowed (not root, a read-only /proc).
 */
const dropPageCache = (): boolean => {
  try {
    execFileSync("sync")
    writeFileSync("/proc/sys/vm/drop_caches", "3\n")
    return true
  } catch {
    return false
  }
}

const raw = async (dir: string): Promise<Omit<IOWorkerReport, "mode">> => {
  const path = join(dir, "raw.bin")
  const buffer = randomFillSync(Buffer.allocUnsafeSlow(RAW_CHUNK))
  const rssBeforeBytes = process.memoryUsage().rss
  const written = await timeAsync(async () => {
    const file = await open(path, "w")
    try {
      for (let offset = 0; offset < GIB; offset += RAW_CHUNK) {
        const { bytesWritten } = await file.write(buffer, 0, RAW_CHUNK, offset)
        if (bytesWritten !== RAW_CHUNK) throw new Error(`short write at ${offset}: ${bytesWritten} bytes`)
      }
      await file.sync()
    } finally {
      await file.close()
    }
  })
  const cacheDropped = dropPageCache()
  const read = await timeAsync(async () => {
    const file = await open(path, "r")
    let total = 0
    try {
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, RAW_CHUNK, total)
        if (bytesRead === 0) return total
        total += bytesRead
      }
    } finally {
      await file.close()
    }
  })
  await rm(path)
  if (read.value !== GIB) throw new Error(`read back ${read.value} of ${GIB} bytes`)
  return {
    operations: [
      { name: "raw write", bytes: GIB, wallMillis: written.wall, cpuMillis: written.cpu },
      { name: "raw read", bytes: GIB, wallMillis: read.wall, cpuMillis: read.cpu }
    ],
    cacheDropped,
    rows: 0,
    rssBeforeBytes,
    maxRssBytes: 0
  }
}

/** The table, batch by batch: `x` Float64 and `n` Int32, every buffer filled (no zero pages). */
const buildTable = (): Table => {
  const batches: Array<RecordBatch> = []
  for (let b = 0; b < BATCHES; b++) {
    const x = new Float64Array(BATCH_ROWS)
    const n = new Int32Array(BATCH_ROWS)
    const base = b * BATCH_ROWS
    for (let i = 0; i < BATCH_ROWS; i++) {
      x[i] = (base + i) * 1.000001
      n[i] = (base + i) ^ 0x5bd1e995
    }
    batches.push(...tableFromArrays({ x, n }).batches)
  }
  return new Table(batches)
}

const handleOf = (io: IOManager, location: string): ValueHandle => ({
  ioManager: io.name,
  location,
  format: "arrow"
})

const write = async (dir: string): Promise<Omit<IOWorkerReport, "mode">> => {
  const io = makeFsIOManager({ root: dir })
  const buildStart = performance.now()
  const table = buildTable()
  const buildMillis = performance.now() - buildStart
  const rssBeforeBytes = process.memoryUsage().rss
  const stored = await timeAsync(() =>
    Effect.runPromise(
      io.write(table, {
        assetKey: ASSET,
        assetPath: [ASSET],
        runId: "bench",
        attemptId: `bench-${process.pid}`,
        codeVersion: "v1",
        inputVersions: {}
      })
    )
  )
  const bytes = stored.value.metadata.bytes
  if (typeof bytes !== "number") throw new Error("the IO manager reported no byte size")
  return {
    operations: [{ name: "write", bytes, wallMillis: stored.wall, cpuMillis: stored.cpu }],
    cacheDropped: false,
    location: stored.value.handle.location,
    rows: table.numRows,
    buildMillis,
    rssBeforeBytes,
    maxRssBytes: 0
  }
}

const read = async (
  mode: "load" | "stream",
  dir: string,
  location: string,
  rows: number
): Promise<Omit<IOWorkerReport, "mode">> => {
  const io = makeFsIOManager({ root: dir })
  const handle = handleOf(io, location)
  const context = { assetKey: ASSET, consumerKey: "bench_reader" }
  const cacheDropped = dropPageCache()
  const rssBeforeBytes = process.memoryUsage().rss
  const timed = await timeAsync(() =>
    mode === "load"
      ? Effect.runPromise(
          Effect.map(io.load(handle, context), (value) => {
            if (!(value instanceof Table)) throw new Error("load returned no Arrow table")
            return value.numRows
          })
        )
      : Effect.runPromise(
          Stream.runFold(
            io.loadBatches(handle, context),
            () => 0,
            (total, batch) => total + batch.numRows
          )
        )
  )
  if (timed.value !== rows) throw new Error(`${mode} read ${timed.value} rows, expected ${rows}`)
  return {
    operations: [
      {
        name: mode === "load" ? "load" : "loadBatches",
        bytes: 0,
        wallMillis: timed.wall,
        cpuMillis: timed.cpu
      }
    ],
    cacheDropped,
    rows: timed.value,
    rssBeforeBytes,
    maxRssBytes: 0
  }
}

const main = async (argv: ReadonlyArray<string>) => {
  const [mode, dir, location, rowsText] = argv
  if (!MODES.includes(mode as Mode) || dir === undefined)
    throw new Error(`usage: IOWorker.ts <${MODES.join("|")}> <dir> [<location> <rows>]`)
  const needsValue = mode === "load" || mode === "stream"
  if (needsValue && (location === undefined || rowsText === undefined))
    throw new Error(`${mode} needs the location and row count of a written table`)
  const result =
    mode === "raw"
      ? await raw(dir)
      : mode === "write"
        ? await write(dir)
        : await read(mode as "load" | "stream", dir, location!, Number(rowsText))
  const report: IOWorkerReport = {
    ...result,
    mode: mode as Mode,
    maxRssBytes: process.resourceUsage().maxRSS * 1024
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

await main(process.argv.slice(2))
