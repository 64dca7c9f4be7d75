/**
 * Benchmark 4, the SQLite metadata store: the 10,000-step no-op run of benchmark 2 (body → undefined)
 * with the SQLite store (a fresh file under bench/.tmp per run) against the in-memory store, each
 * timed run a fresh child process (ExecuteWorker), round-robin.
 */
import { runTsJson } from "./Child.ts"
import { CONCURRENCY, LABELS, STEPS, type Variant, type WorkerReport } from "./ExecuteBench.ts"
import {
  count,
  figure,
  type Goal,
  median,
  mib,
  micros,
  ms,
  pairedRatio,
  RUNS,
  type Samples,
  type Section,
  WARMUP_ROUNDS
} from "./Measure.ts"

const STORES = ["materia-undefined", "materia-sqlite"] as const
type Store = (typeof STORES)[number]

/** The SQLite store must keep at least this share of the in-memory store's throughput. */
const THROUGHPUT_GOAL = 1 / 3

const percent = (share: number): string => `${(share * 100).toFixed(0)}%`

const STORE_NAMES: Record<Store, string> = {
  "materia-undefined": "in-memory store",
  "materia-sqlite": "SQLite store (WAL, synchronous = NORMAL)"
}

/** Runs the SQLite store benchmark. */
export const sqliteBench = async (): Promise<Section> => {
  const reports = new Map<Store, Array<WorkerReport>>(STORES.map((s) => [s, []]))
  // One process at a time (2 cores), alternating stores, so that load changes hit both alike.
  for (let round = 0; round < RUNS; round++)
    for (const store of STORES)
      reports
        .get(store)!
        .push(
          await runTsJson<WorkerReport>("ExecuteWorker.ts", [
            store satisfies Variant,
            String(STEPS),
            String(CONCURRENCY),
            "1"
          ])
        )
  const samplesOf = (s: Store): Samples => ({
    wall: reports.get(s)!.flatMap((r) => r.samples.wall),
    cpu: reports.get(s)!.flatMap((r) => r.samples.cpu)
  })
  const medianOf = (s: Store, pick: (r: WorkerReport) => number) => median(reports.get(s)!.map(pick))
  // Throughput of SQLite over memory = memory time over SQLite time, run i of each in round i.
  const kept = pairedRatio(samplesOf("materia-undefined"), samplesOf("materia-sqlite"))
  const memory = figure(samplesOf("materia-undefined"))
  const sqlite = figure(samplesOf("materia-sqlite"))

  const rows = STORES.map((s) => {
    const f = figure(samplesOf(s))
    const appends = medianOf(s, (r) => r.appendsPerRun)
    const events = medianOf(s, (r) => r.eventsPerRun)
    return [
      STORE_NAMES[s],
      `${ms(f.wall)} / ${ms(f.cpu)}`,
      count((STEPS / f.wall) * 1000),
      micros((f.wall * 1000) / STEPS),
      s === "materia-sqlite" ? `${percent(kept.wall)} / ${percent(kept.cpu)}` : "100% / 100%",
      count(appends),
      (events / appends).toFixed(1),
      s === "materia-sqlite" ? mib(medianOf(s, (r) => r.storeBytes)) : "",
      mib(medianOf(s, (r) => r.maxRssBytes))
    ]
  })
  const goals: Array<Goal> = [
    {
      name: `${LABELS["materia-sqlite"]}: throughput kept vs the in-memory store`,
      target: `≥ ${percent(THROUGHPUT_GOAL)} (1/3)`,
      actual:
        `${count((STEPS / sqlite.wall) * 1000)} vs ${count((STEPS / memory.wall) * 1000)} steps/s ` +
        `(${ms(sqlite.wall)} ms vs ${ms(memory.wall)} ms): ${percent(kept.wall)} ` +
        `(CPU time: ${percent(kept.cpu)})`,
      met: kept.wall >= THROUGHPUT_GOAL
    }
  ]
  return {
    title: "4. The SQLite metadata store under the 10,000-step run",
    summary:
      `Benchmark 2's run (${count(STEPS)} no-op steps returning undefined, concurrency ${CONCURRENCY}, ` +
      "memory IO manager) with two stores: `makeMemoryStorage()` and `makeSqliteStorage({ path })` on a " +
      "fresh file under bench/.tmp (same disk as the repository) for every run, opened before the timing " +
      `and closed and deleted after it. Each timed run is a fresh child process (${WARMUP_ROUNDS} untimed ` +
      `warm-up runs, each on its own fresh file, a full GC, then the timed run), ${RUNS} per store, ` +
      "alternating; medians. Throughput kept is the median of the per-round ratios of memory time over " +
      "SQLite time. After each run the store is checked to hold every asset's materialization.",
    tables: [
      {
        header: [
          "store",
          "ms (wall / CPU)",
          "steps/s",
          "µs/step",
          "throughput kept (wall / CPU)",
          "appends (transactions)/run",
          "events/append",
          "SQLite file + WAL (MiB)",
          "peak RSS (MiB)"
        ],
        rows
      }
    ],
    goals,
    notes: [
      "The executor group-commits (core/src/execute/EventBuffer.ts): steps finishing together share one " +
        "`append`, and each step's children start only once its materialization is in the store. " +
        "Appends are counted by wrapping the store's `append`; with SQLite each is one transaction.",
      "The store opens in WAL mode with `synchronous = NORMAL`: a commit appends to the WAL without an " +
        "fsync (only checkpoints fsync), so the figure is mostly SQLite's own work (statements, JSON " +
        "payloads, indexes) and page-cache writes, not disk flushes."
    ]
  }
}
