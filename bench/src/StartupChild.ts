/**
 * The child-process entry of the start-up benchmark: imports @materia/assets, defines a
 * 1,000-asset project with the DSL and prints one JSON line with in-process timings. With
 * `--trace <file>` it first registers a module resolve hook that logs every resolved URL to
 * `<file>`, and also reports CommonJS modules and native addons loaded (not timed).
 */
import { createRequire, register } from "node:module"

/** What the child prints. */
export interface StartupReport {
  /** `performance.now()` when this module starts: node boot, tsx and this module's own loading. */
  readonly bootMillis: number
  readonly importMillis: number
  readonly defineMillis: number
  readonly assets: number
  /** With --trace: CommonJS files and native addons loaded (resolved ESM URLs go to the trace file). */
  readonly commonJs?: ReadonlyArray<string> | undefined
  readonly addons?: ReadonlyArray<string> | undefined
}

const ASSETS = 1_000
const WIDTH = 100

/** Resolve hook (runs on the loader thread): lets the chain resolve, then logs the URL. */
const HOOKS = `
import { appendFileSync } from "node:fs"
let log
export function initialize(data) { log = data.log }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(log, result.url + "\\n")
  return result
}
`

const main = async (argv: ReadonlyArray<string>) => {
  const bootMillis = performance.now()
  const trace = argv[0] === "--trace" ? argv[1] : undefined
  if (trace !== undefined)
    register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, import.meta.url, { data: { log: trace } })

  const importStart = performance.now()
  const { asset, defineProject } = await import("@materia/assets")
  const defineStart = performance.now()
  type Defined = ReturnType<typeof asset>
  const assets: Array<Defined> = []
  for (let i = 0; i < ASSETS; i++) {
    const layer = Math.floor(i / WIDTH)
    const position = i % WIDTH
    const ins: Record<string, Defined> = {}
    if (layer > 0)
      for (let j = 0; j < 2 + ((position + layer) % 2); j++)
        ins[`in${j}`] = assets[(layer - 1) * WIDTH + ((position * 7 + j * 13) % WIDTH)]!
    assets.push(asset(`layer${layer}_asset${position}`, { ins }, () => position))
  }
  const project = defineProject({ name: "startup", assets })
  const end = performance.now()
  if (project.graph.size !== ASSETS) throw new Error(`project has ${project.graph.size} assets`)

  const report: StartupReport = {
    bootMillis,
    importMillis: defineStart - importStart,
    defineMillis: end - defineStart,
    assets: project.graph.size,
    ...(trace === undefined
      ? {}
      : {
          commonJs: Object.keys(createRequire(import.meta.url).cache),
          addons: (
            process.report.getReport() as unknown as { sharedObjects: ReadonlyArray<string> }
          ).sharedObjects.filter((path) => path.endsWith(".node"))
        })
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

await main(process.argv.slice(2))
