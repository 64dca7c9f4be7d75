/**
 * The child-process entry of the execution benchmarks: runs one executor over a layered graph (warm-up
 * runs, then N timed runs) and prints one JSON line with the samples and the process's RSS, so
 * each executor's memory is measured in a fresh process.
 * Usage: `node --import tsx bench/src/ExecuteWorker.ts <variant> <steps> <concurrency> <runs>`.
 */
import { rmSync, statSync } from "node:fs"
import { join } from "node:path"
import {
  AssetGraph,
  type ExecutableAsset,
  execute,
  makeMemoryIOManager,
  makeMemoryStorage,
  plan,
  resolveSelection,
  type StorageApi
} from "@materia/core"
import { Effect } from "effect"
import { makeTempDir } from "./Child.ts"
import { type Variant, WORKER_VARIANTS, type WorkerReport } from "./ExecuteBench.ts"
import { effectExecutor, promiseExecutor } from "./Floors.ts"
import { layeredGraph, layeredSpecs } from "./LayeredGraph.ts"
import { type AroundRun, sampleAsync } from "./Measure.ts"

interface Runner extends AroundRun {
  readonly once: () => Promise<void>
  readonly eventsPerRun: () => number
  readonly appendsPerRun: () => number
  readonly storeBytes: () => number
}

/** A store opened before a run (untimed) and closed and deleted after it. */
interface RunStore {
  readonly storage: StorageApi
  readonly close: () => Promise<void>
  /** Bytes the store left on disk, read before it is deleted. */
  readonly bytes: () => number
}

/** Fresh SQLite files under bench/.tmp, one per run; the folder is removed when the process exits. */
const sqliteStores = async (): Promise<() => Promise<RunStore>> => {
  const { makeSqliteStorage } = await import("@materia/core/sqlite")
  const dir = makeTempDir("sqlite-store")
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }))
  let opened = 0
  return async () => {
    const path = join(dir, `run-${opened++}.db`)
    const storage = await Effect.runPromise(makeSqliteStorage({ path }))
    const files = [path, `${path}-wal`, `${path}-shm`]
    return {
      storage,
      bytes: () =>
        [path, `${path}-wal`].reduce(
          (sum, file) => sum + (statSync(file, { throwIfNoEntry: false })?.size ?? 0),
          0
        ),
      close: async () => {
        await Effect.runPromise(storage.close)
        for (const file of files) rmSync(file, { force: true })
      }
    }
  }
}

const memoryStores = async (): Promise<() => Promise<RunStore>> => async () => ({
  storage: makeMemoryStorage(),
  bytes: () => 0,
  close: async () => {}
})

const runner = async (variant: Variant, steps: number, concurrency: number): Promise<Runner> => {
  const shape = layeredGraph(steps)
  const check = (completed: number) => {
    if (completed !== steps) throw new Error(`${variant} completed ${completed} of ${steps} tasks`)
  }
  const floor = (once: () => Promise<void>): Runner => ({
    once,
    eventsPerRun: () => 0,
    appendsPerRun: () => 0,
    storeBytes: () => 0
  })
  switch (variant) {
    case "materia-undefined":
    case "materia-number":
    case "materia-sqlite": {
      const specs = layeredSpecs(shape)
      const graph = AssetGraph.make(specs)
      const thePlan = plan(graph, resolveSelection(graph, "*"), new Map())
      const body: Effect.Effect<unknown> = variant === "materia-number" ? Effect.succeed(1) : Effect.void
      const assets = new Map<string, ExecutableAsset<never>>(
        specs.map((spec) => [spec.key, { spec, run: () => body }])
      )
      const openStore = variant === "materia-sqlite" ? await sqliteStores() : await memoryStores()
      let store: RunStore | undefined
      let run = 0
      let events = 0
      let appends = 0
      let eventsPerRun = 0
      let appendsPerRun = 0
      let storeBytes = 0
      return {
        eventsPerRun: () => eventsPerRun,
        appendsPerRun: () => appendsPerRun,
        storeBytes: () => storeBytes,
        before: async () => {
          store = await openStore()
          events = 0
          appends = 0
        },
        after: async () => {
          const done = store!
          store = undefined
          // Every materialization is in the store once the run returns.
          const latest = await Effect.runPromise(done.storage.snapshot("bench"))
          if (latest.size !== steps)
            throw new Error(`${variant}: the store holds ${latest.size} of ${steps} assets`)
          storeBytes = done.bytes()
          await done.close()
        },
        once: async () => {
          const storage = store!.storage
          const outcome = await Effect.runPromise(
            execute({
              runId: `bench-${run++}`,
              project: "bench",
              graph,
              plan: thePlan,
              assets,
              snapshot: new Map(),
              // Counts appends: one transaction each in SQLite.
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
          check(outcome.steps.filter((s) => s.status === "succeeded").length)
          eventsPerRun = events
          appendsPerRun = appends
        }
      }
    }
    case "effect-floor":
      return floor(async () =>
        check(await Effect.runPromise(effectExecutor(shape.parents, concurrency, Effect.void)))
      )
    case "promise-floor":
      return floor(async () =>
        check(await promiseExecutor(shape.parents, shape.children, concurrency, () => undefined))
      )
  }
}

const main = async (argv: ReadonlyArray<string>) => {
  const [variant, stepsText, concurrencyText, runsText] = argv
  if (!WORKER_VARIANTS.includes(variant as Variant))
    throw new Error(
      `unknown variant ${JSON.stringify(variant)}; expected one of ${WORKER_VARIANTS.join(", ")}`
    )
  const steps = Number(stepsText)
  const r = await runner(variant as Variant, steps, Number(concurrencyText))
  const rssBeforeBytes = process.memoryUsage().rss
  const samples = await sampleAsync(Number(runsText), r.once, r)
  const report: WorkerReport = {
    variant: variant as Variant,
    steps,
    samples,
    eventsPerRun: r.eventsPerRun(),
    appendsPerRun: r.appendsPerRun(),
    storeBytes: r.storeBytes(),
    rssBeforeBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

await main(process.argv.slice(2))
