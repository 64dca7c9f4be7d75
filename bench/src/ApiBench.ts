/**
 * The HTTP API of `materia dev` on a 10,000-asset project: latency of
 * `GET /api/v1/assets` and `GET /api/v1/lineage`, cold (the first request after the code server
 * (re)loaded: statuses planned in the code server, sent over IPC, serialized) and warm (served from
 * the cache kept per code generation and store watermark), beside a floor: a bare node:http server
 * answering the same bytes, fetched the same way.
 */
import { rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { startDevServer } from "../../server/src/dev/DevServer.ts"
import { makeTempDir, ROOT, runNode } from "./Child.ts"
import { count, type Goal, median, mib, ms, RUNS, type Section, sampleAsync } from "./Measure.ts"
import { writeDeclaredConfig } from "./PlanProject.ts"

const ASSETS = 10_000
const GOAL_MILLIS = 200
const MATERIA = join(ROOT, "server", "bin", "materia.mjs")
/** The first asset of the generated graph (no upstream): what the CLI run re-materializes. */
const FIRST = "l000000_a00"

/** GETs `url` and reads the whole body; returns its size in bytes. */
const fetchAll = async (url: string): Promise<number> => {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`)
  return (await response.arrayBuffer()).byteLength
}

/** Runs the API benchmark. */
export const apiBench = async (): Promise<Section> => {
  const dir = makeTempDir("api-10k")
  try {
    return await measure(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const measure = async (dir: string): Promise<Section> => {
  const config = writeDeclaredConfig(dir, ASSETS, `written ${new Date().toISOString()}`)
  // Materialized once, so that every asset has a latest materialization to report.
  await runNode(
    [MATERIA, "materialize", "--select", "*", "--concurrency", "16", "--json", "--project", config],
    dir
  )
  const server = await startDevServer({ configFile: config, port: 0, uiDir: join(dir, "no-ui") })
  const floor = createServer()
  try {
    const assetsUrl = `${server.url}/api/v1/assets`
    const lineageUrl = `${server.url}/api/v1/lineage`
    const assetsBody = Buffer.from(await (await fetch(assetsUrl)).arrayBuffer())
    const lineageBody = Buffer.from(await (await fetch(lineageUrl)).arrayBuffer())
    const listed = (JSON.parse(assetsBody.toString("utf8")) as { assets: Array<{ status: string }> }).assets
    if (listed.length !== ASSETS || listed.some((a) => a.status !== "fresh"))
      throw new Error(`expected ${ASSETS} fresh assets, got ${listed.length}`)

    floor.on("request", (req, res) => {
      const body = req.url === "/lineage" ? lineageBody : assetsBody
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length })
      res.end(body)
    })
    await new Promise<void>((resolve) => floor.listen(0, "127.0.0.1", resolve))
    const floorUrl = `http://127.0.0.1:${(floor.address() as AddressInfo).port}`

    // After a reload (untimed): a new code server, which computed the catalog before taking over.
    const reload = { before: () => server.reload() }
    const assetsReload = await sampleAsync(RUNS, () => fetchAll(assetsUrl).then(() => {}), reload)
    const lineageReload = await sampleAsync(RUNS, () => fetchAll(lineageUrl).then(() => {}), reload)
    // After another process changed the store (untimed: a forced CLI run of one asset): the
    // catalog is computed on request.
    const cliRun = {
      before: () =>
        runNode(
          [MATERIA, "materialize", "--select", FIRST, "--force", "--json", "--project", config],
          dir
        ).then(() => {})
    }
    const assetsChanged = await sampleAsync(RUNS, () => fetchAll(assetsUrl).then(() => {}), cliRun)
    const lineageChanged = await sampleAsync(RUNS, () => fetchAll(lineageUrl).then(() => {}), cliRun)
    const assetsWarm = await sampleAsync(RUNS * 4, () => fetchAll(assetsUrl).then(() => {}))
    const lineageWarm = await sampleAsync(RUNS * 4, () => fetchAll(lineageUrl).then(() => {}))
    const assetsFloor = await sampleAsync(RUNS * 4, () => fetchAll(`${floorUrl}/assets`).then(() => {}))
    const lineageFloor = await sampleAsync(RUNS * 4, () => fetchAll(`${floorUrl}/lineage`).then(() => {}))
    const reloads = await sampleAsync(RUNS, () => server.reload())

    const f = {
      assetsWarm: median(assetsWarm.wall),
      assetsReload: median(assetsReload.wall),
      assetsChanged: median(assetsChanged.wall),
      lineageWarm: median(lineageWarm.wall),
      lineageReload: median(lineageReload.wall),
      lineageChanged: median(lineageChanged.wall)
    }
    const row = (
      name: string,
      bytes: number,
      warm: number,
      reloaded: number,
      changed: number,
      bare: number
    ) => [name, mib(bytes), ms(warm), ms(reloaded), ms(changed), ms(bare)]
    const goal = (endpoint: string, warm: number, reloaded: number): Goal => ({
      name: `\`GET /api/v1/${endpoint}\` on a ${count(ASSETS)}-asset project (warm, and first after a reload)`,
      target: `< ${GOAL_MILLIS} ms`,
      actual: `${ms(warm)} ms warm, ${ms(reloaded)} ms first after a reload`,
      met: warm < GOAL_MILLIS && reloaded < GOAL_MILLIS
    })
    return {
      title: `HTTP API of \`materia dev\` on a ${count(ASSETS)}-asset project`,
      summary:
        `The generated project of the \`materia plan\` benchmark (${count(ASSETS)} assets in layers of 100), materialized once ` +
        "with the CLI, served by `startDevServer` in this process (the project loaded in its code server " +
        "child). Wall time of one `fetch`, from the request to the last byte of the body; medians of " +
        `${RUNS} (${RUNS * 4} for warm). The code server computes the catalog (statuses planned against ` +
        "the SQLite store, and the JSON of both answers) when it loads, before taking over, and again " +
        "after its own runs; the server keeps it per code generation and store watermark (one indexed " +
        "SQLite read per request). " +
        "Warm: the same request again. After a reload: the first request after a new code server took " +
        "over (the reload itself untimed). After a CLI run: the first request after another process " +
        `(a forced \`materia materialize --select ${FIRST}\`, untimed) changed the store, so the catalog ` +
        "is computed on request. Floor: a bare `node:http` server in this process answering the same bytes.",
      tables: [
        {
          header: ["endpoint", "body MiB", "warm ms", "after a reload ms", "after a CLI run ms", "floor ms"],
          rows: [
            row(
              "`GET /api/v1/assets`",
              assetsBody.length,
              f.assetsWarm,
              f.assetsReload,
              f.assetsChanged,
              median(assetsFloor.wall)
            ),
            row(
              "`GET /api/v1/lineage`",
              lineageBody.length,
              f.lineageWarm,
              f.lineageReload,
              f.lineageChanged,
              median(lineageFloor.wall)
            )
          ]
        },
        {
          header: ["", "median ms"],
          rows: [
            ["reload: a new code server loads the project and computes the catalog", ms(median(reloads.wall))]
          ]
        }
      ],
      goals: [goal("assets", f.assetsWarm, f.assetsReload), goal("lineage", f.lineageWarm, f.lineageReload)],
      notes: [
        `After a change made by another process the first request computes the catalog: ${ms(f.assetsChanged)} ms ` +
          `for \`/assets\` here (planning ${count(ASSETS)} assets against a snapshot of the store, which is most of it).`
      ]
    }
  } finally {
    floor.close()
    await server.close()
  }
}
