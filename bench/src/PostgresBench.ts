/**
 * The PostgreSQL metadata store benchmark: benchmark 2's 10,000-step no-op run (body → undefined)
 * with the PostgreSQL store (a fresh database on 127.0.0.1:5432 per run) beside the SQLite and
 * in-memory stores, each timed run a fresh child process, round-robin. Run as a script with
 * `worker <steps> <concurrency> sync|async`, this module is the PostgreSQL child.
 */
import { fileURLToPath } from "node:url"
import {
  AssetGraph,
  type ExecutableAsset,
  execute,
  makeMemoryIOManager,
  plan,
  resolveSelection
} from "@materia/core"
import * as Effect from "effect/Effect"
import { runTsJson } from "./Child.ts"
import { CONCURRENCY, STEPS, type WorkerReport } from "./ExecuteBench.ts"
import { layeredGraph, layeredSpecs } from "./LayeredGraph.ts"
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
  sampleAsync,
  WARMUP_ROUNDS
} from "./Measure.ts"

const STORES = ["memory", "sqlite", "postgres", "postgres-async"] as const
type Store = (typeof STORES)[number]

const STORE_NAMES: Record<Store, string> = {
  memory: "in-memory store",
  sqlite: "SQLite store (WAL, synchronous = NORMAL)",
  postgres: "PostgreSQL store (loopback TCP, pool of 10)",
  "postgres-async": "PostgreSQL store, `synchronousCommit: false`"
}

/**
 * With the durability SQLite has here (a crash may lose the last commits, never tear one), the
 * PostgreSQL store must keep at least this share of the SQLite store's throughput.
 */
const VS_SQLITE_GOAL = 1 / 3

const percent = (share: number): string => `${(share * 100).toFixed(0)}%`

/** What the PostgreSQL child prints: ExecuteWorker's report, without a variant of its own. */
type PostgresReport = Omit<WorkerReport, "variant">

const child = (store: Store): Promise<PostgresReport> =>
  store === "postgres" || store === "postgres-async"
    ? runTsJson<PostgresReport>("PostgresBench.ts", [
        "worker",
        String(STEPS),
        String(CONCURRENCY),
        store === "postgres" ? "sync" : "async"
      ])
    : runTsJson<WorkerReport>("ExecuteWorker.ts", [
        store === "memory" ? "materia-undefined" : "materia-sqlite",
        String(STEPS),
        String(CONCURRENCY),
        "1"
      ])

/** Runs the PostgreSQL store benchmark. */
export const postgresBench = async (): Promise<Section> => {
  const reports = new Map<Store, Array<PostgresReport>>(STORES.map((s) => [s, []]))
  // One process at a time, alternating stores, so that load changes hit all alike.
  for (let round = 0; round < RUNS; round++)
    for (const store of STORES) reports.get(store)!.push(await child(store))
  const samplesOf = (s: Store): Samples => ({
    wall: reports.get(s)!.flatMap((r) => r.samples.wall),
    cpu: reports.get(s)!.flatMap((r) => r.samples.cpu)
  })
  const medianOf = (s: Store, pick: (r: PostgresReport) => number) => median(reports.get(s)!.map(pick))
  const vsMemory = pairedRatio(samplesOf("memory"), samplesOf("postgres-async"))
  const vsSqlite = pairedRatio(samplesOf("sqlite"), samplesOf("postgres-async"))
  const durable = pairedRatio(samplesOf("sqlite"), samplesOf("postgres"))
  const postgres = figure(samplesOf("postgres-async"))
  const postgresDurable = figure(samplesOf("postgres"))
  const sqlite = figure(samplesOf("sqlite"))

  const rows = STORES.map((s) => {
    const f = figure(samplesOf(s))
    const appends = medianOf(s, (r) => r.appendsPerRun)
    const events = medianOf(s, (r) => r.eventsPerRun)
    const kept = pairedRatio(samplesOf("memory"), samplesOf(s))
    return [
      STORE_NAMES[s],
      `${ms(f.wall)} / ${ms(f.cpu)}`,
      count((STEPS / f.wall) * 1000),
      micros((f.wall * 1000) / STEPS),
      `${percent(kept.wall)} / ${percent(kept.cpu)}`,
      count(appends),
      (events / appends).toFixed(1),
      mib(medianOf(s, (r) => r.maxRssBytes))
    ]
  })
  const goals: Array<Goal> = [
    {
      name:
        "PostgreSQL store (`synchronousCommit: false`, SQLite's durability) vs the SQLite store, " +
        "10,000 no-op steps: throughput kept",
      target: `≥ ${percent(VS_SQLITE_GOAL)} (1/3)`,
      actual:
        `${count((STEPS / postgres.wall) * 1000)} vs ${count((STEPS / sqlite.wall) * 1000)} steps/s ` +
        `(${ms(postgres.wall)} ms vs ${ms(sqlite.wall)} ms): ${percent(vsSqlite.wall)}; ` +
        `${percent(vsMemory.wall)} of the in-memory store; with the server's synchronous commit ` +
        `${count((STEPS / postgresDurable.wall) * 1000)} steps/s, ${percent(durable.wall)} of SQLite`,
      met: vsSqlite.wall >= VS_SQLITE_GOAL
    }
  ]
  return {
    title: "The PostgreSQL metadata store under the 10,000-step run",
    summary:
      `Benchmark 2's run (${count(STEPS)} no-op steps returning undefined, concurrency ${CONCURRENCY}, ` +
      "memory IO manager) with the stores `makeMemoryStorage()`, `makeSqliteStorage({ path })` on a fresh " +
      "file under bench/.tmp, and `makePostgresStorage({ url })` on a fresh database of the PostgreSQL server " +
      "at 127.0.0.1:5432 (created and migrated before the timing, dropped after it), as the server commits " +
      "(synchronous_commit on: each commit waits for a WAL flush) and with `synchronousCommit: false`. Each timed run is a " +
      `fresh child process (${WARMUP_ROUNDS} untimed warm-up runs, each on its own fresh store, a full GC, ` +
      `then the timed run), ${RUNS} per store, alternating; medians. Throughput kept is the median of the ` +
      "per-round ratios of memory time over the store's time. After each run the store is checked to hold " +
      "every asset's materialization.",
    tables: [
      {
        header: [
          "store",
          "ms (wall / CPU of the driver)",
          "steps/s",
          "µs/step",
          "throughput kept vs memory (wall / CPU)",
          "appends (transactions)/run",
          "events/append",
          "peak RSS (MiB)"
        ],
        rows
      }
    ],
    goals,
    notes: [
      "The CPU column is the driver process only: with PostgreSQL, the server's work happens in other " +
        "processes on the same 2 cores, so wall time is the figure to compare.",
      "An append to PostgreSQL is one prepared statement (seq counter bump, event insert, run, check, " +
        "asset and partition upserts as data-modifying CTEs): one loopback round trip and one transaction. " +
        "The executor waits for a step's materialization to commit before starting its children, so the " +
        "commit latency (a WAL flush with synchronous commit) is on the critical path."
    ]
  }
}

