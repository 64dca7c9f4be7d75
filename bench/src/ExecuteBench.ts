/**
 * Benchmark 2, execution: core's `execute()` over a 10,000-asset layered graph of no-op bodies
 * (in-memory storage and IO manager, one counting event listener), against a bare Effect executor
 * and a bare Promise ready queue. Every timed run is a fresh child process (ExecuteWorker).
 */
import { runTsJson } from "./Child.ts"
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
  times,
  WARMUP_ROUNDS
} from "./Measure.ts"

/** The executors this benchmark compares. */
export const VARIANTS = ["materia-undefined", "materia-number", "effect-floor", "promise-floor"] as const
/** Every executor an ExecuteWorker runs: these, and materia with the SQLite store (SqliteBench). */
export const WORKER_VARIANTS = [...VARIANTS, "materia-sqlite"] as const
export type Variant = (typeof WORKER_VARIANTS)[number]

/** What an ExecuteWorker prints. */
export interface WorkerReport {
  readonly variant: Variant
  readonly steps: number
  readonly samples: Samples
  /** Events the listener saw in one run (0 for the floors). */
  readonly eventsPerRun: number
  /** `storage.append` calls (one transaction each in SQLite) in one run (0 for the floors). */
  readonly appendsPerRun: number
  /** Size of the SQLite file with its WAL after one run (0 for the other variants). */
  readonly storeBytes: number
  /** RSS once the graph (and plan) are built, before the first run. */
  readonly rssBeforeBytes: number
  /** Peak RSS of the whole process (`process.resourceUsage().maxRSS`). */
  readonly maxRssBytes: number
}

export const STEPS = 10_000
export const CONCURRENCY = 16
const EFFECT_GOAL = 5

export const LABELS: Record<Variant, string> = {
  "materia-undefined": "materia execute(), body → undefined",
  "materia-sqlite": "materia execute(), body → undefined, SQLite store",
  "materia-number": "materia execute(), body → 1",
  "effect-floor": "Effect floor: fiber + Deferred per task, Semaphore",
  "promise-floor": "Promise floor: ready queue, indegree counters"
}

/** Runs the execution benchmark. */
export const executeBench = async (): Promise<Section> => {
  // Round-robin over fresh processes, one after the other (2 cores: runs must not compete), so
  // that changing load on the machine hits every executor alike. Each process warms up, then
  // times one run.
  const reports = new Map<Variant, Array<WorkerReport>>(VARIANTS.map((v) => [v, []]))
  for (let round = 0; round < RUNS; round++)
    for (const variant of VARIANTS)
      reports
        .get(variant)!
        .push(
          await runTsJson<WorkerReport>("ExecuteWorker.ts", [
            variant,
            String(STEPS),
            String(CONCURRENCY),
            "1"
          ])
        )
  const samplesOf = (v: Variant): Samples => ({
    wall: reports.get(v)!.flatMap((r) => r.samples.wall),
    cpu: reports.get(v)!.flatMap((r) => r.samples.cpu)
  })
  const medianOf = (v: Variant, pick: (r: WorkerReport) => number) => median(reports.get(v)!.map(pick))
  const figureOf = (v: Variant) => figure(samplesOf(v))
  const effectFloor = figureOf("effect-floor")
  const overEffect = (v: Variant) => pairedRatio(samplesOf(v), samplesOf("effect-floor"))
  const overPromise = (v: Variant) => pairedRatio(samplesOf(v), samplesOf("promise-floor"))

  const rows = VARIANTS.map((v) => {
    const f = figureOf(v)
    const t = f.wall
    return [
      LABELS[v],
      `${ms(t)} / ${ms(f.cpu)}`,
      count((STEPS / t) * 1000),
      micros((t * 1000) / STEPS),
      v.startsWith("materia") ? micros(((t - effectFloor.wall) * 1000) / STEPS) : "",
      `${times(overEffect(v).wall)} / ${times(overEffect(v).cpu)}`,
      times(overPromise(v).wall),
      v.startsWith("materia") ? count(medianOf(v, (r) => r.eventsPerRun)) : "",
      mib(medianOf(v, (r) => r.rssBeforeBytes)),
      mib(medianOf(v, (r) => r.maxRssBytes))
    ]
  })
  const goals: Array<Goal> = (["materia-undefined", "materia-number"] as const).map((v) => {
    const ratio = overEffect(v)
    return {
      name: `${LABELS[v]} vs the Effect floor`,
      target: `≤ ${EFFECT_GOAL}×`,
      actual:
        `${ms(figureOf(v).wall)} ms vs ${ms(effectFloor.wall)} ms, ratio ${times(ratio.wall)} ` +
        `(CPU time: ${times(ratio.cpu)})`,
      met: ratio.wall <= EFFECT_GOAL
    }
  })
  return {
    title: "2. Executing a layered graph of no-op steps",
    summary:
      `${count(STEPS)} steps (layers of 100, 2–3 parents each), concurrency ${CONCURRENCY}. Materia: ` +
      `\`execute()\` with a RunRequest built directly (memory storage and IO manager, one listener ` +
      `counting events). Each timed run is a fresh child process (${WARMUP_ROUNDS} untimed warm-up runs, a full GC, then ` +
      `the timed run), ${RUNS} per executor, round-robin; medians, and ratios are medians of the per-round ratios. Rates and per-step figures use wall ` +
      `time. The floors run the same no-op body (\`Effect.void\` / \`() => undefined\`).`,
    tables: [
      {
        header: [
          "executor",
          "ms (wall / CPU)",
          "steps/s",
          "µs/step",
          "overhead µs/step vs Effect floor",
          "× Effect floor (wall / CPU)",
          "× Promise floor",
          "events/run",
          "RSS before runs (MiB)",
          "peak RSS (MiB)"
        ],
        rows
      }
    ],
    goals,
    notes: [
      "Peak RSS is each child's `process.resourceUsage().maxRSS` (median over its processes) over its warm-up and timed run, including the graph, the plan, loaded modules and tsx itself; compare it with the RSS before runs.",
      "A no-op materia step still emits 3 events (StepStarted, Materialization, StepSucceeded), computes a logical data version (sha256) and appends its events to storage before its children start; the body returning 1 also writes through the memory IO manager."
    ]
  }
}
