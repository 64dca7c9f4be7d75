import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { asset } from "./Asset.ts"
import { definitionSite } from "./DefinitionSite.ts"

const HERE = fileURLToPath(import.meta.url)
const DEFINITION_SITE = fileURLToPath(new URL("./DefinitionSite.ts", import.meta.url))
const TSX = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))

let dir: string
const write = (file: string, text: string) => {
  mkdirSync(dirname(join(dir, file)), { recursive: true })
  writeFileSync(join(dir, file), text)
  return join(dir, file)
}

beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "materia-site-")))
  write("package.json", JSON.stringify({ type: "module" }))
  // A caller, a callback through native code, and a wrapper inside an installed @materia package.
  write(
    "node_modules/@materia/wrapper/index.js",
    "export const viaMateria = (capture) => [0].map(() => capture())[0]\n"
  )
  write(
    "pipeline/defs.ts",
    [
      `import { definitionSite } from ${JSON.stringify(DEFINITION_SITE)}`,
      `import { viaMateria } from "../node_modules/@materia/wrapper/index.js"`,
      "export const direct: string | undefined = definitionSite()",
      "export const inCallback: string | undefined = [1].map(() => definitionSite())[0]",
      "export const wrapped: string | undefined = viaMateria(definitionSite)",
      "const local = (): string | undefined => definitionSite()",
      "export const helper: string | undefined = local()"
    ].join("\n")
  )
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("definitionSite", () => {
  it("returns the absolute path of the module that called it, skipping @materia packages and natives", async () => {
    const defs = join(dir, "pipeline", "defs.ts")
    const m = await import(pathToFileURL(defs).href)
    expect(m.direct).toBe(defs)
    expect(m.inCallback).toBe(defs)
    expect(m.wrapped).toBe(defs)
    expect(m.helper).toBe(defs)
  })

  it("gives the .ts source path under tsx, with file:// URLs and query strings", () => {
    const defs = join(dir, "pipeline", "defs.ts")
    write(
      "main.ts",
      [
        'const plain = await import("./pipeline/defs.ts")',
        'const queried = await import("./pipeline/defs.ts?version=2")',
        "console.log(JSON.stringify([plain.direct, plain.wrapped, queried.direct, queried.inCallback]))"
      ].join("\n")
    )
    const out = execFileSync(TSX, ["main.ts"], { cwd: dir, encoding: "utf8" })
    expect(JSON.parse(out)).toEqual([defs, defs, defs, defs])
  })

  it("restores Error.prepareStackTrace and Error.stackTraceLimit", () => {
    const prepare = (_: Error, frames: Array<NodeJS.CallSite>) => `custom ${frames.length}`
    const before = { prepare: Error.prepareStackTrace, limit: Error.stackTraceLimit }
    try {
      Error.prepareStackTrace = prepare
      Error.stackTraceLimit = 3
      expect(definitionSite()).toBe(HERE)
      expect(Error.prepareStackTrace).toBe(prepare)
      expect(Error.stackTraceLimit).toBe(3)
      expect(new Error("x").stack).toMatch(/^custom \d$/)
    } finally {
      Error.prepareStackTrace = before.prepare
      Error.stackTraceLimit = before.limit
    }
  })

  it("skips frames of eval'd code, and is undefined when no frame has a file", async () => {
    expect(new Function("f", "return f()")(definitionSite)).toBe(HERE)
    // called back by Node's timers from eval'd code: no user file anywhere on the stack
    const site = await new Promise((resolve) =>
      setTimeout(new Function("f", "done", "return () => done(f())")(definitionSite, resolve))
    )
    expect(site).toBeUndefined()
  })

  // Turns on once asset() records `definedIn: definitionSite()`: a test file of this package is its
  // own definition site (frames of the package's sources are skipped, its tests are not).
  const wired = asset("probe", {}, () => 1).spec.definedIn !== undefined
  it.runIf(wired)("asset() records the file that called it", () => {
    expect(asset("here", {}, () => 1).spec.definedIn).toBe(HERE)
  })
})
