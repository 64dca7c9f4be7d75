/**
 * Benchmark 3, start-up: wall time of a fresh process that imports @materia/assets and defines a
 * 1,000-asset project with the DSL (StartupChild), against a bare `node --import tsx -e ""`; and
 * which modules that import loads, checked with a resolve hook (module.register) in one traced run.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, sep } from "node:path"
import { pathToFileURL } from "node:url"
import { benchFile, ROOT, runNode } from "./Child.ts"
import { count, type Goal, median, ms, RUNS, type Section } from "./Measure.ts"
import type { StartupReport } from "./StartupChild.ts"

/** Packages that must load only when used (DESIGN: heavy or native dependencies). */
const HEAVY = [
  "hono",
  "@hono/*",
  "@duckdb/node-api",
  "@aws-sdk/*",
  "better-sqlite3",
  "pg",
  "bullmq",
  "ioredis"
]

const isHeavy = (pkg: string): boolean =>
  HEAVY.some((h) => (h.endsWith("/*") ? pkg.startsWith(h.slice(0, -1)) : pkg === h))

interface Probe {
  readonly name: string
  readonly args: ReadonlyArray<string>
  /** The probe this one is compared with (its index). */
  readonly baseline?: number | undefined
}

const IMPORT_EFFECT = 'await import("effect")'
const PROBES: ReadonlyArray<Probe> = [
  { name: '`node -e ""` (no tsx)', args: ["-e", ""] },
  { name: '`node --import tsx -e ""` (the floor)', args: ["--import", "tsx", "-e", ""], baseline: 0 },
  {
    name: "`node -e 'await import(\"effect\")'` (no tsx; the whole barrel)",
    args: ["--input-type=module", "-e", IMPORT_EFFECT],
    baseline: 0
  },
  {
    name: "`node --import tsx -e 'await import(\"effect\")'` (the whole barrel)",
    args: ["--import", "tsx", "--input-type=module", "-e", IMPORT_EFFECT],
    baseline: 1
  },
  {
    name: "import @materia/assets + define 1,000 assets (StartupChild.ts)",
    args: ["--import", "tsx", benchFile("StartupChild.ts")],
    baseline: 1
  }
]
const FULL = PROBES.length - 1

/** The package a loaded file belongs to: `effect`, `@aws-sdk/client-s3`, a workspace, or `node:*`. */
const packageOf = (urlOrPath: string): string => {
  if (urlOrPath.startsWith("node:")) return "node: builtins"
  const path = urlOrPath.startsWith("file:") ? new URL(urlOrPath).pathname : urlOrPath
  const marker = `${sep}node_modules${sep}`
  const at = path.lastIndexOf(marker)
  if (at >= 0) {
    const parts = path.slice(at + marker.length).split(sep)
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const root = ROOT.endsWith(sep) ? ROOT : `${ROOT}${sep}`
  if (path.startsWith(root)) {
    const folder = path.slice(root.length).split(sep)[0]!
    try {
      return (JSON.parse(readFileSync(join(root, folder, "package.json"), "utf8")) as { name: string }).name
    } catch {
      return `${folder}/ (not a package)`
    }
  }
  return "other"
}

const tally = (items: ReadonlyArray<string>): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const item of new Set(items)) {
    const pkg = packageOf(item)
    counts.set(pkg, (counts.get(pkg) ?? 0) + 1)
  }
  return new Map([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)))
}

/** Runs the start-up benchmark. */
export const startupBench = async (): Promise<Section> => {
  const walls = PROBES.map((): Array<number> => [])
  const inProcess: Array<StartupReport> = []
  // Round-robin, so that load on the machine hits every probe alike; round 0 is the warm-up
  // (it also fills tsx's transform cache).
  for (let round = 0; round <= RUNS; round++)
    for (let p = 0; p < PROBES.length; p++) {
      const result = await runNode(PROBES[p]!.args)
      if (round === 0) continue
      walls[p]!.push(result.wallMillis)
      if (p === FULL) inProcess.push(JSON.parse(result.stdout.trim()) as StartupReport)
    }
  const wall = walls.map((w) => median(w))

  const dir = mkdtempSync(join(tmpdir(), "materia-bench-"))
  let resolved: Array<string>
  let traced: StartupReport
  try {
    const log = join(dir, "resolved.log")
    const result = await runNode(["--import", "tsx", benchFile("StartupChild.ts"), "--trace", log])
    traced = JSON.parse(result.stdout.trim()) as StartupReport
    resolved = readFileSync(log, "utf8")
      .split("\n")
      .filter((line) => line !== "")
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const childUrl = pathToFileURL(benchFile("StartupChild.ts")).href
  const esm = tally(resolved.filter((url) => url !== childUrl))
  const commonJs = tally(traced.commonJs ?? [])
  const addons = traced.addons ?? []
  const heavyFound = [...esm.keys(), ...commonJs.keys(), ...addons.map(packageOf)].filter(isHeavy)

  const goals: Array<Goal> = [
    {
      name: "importing @materia/assets and defining a project loads no heavy dependency",
      target: `none of ${HEAVY.join(", ")}; no native addon`,
      actual:
        heavyFound.length === 0 && addons.length === 0
          ? "none loaded"
          : `loaded: ${[...new Set([...heavyFound, ...addons])].join(", ")}`,
      met: heavyFound.length === 0 && addons.length === 0
    }
  ]
  const listing = (counts: Map<string, number>) =>
    [...counts].map(([pkg, n]) => `${pkg} (${count(n)})`).join(", ") || "none"
  return {
    title: "3. Start-up: import @materia/assets and define 1,000 assets",
    summary:
      `Wall time of fresh processes from spawn to exit, started from the repository root, round-robin; ` +
      `median of ${RUNS} after one warm-up round. The child imports \`@materia/assets\` dynamically, ` +
      `then defines 10 layers of 100 assets with \`asset(key, { ins }, body)\` (2–3 inputs each, ` +
      `automatic code versions) and \`defineProject\`.`,
    tables: [
      {
        header: ["process", "median wall ms", "minus", "= ms"],
        rows: PROBES.map((probe, p) => [
          probe.name,
          ms(wall[p]!),
          probe.baseline === undefined ? "" : PROBES[probe.baseline]!.name.split(" (")[0]!,
          probe.baseline === undefined ? "" : ms(wall[p]! - wall[probe.baseline]!)
        ])
      },
      {
        caption: "Inside the child (medians, ms):",
        header: [
          "boot (node + tsx + the child module)",
          "import @materia/assets",
          "define 1,000 assets + project"
        ],
        rows: [
          [
            ms(median(inProcess.map((r) => r.bootMillis))),
            ms(median(inProcess.map((r) => r.importMillis))),
            ms(median(inProcess.map((r) => r.defineMillis)))
          ]
        ]
      },
      {
        caption:
          "Modules loaded by the traced run (package: distinct files). ESM: a resolve hook registered with " +
          "`module.register` (a data: URL) before the import logs every resolved URL; CommonJS: " +
          "`require.cache`; native addons: `.node` files among `process.report.getReport().sharedObjects`.",
        header: ["loader", "packages"],
        text: true,
        rows: [
          ["ESM (resolved URLs)", listing(esm)],
          ["CommonJS", listing(commonJs)],
          ["native addons", addons.length === 0 ? "none" : addons.join(", ")]
        ]
      }
    ],
    goals,
    notes: [
      `The ESM trace resolved ${count(resolved.length)} URLs (${count(new Set(resolved).size)} distinct).`,
      "No time goal is set for start-up; the rows with and without tsx show how much of it is loading `effect` through tsx's loader hooks."
    ]
  }
}
