/**
 * The child-process entry of the execution benchmark: runs one executor over a layered graph (warm-up
 * runs, then N timed runs) and prints one JSON line with the samples and the process's RSS, so
 * each executor's memory is measured in a fresh process.
 * Usage: `node --import tsx bench/src/ExecuteWorker.ts <variant> <steps> <concurrency> <runs>`.
 */
import {
  AssetGraph,
  type ExecutableAsset,
  execute,
  makeMemoryIOManager,
  makeMemoryStorage,
  plan,
  resolveSelection
} from "@materia/core"
import { Effect } from "effect"
import { VARIANTS, type Variant, type WorkerReport } from "./ExecuteBench.ts"
import { effectExecutor, promiseExecutor } from "./Floors.ts"
import { layeredGraph, layeredSpecs } from "./LayeredGraph.ts"
import { sampleAsync } from "./Measure.ts"

const runner = (variant: Variant, steps: number, concurrency: number) => {
  const shape = layeredGraph(steps)
  const check = (completed: number) => {
    if (completed !== steps) throw new Error(`${variant} completed ${completed} of ${steps} tasks`)
  }
  let eventsPerRun = 0
  switch (variant) {
    case "materia-undefined":
    case "materia-number": {
      const specs = layeredSpecs(shape)
      const graph = AssetGraph.make(specs)
      const thePlan = plan(graph, resolveSelection(graph, "*"), new Map())
      const body: Effect.Effect<unknown> = variant === "materia-number" ? Effect.succeed(1) : Effect.void
      const assets = new Map<string, ExecutableAsset<never>>(
        specs.map((spec) => [spec.key, { spec, run: () => body }])
      )
      let run = 0
      return {
        eventsPerRun: () => eventsPerRun,
        once: async () => {
          let events = 0
          const outcome = await Effect.runPromise(
            execute({
              runId: `bench-${run++}`,
              project: "bench",
              graph,
              plan: thePlan,
              assets,
              snapshot: new Map(),
              storage: makeMemoryStorage(),
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
        }
      }
    }
    case "effect-floor":
      return {
        eventsPerRun: () => 0,
        once: async () =>
          check(await Effect.runPromise(effectExecutor(shape.parents, concurrency, Effect.void)))
      }
    case "promise-floor":
      return {
        eventsPerRun: () => 0,
        once: async () =>
          check(await promiseExecutor(shape.parents, shape.children, concurrency, () => undefined))
      }
  }
}

const main = async (argv: ReadonlyArray<string>) => {
  const [variant, stepsText, concurrencyText, runsText] = argv
  if (!VARIANTS.includes(variant as Variant))
    throw new Error(`unknown variant ${JSON.stringify(variant)}; expected one of ${VARIANTS.join(", ")}`)
  const steps = Number(stepsText)
  const r = runner(variant as Variant, steps, Number(concurrencyText))
  const rssBeforeBytes = process.memoryUsage().rss
  const samples = await sampleAsync(Number(runsText), r.once)
  const report: WorkerReport = {
    variant: variant as Variant,
    steps,
    samples,
    eventsPerRun: r.eventsPerRun(),
    rssBeforeBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

await main(process.argv.slice(2))
