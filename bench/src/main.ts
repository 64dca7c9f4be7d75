/**
 * `npm run bench`: runs the planning, execution, start-up, SQLite store, `materia plan` and disk
 * benchmarks one after the other, prints each section and whether each goal is met, and overwrites
 * bench/RESULTS.md with the machine description and one table per benchmark.
 */
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { fileURLToPath } from "node:url"
import { apiBench } from "./ApiBench.ts"
import { ROOT } from "./Child.ts"
import { daemonBench } from "./DaemonBench.ts"
import { executeBench } from "./ExecuteBench.ts"
import { ioBench } from "./IOBench.ts"
import { type Goal, renderSection, type Section, verdict } from "./Measure.ts"
import { partitionBench } from "./PartitionBench.ts"
import { planBench } from "./PlanBench.ts"
import { planCliBench } from "./PlanCliBench.ts"
import { postgresBench } from "./PostgresBench.ts"
import { queueBench } from "./QueueBench.ts"
import { s3Bench } from "./S3Bench.ts"
import { sqliteBench } from "./SqliteBench.ts"
import { startupBench } from "./StartupBench.ts"
import { streamBench } from "./StreamBench.ts"
import { uiBench } from "./UiBench.ts"

const RESULTS = fileURLToPath(new URL("../RESULTS.md", import.meta.url))

const cpuModel = (): string => {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"))
    if (line !== undefined) return line.slice(line.indexOf(":") + 1).trim()
  } catch {
    // Not Linux: fall back to what Node reports.
  }
  return os.cpus()[0]?.model ?? "unknown"
}

const gitCommit = (): string => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}

const loadText = (load: ReadonlyArray<number>) => load.map((l) => l.toFixed(2)).join(", ")

const machine = (loadAtStart: ReadonlyArray<number>, loadAtEnd: ReadonlyArray<number>): Section => {
  const effect = JSON.parse(readFileSync(`${ROOT}node_modules/effect/package.json`, "utf8")) as {
    version: string
  }
  const cores = os.cpus().length
  const busy = Math.max(loadAtStart[0]!, loadAtEnd[0]!) > cores
  return {
    title: "Machine",
    summary: "",
    tables: [
      {
        header: ["", "value"],
        text: true,
        rows: [
          ["CPU", cpuModel()],
          ["cores", String(cores)],
          ["memory", `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
          ["OS", `${os.type()} ${os.release()} (${os.arch()})`],
          ["Node.js", process.version],
          ["effect", effect.version],
          ["commit", gitCommit()],
          ["date", new Date().toISOString()],
          ["load average at start (1, 5, 15 min)", loadText(loadAtStart)],
          ["load average at end (1, 5, 15 min)", loadText(loadAtEnd)]
        ]
      }
    ],
    goals: [],
    notes: busy
      ? [
          `Other processes were running (1-minute load average above ${cores}): wall times are noisy; CPU times, ` +
            "where shown, are less affected. Compare ratios measured in the same run."
        ]
      : []
  }
}

const print = (section: Section) => {
  process.stdout.write(`\n${renderSection(section)}\n`)
}

const main = async () => {
  const started = performance.now()
  const loadAtStart = os.loadavg()
  process.stdout.write(
    `Materia benchmarks on ${cpuModel()}, ${os.cpus().length} cores, Node.js ${process.version}; load average ${loadText(loadAtStart)}\n`
  )
  const sections: Array<Section> = []
  const benches = [
    async () => planBench(),
    partitionBench,
    executeBench,
    startupBench,
    sqliteBench,
    postgresBench,
    queueBench,
    planCliBench,
    ioBench,
    s3Bench,
    streamBench,
    daemonBench,
    apiBench,
    uiBench
  ]
  for (const bench of benches) {
    const sectionStart = performance.now()
    const section = await bench()
    print(section)
    process.stdout.write(`(${((performance.now() - sectionStart) / 1000).toFixed(0)} s)\n`)
    sections.push(section)
  }
  const header = machine(loadAtStart, os.loadavg())
  const goals: Array<Goal> = sections.flatMap((s) => s.goals)
  const totalSeconds = (performance.now() - started) / 1000
  const summary = [
    "## Goals",
    goals.map((g) => `- ${verdict(g)}`).join("\n"),
    `Whole benchmark: ${totalSeconds.toFixed(0)} s.`
  ].join("\n\n")
  const document = [
    "# Materia benchmarks",
    "Written by `npm run bench` (bench/src/main.ts); every run overwrites this file. Times are medians; floors are the least code that does the same job, measured in the same run.",
    renderSection(header),
    ...sections.map(renderSection),
    summary
  ].join("\n\n")
  writeFileSync(RESULTS, `${document}\n`)
  process.stdout.write(`\n${summary}\n\nWrote ${RESULTS}\n`)
}

await main()
