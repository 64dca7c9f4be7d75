/**
 * The demo (`npm run demo`): makes `deploy` of the ML pipeline fresh in the project's local store
 * (`examples/ml-pipeline/.materia/`) with the console reporter, then prints the held-out accuracy
 * per region and whether the models were deployed, and why not. `--force` recomputes every step;
 * `--scenario noisy` (or empty, nulls, mistyped) recomputes them from a bad export. Alerts go to
 * MATERIA_ALERT_URL when set, else to stderr. Ctrl-C cancels (exit 130); a failure exits 1.
 */
import { materialize, RunFailed } from "@materia/assets"
import { consoleReporter } from "@materia/core"
import { decideDeployment, MIN_ACCURACY } from "./Deployment.ts"
import { accuracyByRegion, evaluate, makePipeline } from "./pipeline.ts"
import { REGIONS, SCENARIOS, type Scenario } from "./SyntheticData.ts"

const args = process.argv.slice(2)
const scenarioArg =
  args.find((a) => a.startsWith("--scenario="))?.slice("--scenario=".length) ??
  (args.includes("--scenario") ? (args[args.indexOf("--scenario") + 1] ?? "") : undefined)
const isScenario = (name: string): name is Scenario => (SCENARIOS as ReadonlyArray<string>).includes(name)
if (scenarioArg !== undefined && !isScenario(scenarioArg)) {
  console.error(`unknown scenario "${scenarioArg}": expected one of ${SCENARIOS.join(", ")}`)
  process.exit(2)
}
const scenario = scenarioArg
// Run configuration does not make an asset stale: another scenario is a forced run.
const force = args.includes("--force") || scenario !== undefined
const alertUrl = process.env.MATERIA_ALERT_URL
const { project, deploy } = makePipeline({ alertUrl })
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
  const options = {
    onEvent: reporter.listener,
    signal: controller.signal,
    config: { ingest: scenario === undefined ? undefined : { scenario } }
  }
  const result = force
    ? await materialize(project, ["+deploy"], { ...options, force: true })
    : await materialize(project, ["deploy"], options)
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
  // The same gate as `deploy`'s: when nothing ran, it tells what the stored state means.
  const decision = decideDeployment(accuracyByRegion(report))
  if (decision.deploy) {
    const deployment = await result.value(deploy)
    console.log(
      `Deployed: version ${deployment.version}, every region above ${percent(MIN_ACCURACY)} (lowest ${percent(deployment.accuracy.min)})`
    )
  } else {
    const where = alertUrl === undefined ? "written to stderr (set MATERIA_ALERT_URL to post it)" : "posted"
    const alerted = result.step("deploy")?.status === "skipped" ? `; alert ${where}` : ""
    console.log(`Not deployed: ${decision.reason}${alerted}`)
  }
  process.exit(0)
} catch (error) {
  reporter.close()
  // The reporter has already shown which steps were canceled.
  if (error instanceof RunFailed && error.result.status === "canceled") process.exit(130)
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
}