/** The child: execute() over the layered graph with a fresh PostgreSQL database per run. */
const worker = async (
  steps: number,
  concurrency: number,
  synchronousCommit: boolean
): Promise<PostgresReport> => {
  const { createTestDatabase, makePostgresStorage } = await import("@materia/core/postgres")
  const specs = layeredSpecs(layeredGraph(steps))
  const graph = AssetGraph.make(specs)
  const thePlan = plan(graph, resolveSelection(graph, "*"), new Map())
  const assets = new Map<string, ExecutableAsset<never>>(
    specs.map((spec) => [spec.key, { spec, run: () => Effect.void }])
  )
  type Open = Effect.Success<ReturnType<typeof makePostgresStorage>>
  let store: { storage: Open; drop: () => Promise<void> } | undefined
  let run = 0
  let events = 0
  let appends = 0
  const rssBeforeBytes = process.memoryUsage().rss
  const samples = await sampleAsync(
    1,
    async () => {
      const storage = store!.storage
      events = 0
      appends = 0
      const outcome = await Effect.runPromise(
        execute({
          runId: `bench-${run++}`,
          project: "bench",
          graph,
          plan: thePlan,
          assets,
          snapshot: new Map(),
          storage: {
            ...storage,
            append: (project, batch) => {
              appends++
              return storage.append(project, batch)
            }
          },
          ioManagers: new Map([["memory", makeMemoryIOManager()]]),
          limits: { concurrency },
          listeners: [
            () => {
              events++
            }
          ]
        })
      )
      if (outcome.status !== "succeeded") throw new Error(`run ${outcome.runId} ended ${outcome.status}`)
      const succeeded = outcome.steps.filter((s) => s.status === "succeeded").length
      if (succeeded !== steps) throw new Error(`postgres completed ${succeeded} of ${steps} steps`)
    },
    {
      before: async () => {
        const db = await createTestDatabase()
        store = {
          storage: await Effect.runPromise(makePostgresStorage({ url: db.url, synchronousCommit })),
          drop: db.drop
        }
      },
      after: async () => {
        const done = store!
        store = undefined
        const latest = await Effect.runPromise(done.storage.snapshot("bench"))
        if (latest.size !== steps)
          throw new Error(`postgres: the store holds ${latest.size} of ${steps} assets`)
        await Effect.runPromise(done.storage.close)
        await done.drop()
      }
    }
  )
  return {
    steps,
    samples,
    eventsPerRun: events,
    appendsPerRun: appends,
    storeBytes: 0,
    rssBeforeBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, stepsText, concurrencyText, commit] = process.argv.slice(2)
  if (mode === "worker") {
    const report = await worker(Number(stepsText), Number(concurrencyText), commit !== "async")
    process.stdout.write(`${JSON.stringify(report)}\n`)
  } else {
    const { renderSection } = await import("./Measure.ts")
    process.stdout.write(`${renderSection(await postgresBench())}\n`)
  }
}
