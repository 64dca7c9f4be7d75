/**
 * The web UI's first render of a 1,000-asset graph in Chromium: a generated project (the layered
 * graph, 2,250 edges) served by a real `materia dev`, the built UI opened in Debian's Chromium
 * (playwright-core), timed from navigation start until every node in the opening viewport is drawn
 * after the elkjs layout — without and with the cached layout — beside the app shell's floor.
 * Run it alone with `tsx bench/src/UiBench.ts`.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs"
import os from "node:os"
import { fileURLToPath } from "node:url"
import type { Page } from "playwright-core"
import { ensureUiBuilt, launchChromium, startDev } from "../../test/src/browser/BrowserHarness.ts"
import { makeTempDir } from "./Child.ts"
import { edgeCount, layeredGraph } from "./LayeredGraph.ts"
import { count, type Goal, median, ms, RUNS, renderSection, type Section, WARMUP_ROUNDS } from "./Measure.ts"
import { writeDeclaredConfig } from "./PlanProject.ts"

const ASSETS = 1000
const GOAL_MILLIS = 2000
const TOKEN = "ui-bench"

/**
 * Runs in the page before its scripts: resolves `window.materiaDrawn` with the time (ms since
 * navigation start) of the first frame painted after `ready(document)` held, checked every frame.
 */
const WATCHER = (ready: string) => `
  window.materiaDrawn = new Promise((resolve) => {
    const ready = ${ready}
    const check = () => {
      if (ready(document)) requestAnimationFrame(() => resolve(performance.now()))
      else requestAnimationFrame(check)
    }
    requestAnimationFrame(check)
  })
`

/**
 * The graph is drawn when it is laid out and every node React Flow renders (only those in the
 * viewport) has been measured and made visible.
 */
const GRAPH_DRAWN = `(d) => {
  if (d.querySelector('.graph[data-state="ready"]') === null) return false
  const nodes = d.querySelectorAll(".react-flow__node")
  if (nodes.length === 0) return false
  for (const n of nodes) if (n.style.visibility === "hidden") return false
  return true
}`

/** The runs page is drawn when its table (or its empty message) is there: the app shell's floor. */
const SHELL_DRAWN = `(d) => d.querySelector("table.runs, .page p.muted a[href='/launch']") !== null`

const TICKS_PER_SECOND = 100

/**
 * CPU time (user + system, ms) of every process of the Chromium whose profile folder is `profile`
 * (browser, renderer with elk's worker, GPU and utility processes), from /proc: less disturbed than
 * wall time by other processes on a busy machine. 10 ms resolution.
 */
const chromiumCpuMillis = (profile: string): number => {
  let ticks = 0
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8")
      if (!cmdline.includes(profile)) continue
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      // Fields after the command name (which may hold spaces): utime and stime are the 14th and 15th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // The process ended meanwhile.
    }
  }
  return (ticks * 1000) / TICKS_PER_SECOND
}

interface GraphSample {
  readonly cpu: number
  readonly drawn: number
  readonly layout: number
  readonly nodes: number
  readonly assetsResponse: number
}

const measureGraph = async (page: Page, url: string, profile: string): Promise<GraphSample> => {
  const cpuStart = chromiumCpuMillis(profile)
  await page.goto(url)
  const drawn = (await page.evaluate("window.materiaDrawn")) as number
  const cpu = chromiumCpuMillis(profile) - cpuStart
  return (await page.evaluate(`({
    cpu: ${cpu},
    drawn: ${drawn},
    layout: Number(document.documentElement.dataset.layoutMillis),
    nodes: document.querySelectorAll(".react-flow__node").length,
    assetsResponse: performance.getEntriesByType("resource")
      .filter((e) => new URL(e.name).pathname === "/api/v1/assets")
      .map((e) => e.responseEnd)[0] ?? NaN
  })`)) as GraphSample
}

