/**
 * Benchmark 5, `materia plan` on a fully fresh 10,000-asset project, process start included: a
 * generated materia.config.ts (PlanProject) under bench/.tmp, materialized once with the CLI, then
 * `node server/bin/materia.mjs plan` timed from spawn to exit beside `node --import tsx -e ""`.
 */
import { rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { benchFile, type ChildResult, makeTempDir, ROOT, runNode } from "./Child.ts"
import { count, type Goal, median, mib, ms, RUNS, type Section } from "./Measure.ts"
import type { PlanChildReport } from "./PlanChild.ts"
import { writeDeclaredConfig, writeLoopConfig } from "./PlanProject.ts"

const ASSETS = 10_000
const PLAN_GOAL_MILLIS = 1000
const MATERIA = join(ROOT, "server", "bin", "materia.mjs")
const NOTHING_TO_DO = "Nothing to do"
/** Probes from this index on are PlanChild runs whose phases are kept. */
const CHILDREN = 4

interface Probe {
  readonly name: string
  readonly args: ReadonlyArray<string>
  /** Runs before each run of the probe, untimed. */
  readonly before?: (() => void) | undefined
  /** Throws when the output is not what a fresh project gives. */
  readonly check: (result: ChildResult) => void
}

const expectFresh = (result: ChildResult) => {
  if (!result.stdout.includes(NOTHING_TO_DO))
    throw new Error(`materia plan did not print "${NOTHING_TO_DO}":\n${result.stdout.slice(0, 2000)}`)
}

const childReport = (result: ChildResult): PlanChildReport => {
  const report = JSON.parse(result.stdout.trim()) as PlanChildReport
  if (report.assets !== ASSETS || report.steps !== 0)
    throw new Error(`PlanChild loaded ${report.assets} assets and planned ${report.steps} steps`)
  return report
}

/** Runs the `materia plan` benchmark. */
export const planCliBench = async (): Promise<Section> => {
  const dir = makeTempDir("plan-10k")
  try {
    const declared = writeDeclaredConfig(dir, ASSETS, `first written ${new Date().toISOString()}`)
    const loop = writeLoopConfig(dir, ASSETS)
    const configBytes = statSync(declared).size
    const materialized = await runNode(
      [MATERIA, "materialize", "--select", "*", "--concurrency", "16", "--json"],
      dir
    )
    let rewrites = 0

    const probes: ReadonlyArray<Probe> = [
      { name: '`node --import tsx -e ""` (the floor)', args: ["--import", "tsx", "-e", ""], check: () => {} },
      { name: "`materia --help` (the CLI, no project)", args: [MATERIA, "--help"], check: () => {} },
      { name: "**`materia plan`**", args: [MATERIA, "plan"], check: expectFresh },
      {
        name: "`materia plan`, config file just rewritten (a new comment: tsx transforms it again)",
        args: [MATERIA, "plan"],
        // A new stamp misses tsx's transform cache and changes no code version.
        before: () =>
          void writeDeclaredConfig(dir, ASSETS, `rewrite ${++rewrites} ${new Date().toISOString()}`),
        check: expectFresh
      },
      {
        name: "PlanChild.ts, materia.config.ts (phases below)",
        args: ["--import", "tsx", benchFile("PlanChild.ts"), declared, dir],
        check: (r) => void childReport(r)
      },
      {
        name: "PlanChild.ts, loop.config.ts (the same assets made by a loop)",
        args: ["--import", "tsx", benchFile("PlanChild.ts"), loop, dir],
        check: (r) => void childReport(r)
      }
    ]
    const walls = probes.map((): Array<number> => [])
    const phases = [[], []] as [Array<PlanChildReport>, Array<PlanChildReport>]
    // The materialization loaded the CLI and materia.config.ts; one untimed run of each PlanChild
    // warms the rest (loop.config.ts into tsx's cache, the files into the page cache).
    for (let p = CHILDREN; p < probes.length; p++) probes[p]!.check(await runNode(probes[p]!.args, dir))
    for (let round = 0; round < RUNS; round++)
      for (let p = 0; p < probes.length; p++) {
        probes[p]!.before?.()
        const result = await runNode(probes[p]!.args, dir)
        probes[p]!.check(result)
        walls[p]!.push(result.wallMillis)
        if (p >= CHILDREN) phases[p - CHILDREN]!.push(childReport(result))
      }
    const wall = walls.map((w) => median(w))
    const floor = wall[0]!
    const plan = wall[2]!
    const cold = wall[3]!

    const phaseRow = (name: string, reports: ReadonlyArray<PlanChildReport>) => {
      const m = (pick: (r: PlanChildReport) => number) => median(reports.map(pick))
      return [
        name,
        ms(m((r) => r.bootMillis)),
        ms(m((r) => r.importMillis)),
        ms(m((r) => r.configMillis)),
        ms(m((r) => r.openMillis)),
        ms(m((r) => r.snapshotMillis)),
        ms(m((r) => r.planMillis)),
        ms(
          m(
            (r) =>
              r.bootMillis + r.importMillis + r.configMillis + r.openMillis + r.snapshotMillis + r.planMillis
          )
        )
      ]
    }
    const configPhase = (i: 0 | 1) => median(phases[i].map((r) => r.configMillis))
    const goals: Array<Goal> = [
      {
        name: `\`materia plan\` on a fresh ${count(ASSETS)}-asset project, process start included`,
        target: `< ${count(PLAN_GOAL_MILLIS)} ms`,
        actual: `${ms(plan)} ms wall (the \`node --import tsx\` floor alone: ${ms(floor)} ms)`,
        met: plan < PLAN_GOAL_MILLIS
      }
    ]
    return {
      title: `5. \`materia plan\` on a fresh ${count(ASSETS)}-asset project`,
      summary:
        `A generated \`materia.config.ts\` (${mib(configBytes)} MiB) declares ${count(ASSETS)} assets one by ` +
        "one with `asset(key, { ins }, () => undefined)` (the layered graph: layers of 100, 2–3 inputs from " +
        "the previous layer, automatic code versions) and `defineProject`, in a folder under bench/.tmp. " +
        "It is materialized once with `materia materialize --select '*'` (SQLite store in its " +
        "`.materia/`), then every process below runs with that folder as its working directory: wall " +
        `time from spawn to exit, round-robin, median of ${RUNS} (the materialization and one untimed run ` +
        "of each PlanChild warm the caches first). " +
        `\`materia plan\` must print "${NOTHING_TO_DO}", and PlanChild must plan 0 steps.`,
      tables: [
        {
          header: ["process", "median wall ms", "minus the floor"],
          rows: probes.map((probe, p) => [probe.name, ms(wall[p]!), p === 0 ? "" : ms(wall[p]! - floor)])
        },
        {
          caption:
            "Inside PlanChild.ts, which does what `materia plan` does with each phase timed (medians, ms): " +
            "boot is node + tsx + the child module; import is `@materia/assets`, `@materia/core` and " +
            "`effect`; config is importing the config module (transform from tsx's cache, then " +
            'defining the project); open is `resolveStore("local")` and marking dead runs; snapshot reads ' +
            "the latest materialization of every asset from SQLite; plan is `resolveSelection(*)` + `plan()`.",
          header: ["config", "boot", "import", "config", "open store", "snapshot", "plan", "total"],
          rows: [
            phaseRow("materia.config.ts (declarations)", phases[0]),
            phaseRow("loop.config.ts (a loop)", phases[1])
          ]
        }
      ],
      goals,
      notes: [
        `tsx caches transforms by content: the first \`materia plan\` after the config file changed ` +
          `took ${ms(cold)} ms against ${ms(plan)} ms once cached, so transforming the ` +
          `${mib(configBytes)} MiB config costs about ${ms(cold - plan)} ms once per change of the file. ` +
          `With the transform cached, importing it takes ${ms(configPhase(0))} ms against ` +
          `${ms(configPhase(1))} ms for the same assets made by a loop in a small module.`,
        `The one materialization of the ${count(ASSETS)} assets (\`materia materialize --select '*' ` +
          `--concurrency 16 --json\`, process included): ${ms(materialized.wallMillis)} ms.`,
        "`materia plan` minus the PlanChild row for materia.config.ts is the CLI's own cost: its " +
          "modules (through tsx's `register()` rather than `--import tsx`), parsing arguments and printing."
      ]
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
