/**
 * The demo (`npm run demo`): makes `evaluate` of the ML pipeline fresh in the project's local store
 * (`examples/ml-pipeline/.materia/`) with the console reporter, then prints the held-out accuracy
 * per region. `--force` recomputes every step. Ctrl-C cancels the run (exit 130); a failure exits 1.
 */
import { materialize, RunFailed } from "@materia/assets"
import { consoleReporter } from "@materia/core"
import { evaluate, project } from "./pipeline.ts"
import { REGIONS } from "./SyntheticData.ts"

const force = process.argv.includes("--force")
const tty = process.stdout.isTTY === true
const reporter = consoleReporter({
  stream: process.stdout,
  tty,
  color: tty && process.env.NO_COLOR === undefined
})

const controller = new AbortController()
process.on("SIGINT", () => {
  // A second Ctrl-C does not wait for the running steps to stop.
  if (controller.signal.aborted) process.exit(130)
  controller.abort()
})

const percent = (value: number): string => `${(value * 100).toFixed(1)}%`

try {
  const options = { onEvent: reporter.listener, signal: controller.signal }
  const result = force
    ? await materialize(project, ["+evaluate"], { ...options, force: true })
    : await materialize(project, ["evaluate"], options)
  reporter.close()
  if (result.plan.steps.length === 0)
    console.log(
      "Everything is fresh in examples/ml-pipeline/.materia/: nothing to run (recompute with: npm run demo -- --force)"
    )
  const report = await result.value(evaluate)
  console.log("\nHeld-out accuracy per region (majority-class baseline in brackets)")
  for (const region of REGIONS) {
    const r = report.regions[region]
    console.log(
      `  ${region.padEnd(8)} ${percent(r.accuracy).padStart(6)}  (${percent(r.baselineAccuracy)})  on ${r.heldOutRows} rows`
    )
  }
  console.log(
    `  ${"overall".padEnd(8)} ${percent(report.overall.accuracy).padStart(6)}  on ${report.overall.heldOutRows} rows`
  )
  process.exit(0)
} catch (error) {
  reporter.close()
  // The reporter has already shown which steps were canceled.
  if (error instanceof RunFailed && error.result.status === "canceled") process.exit(130)
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
}