/** Waits until the project is loaded with all its assets (the code server loads it after start). */
const waitForAssets = async (url: string): Promise<void> => {
  for (;;) {
    const response = await fetch(`${url}/api/v1/project`)
    const project = (await response.json()) as { loadError: null | { message: string } }
    if (project.loadError !== null)
      throw new Error(`the bench project failed to load: ${project.loadError.message}`)
    const assets = await fetch(`${url}/api/v1/assets`)
    if (assets.ok && ((await assets.json()) as { assets: Array<unknown> }).assets.length === ASSETS) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Runs the UI benchmark. */
export const uiBench = async (): Promise<Section> => {
  const loadStart = os.loadavg()[0]!
  await ensureUiBuilt()
  const dir = makeTempDir("ui-1k")
  writeDeclaredConfig(dir, ASSETS, "ui bench")
  const dev = await startDev(dir, TOKEN)
  const browser = await launchChromium()
  try {
    await waitForAssets(dev.url)
    const shell: Array<number> = []
    const shellCpus: Array<number> = []
    const cold: Array<GraphSample> = []
    const cached: Array<GraphSample> = []
    for (let round = -WARMUP_ROUNDS; round < RUNS; round++) {
      const page = await browser.context.newPage()
      await page.goto(`${dev.url}/runs`)
      await page.evaluate("localStorage.clear()")
      await page.close()

      const shellPage = await browser.context.newPage()
      await shellPage.addInitScript(WATCHER(SHELL_DRAWN))
      const shellCpuStart = chromiumCpuMillis(browser.profile)
      await shellPage.goto(`${dev.url}/runs`)
      const shellDrawn = (await shellPage.evaluate("window.materiaDrawn")) as number
      const shellCpu = chromiumCpuMillis(browser.profile) - shellCpuStart
      await shellPage.close()

      const graphPage = await browser.context.newPage()
      await graphPage.addInitScript(WATCHER(GRAPH_DRAWN))
      const first = await measureGraph(graphPage, `${dev.url}/`, browser.profile)
      const again = await measureGraph(graphPage, `${dev.url}/`, browser.profile)
      await graphPage.close()
      if (first.nodes === 0 || again.nodes === 0) throw new Error("the graph drew no node")
      if (round < 0) continue
      shell.push(shellDrawn)
      shellCpus.push(shellCpu)
      cold.push(first)
      cached.push(again)
    }
    const m = (samples: ReadonlyArray<GraphSample>, f: (s: GraphSample) => number) => median(samples.map(f))
    const floor = median(shell)
    const coldDrawn = m(cold, (s) => s.drawn)
    const row = (name: string, samples: ReadonlyArray<GraphSample>) => [
      name,
      ms(m(samples, (s) => s.drawn)),
      ms(m(samples, (s) => s.drawn) - floor),
      ms(m(samples, (s) => s.cpu)),
      ms(m(samples, (s) => s.assetsResponse)),
      ms(m(samples, (s) => s.layout)),
      count(m(samples, (s) => s.nodes))
    ]
    const goals: Array<Goal> = [
      {
        name: `first render of a ${count(ASSETS)}-asset graph in Chromium (layout computed, nothing cached)`,
        target: `< ${count(GOAL_MILLIS)} ms`,
        actual: `${ms(coldDrawn)} ms from navigation start (the app shell floor alone: ${ms(floor)} ms)`,
        met: coldDrawn < GOAL_MILLIS
      }
    ]
    return {
      title: `Web UI: first render of a ${count(ASSETS)}-asset graph`,
      summary:
        `A generated project of ${count(ASSETS)} assets (the layered graph: layers of 100, ` +
        `${count(edgeCount(layeredGraph(ASSETS)))} edges) served by \`materia dev\`; the built UI opened ` +
        "in Debian's Chromium (headless, playwright-core, 1400×900). Times are ms from navigation start " +
        "to the first frame painted once the graph is laid out and every node in the opening viewport " +
        "(React Flow renders only those) is measured and visible. Cold: localStorage cleared, so elkjs " +
        "lays the graph out in its Web Worker; cached: the same page navigated again (the layout comes " +
        "from the cache keyed by the graph's shape). The floor is the app shell: the runs page, drawn " +
        `after one API call. Medians of ${RUNS}, after ${WARMUP_ROUNDS} untimed rounds.`,
      tables: [
        {
          header: [
            "page",
            "median ms to drawn",
            "minus the floor",
            "Chromium CPU ms",
            "/api/v1/assets answered at",
            "layout ms",
            "nodes drawn"
          ],
          rows: [
            ["runs page (the floor)", ms(floor), "", ms(median(shellCpus)), "", "", ""],
            row("**asset graph, cold (elkjs in a worker)**", cold),
            row("asset graph, cached layout", cached)
          ]
        }
      ],
      goals,
      notes: [
        `Load average (1 min) at start and end: ${loadStart.toFixed(2)}, ${os.loadavg()[0]!.toFixed(2)} on ` +
          `${os.cpus().length} cores. Chromium CPU ms is the CPU time of all of Chromium's processes (the ` +
          "page, elk's worker, the GPU and network processes) from navigation to drawn, from /proc " +
          "(10 ms resolution): wall times above the load are inflated by waiting for a core, CPU time less so.",
        "The minimap (one rectangle per asset) is mounted two frames after the nodes are drawn, so it " +
          "is not in these times.",
        "Layout ms is measured by the page from the moment the graph component asked for a layout " +
          "until it had one: the nodes ordered in JS (longest-path layers, barycenter sweeps), then elkjs " +
          "layered keeping that order (no crossing minimization of its own, simple node placement, one " +
          "thoroughness pass) in elk's worker, which the page starts before React's first render."
      ]
    }
  } finally {
    await browser.close()
    await dev.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  process.stdout.write(`${renderSection(await uiBench())}\n`)
