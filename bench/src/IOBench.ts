/**
 * Benchmark 6, the local-disk IO manager: write a ~1 GiB Arrow table with `makeFsIOManager` and read
 * it back whole (`load`) and streamed (`loadBatches`), beside the raw sequential bandwidth of the same
 * disk measured in the same rounds. Every operation is a fresh child process (IOWorker).
 */
import { rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { makeTempDir, runTsJson } from "./Child.ts"
import { count, type Goal, median, mib, ms, renderSection, type Section } from "./Measure.ts"

export const MODES = ["raw", "write", "load", "stream"] as const
export type Mode = (typeof MODES)[number]

/**
 * Bytes of the raw file, and the least size of the table's columns: 1 GiB, or
 * `MATERIA_BENCH_IO_MIB` MiB when set (smaller runs while profiling; the results use 1 GiB).
 */
export const GIB = (Number(process.env.MATERIA_BENCH_IO_MIB) || 1024) * 2 ** 20
/** Raw IO goes this many bytes per call. */
export const RAW_CHUNK = 16 * 2 ** 20
/** Rows per record batch of the table: about 1M. */
export const BATCH_ROWS = 2 ** 20
/** A Float64 and an Int32 column, no nulls: 12 bytes a row. */
const ROW_BYTES = 12
/** Enough batches for at least 1 GiB of column data. */
export const BATCHES = Math.ceil(GIB / (BATCH_ROWS * ROW_BYTES))

/** One timed operation of a worker. */
export interface Operation {
  readonly name: "raw write" | "raw read" | "write" | "load" | "loadBatches"
  /** Bytes moved to or from disk (0 when the parent knows them from the write). */
  readonly bytes: number
  readonly wallMillis: number
  readonly cpuMillis: number
}

/** What an IOWorker prints. */
export interface IOWorkerReport {
  readonly mode: Mode
  readonly operations: ReadonlyArray<Operation>
  /** Whether the page cache was dropped before the timed read (needs root). */
  readonly cacheDropped: boolean
  /** `write`: where the value went; the other modes read it from there. */
  readonly location?: string | undefined
  /** Rows written or read back. */
  readonly rows: number
  /** `write`: time to build the table in memory (not part of the write). */
  readonly buildMillis?: number | undefined
  /** RSS once the table is built (write) or before the operation (others). */
  readonly rssBeforeBytes: number
  /** Peak RSS of the whole process (`process.resourceUsage().maxRSS`). */
  readonly maxRssBytes: number
}

/** Rounds of the whole sequence: each moves about 5 GiB. */
const IO_ROUNDS = Number(process.env.MATERIA_BENCH_IO_ROUNDS) || 3
/** The IO manager must reach at least this share of the raw bandwidth. */
const SHARE_GOAL = 0.5

type Name = Operation["name"]
const NAMES: ReadonlyArray<Name> = ["raw write", "raw read", "write", "load", "loadBatches"]

const LABELS: Record<Name, string> = {
  "raw write": "raw write: `FileHandle.write`, 16 MiB chunks, then `fsync`",
  "raw read": "raw read: `FileHandle.read`, 16 MiB chunks",
  write: "IO manager `write(table)`: IPC encode + sha256 + `writev` + fsyncs + manifest",
  load: "IO manager `load` (whole): read + sha256 + `tableFromIPC`",
  loadBatches: "IO manager `loadBatches` (streamed, hash verified at the end)"
}

/** The raw operation each IO manager operation is compared with. */
const RAW_OF: Partial<Record<Name, Name>> = { write: "raw write", load: "raw read", loadBatches: "raw read" }

/** Decimal megabytes per second. */
const rate = (bytes: number, millis: number): number => bytes / 1e6 / (millis / 1000)
const mbs = (value: number): string => count(value)

interface Measured {
  readonly operation: Operation
  readonly report: IOWorkerReport
}

/** Runs the disk benchmark. */
export const ioBench = async (): Promise<Section> => {
  const dir = makeTempDir("io-1gib")
  const rounds: Array<Map<Name, Measured>> = []
  try {
    for (let round = 0; round < IO_ROUNDS; round++) {
      const measured = new Map<Name, Measured>()
      const keep = (report: IOWorkerReport, bytes?: number) => {
        for (const operation of report.operations)
          measured.set(operation.name, {
            operation: bytes === undefined ? operation : { ...operation, bytes },
            report
          })
      }
      keep(await runTsJson<IOWorkerReport>("IOWorker.ts", ["raw", dir]))
      const written = await runTsJson<IOWorkerReport>("IOWorker.ts", ["write", dir])
      keep(written)
      const bytes = written.operations[0]!.bytes
      const value = [written.location!, String(written.rows)]
      keep(await runTsJson<IOWorkerReport>("IOWorker.ts", ["load", dir, ...value]), bytes)
      keep(await runTsJson<IOWorkerReport>("IOWorker.ts", ["stream", dir, ...value]), bytes)
      rmSync(join(dir, written.location!), { recursive: true, force: true })
      rounds.push(measured)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  const of = (name: Name) => rounds.map((r) => r.get(name)!)
  const rates = (name: Name) => of(name).map((m) => rate(m.operation.bytes, m.operation.wallMillis))
  /** Per round: this operation's rate over its raw counterpart's in the same round. */
  const shares = (name: Name): Array<number> => {
    const raw = RAW_OF[name]!
    const rateIn = (r: Map<Name, Measured>, n: Name) =>
      rate(r.get(n)!.operation.bytes, r.get(n)!.operation.wallMillis)
    return rounds.map((r) => rateIn(r, name) / rateIn(r, raw))
  }
  const share = (name: Name): number => median(shares(name))
  const percent = (value: number) => `${(value * 100).toFixed(0)}%`
  const cacheDropped = rounds.every(
    (r) => r.get("raw read")!.report.cacheDropped && r.get("load")!.report.cacheDropped
  )
  const tableBytes = median(of("write").map((m) => m.operation.bytes))
  const rows = of("write")[0]!.report.rows

  const tableRows = NAMES.map((name) => {
    const list = rates(name)
    const wall = median(of(name).map((m) => m.operation.wallMillis))
    const cpu = median(of(name).map((m) => m.operation.cpuMillis))
    return [
      LABELS[name],
      mbs(median(list)),
      `${mbs(Math.min(...list))}–${mbs(Math.max(...list))}`,
      `${ms(wall)} / ${ms(cpu)}`,
      RAW_OF[name] === undefined ? "" : `${percent(share(name))} (${shares(name).map(percent).join(", ")})`,
      mib(median(of(name).map((m) => m.report.rssBeforeBytes))),
      mib(median(of(name).map((m) => m.report.maxRssBytes)))
    ]
  })
  const goals: Array<Goal> = (["write", "load", "loadBatches"] as const).map((name) => {
    const raw = RAW_OF[name]!
    return {
      name: `fs IO manager ${name === "write" ? "write" : `${name} (read)`} of a ${mib(tableBytes)} MiB Arrow table vs ${raw}`,
      target: `≥ ${percent(SHARE_GOAL)} of raw`,
      actual:
        `${mbs(median(rates(name)))} vs ${mbs(median(rates(raw)))} MB/s (medians); median share of raw ` +
        `over the rounds ${percent(share(name))}`,
      met: share(name) >= SHARE_GOAL
    }
  })
  const build = median(of("write").map((m) => m.report.buildMillis ?? 0))
  /** Operations whose CPU time is at least 90% of their wall time: the CPU, not the disk, limits them. */
  const cpuBound = NAMES.filter((name) => {
    const wall = median(of(name).map((m) => m.operation.wallMillis))
    return median(of(name).map((m) => m.operation.cpuMillis)) >= 0.9 * wall
  })
  return {
    title: "6. Local-disk IO manager: a 1 GiB Arrow table",
    summary:
      `A table of ${count(rows)} rows (a Float64 and an Int32 column, no nulls, ${BATCHES} record batches of ` +
      `${count(BATCH_ROWS)} rows; ${mib(tableBytes)} MiB as an Arrow IPC stream) written with ` +
      "`makeFsIOManager({ root })` and read back whole and streamed, beside raw sequential IO of " +
      `${mib(GIB)} MiB in ${mib(RAW_CHUNK)} MiB chunks. Files live under bench/.tmp (the repository's disk) ` +
      `and are deleted after each round. ${IO_ROUNDS} rounds of raw write + read, write, load, loadBatches, ` +
      "each operation a fresh child process, no warm-up; medians (MB = 10⁶ bytes) and the range over " +
      "rounds. A share of raw is the median of the per-round ratios to the raw figure of the same round " +
      "(each round's in brackets).",
    tables: [
      {
        header: [
          "operation",
          "MB/s",
          "range MB/s",
          "ms (wall / CPU)",
          "share of raw (per round)",
          "RSS before (MiB)",
          "peak RSS (MiB)"
        ],
        rows: tableRows
      }
    ],
    goals,
    notes: [
      cacheDropped
        ? "Reads come from the disk: every read child ran `sync` and wrote 3 to /proc/sys/vm/drop_caches just before its timed read."
        : "Reads may come from the page cache: dropping it (/proc/sys/vm/drop_caches) failed in at least one round, so read rates can exceed the disk's.",
      "`write` takes a whole Table value, so the write child builds all of it in memory first (" +
        `${ms(build)} ms, not timed): its RSS before is the table. \`load\` reads the file into one buffer and ` +
        "decodes it without copying, so its peak RSS is about the table too; `loadBatches` holds a batch or so at a time.",
      "The IO manager hashes everything it writes and reads (sha256: the data version, verified on every read); the raw figures hash nothing. Its write also fsyncs the manifest and both folders.",
      cpuBound.length === 0
        ? "Every operation's CPU time is well below its wall time: they wait on the disk."
        : `CPU-bound (CPU time at least 90% of wall time, all threads counted): ${cpuBound.join(", ")}. ` +
          "A faster disk would not speed these up; less work per byte (hashing, copying, decoding) would.",
      "Page-cache writes on this VM cost kernel CPU time that varies from run to run (first touch of guest memory after the cache is dropped), so write rates vary by up to 2× between rounds; compare the per-round shares."
    ]
  }
}

/** Run alone (`node --import tsx bench/src/IOBench.ts`): prints this section only. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const section = await ioBench()
  process.stdout.write(`${renderSection(section)}\n`)
}
