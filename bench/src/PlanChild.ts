/**
 * The child-process entry of the `materia plan` benchmark: does what `materia plan` does on a project
 * (import the DSL, load the config module, open the local store, read the latest materializations,
 * plan everything) with each phase timed, and prints one JSON line.
 * Usage: `node --import tsx bench/src/PlanChild.ts <config file> <project root>`.
 */
import { pathToFileURL } from "node:url"
import type { AnyProject } from "@materia/assets"

/** What the child prints; times in milliseconds. */
export interface PlanChildReport {
  /** `performance.now()` when this module starts: node boot, tsx and this module's own loading. */
  readonly bootMillis: number
  readonly importMillis: number
  /** Importing the config module: reading (tsx transform or its cache) and defining the project. */
  readonly configMillis: number
  /** `resolveStore("local", root)` (SQLite and the fs IO manager) and marking dead runs. */
  readonly openMillis: number
  /** `storage.snapshot(project)`: the latest materialization of every asset. */
  readonly snapshotMillis: number
  /** `resolveSelection(*)` and `plan()` with that snapshot. */
  readonly planMillis: number
  readonly assets: number
  readonly steps: number
}

const isProject = (u: unknown): u is AnyProject =>
  typeof u === "object" && u !== null && "graph" in u && "byKey" in u && "name" in u

const main = async (argv: ReadonlyArray<string>) => {
  const bootMillis = performance.now()
  const [configFile, root] = argv
  if (configFile === undefined || root === undefined)
    throw new Error("usage: PlanChild.ts <config file> <project root>")

  const importStart = performance.now()
  const { isDriverAlive, resolveStore } = await import("@materia/assets")
  const { markDeadRuns, plan, resolveSelection } = await import("@materia/core")
  const { Effect } = await import("effect")
  const configStart = performance.now()
  const module = (await import(pathToFileURL(configFile).href)) as { readonly default: unknown }
  const project = module.default
  if (!isProject(project)) throw new Error(`${configFile} does not default-export a project`)
  const openStart = performance.now()
  const store = await Effect.runPromise(resolveStore("local", root))
  await Effect.runPromise(markDeadRuns(store.storage, project.name, isDriverAlive))
  const snapshotStart = performance.now()
  const snapshot = await Effect.runPromise(store.storage.snapshot(project.name))
  const planStart = performance.now()
  const thePlan = plan(project.graph, resolveSelection(project.graph, "*"), snapshot)
  const end = performance.now()
  await store.close()

  const report: PlanChildReport = {
    bootMillis,
    importMillis: configStart - importStart,
    configMillis: openStart - configStart,
    openMillis: snapshotStart - openStart,
    snapshotMillis: planStart - snapshotStart,
    planMillis: end - planStart,
    assets: project.graph.size,
    steps: thePlan.steps.length
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

await main(process.argv.slice(2))
