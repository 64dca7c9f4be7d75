/**
 * Benchmark 7, the HTTP API of `materia dev` on a 10,000-asset project: latency of
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

/** GETs `url` and reads the whole body; returns its size in bytes. */
const fetchAll = async (url: string): Promise<number> => {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`)
  return (await response.arrayBuffer()).byteLength
}

/** Runs the API benchmark. */
export const apiBench = async (): Promise<Section> => {
  const dir = makeTempDir("api-10k")
  const config = writeDeclaredConfig(dir, ASSETS, `written ${new Date().toISOString()}`)
  // Materialized once, so that every asset has a latest materialization to report.
  await runNode([MATERIA, "materialize", "--select", "*", "--concurrency", "16", "--json", "--project", config], dir)
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

    // Cold: each run follows a reload (untimed): a new code server, so no cached catalog.
    const reload = { before: () => server.reload() }
    const assetsCold = await sampleAsync(RUNS, () => fetchAll(assetsUrl).then(() => {}), reload)
    const lineageCold = await sampleAsync(RUNS, () => fetchAll(lineageUrl).then(() => {}), reload)
    const assetsWarm = await sampleAsync(RUNS * 4, () => fetchAll(assetsUrl).then(() => {}))
    const lineageWarm = await sampleAsync(RUNS * 4, () => fetchAll(lineageUrl).then(() => {}))
    const assetsFloor = await sampleAsync(RUNS * 4, () => fetchAll(`${floorUrl}/assets`).then(() => {}))
    const lineageFloor = await sampleAsync(RUNS * 4, () => fetchAll(`${floorUrl}/lineage`).then(() => {}))

    const row = (name: string, bytes: number, cold: number, warm: number, bare: number) => [
      name,
      mib(bytes),
      ms(cold),
      ms(warm),
      ms(bare),
      ms(warm - bare)
    ]
    const figures = {
      assetsCold: median(assetsCold.wall),
      lineageCold: median(lineageCold.wall),
      assetsWarm: median(assetsWarm.wall),
      lineageWarm: median(lineageWarm.wall)
    }
    const goals: Array<Goal> = [
      {
        name: `\`GET /api/v1/assets\` on a ${count(ASSETS)}-asset project`,
        target: `< ${GOAL_MILLIS} ms`,
        actual: `${ms(figures.assetsCold)} ms cold (after a reload), ${ms(figures.assetsWarm)} ms warm`,
        met: figures.assetsCold < GOAL_MILLIS && figures.assetsWarm < GOAL_MILLIS
      },
      {
        name: `\`GET /api/v1/lineage\` on a ${count(ASSETS)}-asset project`,
        target: `< ${GOAL_MILLIS} ms`,
        actual: `${ms(figures.lineageCold)} ms cold (after a reload), ${ms(figures.lineageWarm)} ms warm`,
        met: figures.lineageCold < GOAL_MILLIS && figures.lineageWarm < GOAL_MILLIS
      }
    ]
    return {
      title: `7. HTTP API of \`materia dev\` on a ${count(ASSETS)}-asset project`,
      summary:
        `The generated project of benchmark 5 (${count(ASSETS)} assets in layers of 100), materialized once ` +
        "with the CLI, served by `startDevServer` in this process (the project loaded in its code server " +
        "child). Wall time of one `fetch` from request to the last byte of the body, median of " +
        `${RUNS} (cold) or ${RUNS * 4} (warm). Cold: the first request after a reload of the code server ` +
        "(untimed): statuses are planned there against the SQLite store, sent over IPC and serialized. " +
        "Warm: the same request again, answered from the JSON kept per code generation and store watermark " +
        "(checked with one indexed SQLite read per request). Floor: a bare `node:http` server in this " +
        "process answering the same bytes.",
      tables: [
        {
          header: ["endpoint", "body MiB", "cold ms", "warm ms", "floor ms", "warm minus floor"],
          rows: [
            row(
              "`GET /api/v1/assets`",
              assetsBody.length,
              figures.assetsCold,
              figures.assetsWarm,
              median(assetsFloor.wall)
            ),
            row(
              "`GET /api/v1/lineage`",
              lineageBody.length,
              figures.lineageCold,
              figures.lineageWarm,
              median(lineageFloor.wall)
            )
          ]
        }
      ],
      goals,
      notes: []
    }
  } finally {
    floor.close()
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
