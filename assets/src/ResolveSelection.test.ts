import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { AssetGraph, type AssetSpec, SelectionError } from "@materia/core"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { UnknownGitRef } from "./GitChanges.ts"
import { describeChanges, resolveSelectionWithGit } from "./ResolveSelection.ts"

const ASSETS = fileURLToPath(new URL("./index.ts", import.meta.url))
const DEFINITION_SITE = fileURLToPath(new URL("./DefinitionSite.ts", import.meta.url))

const git = (cwd: string, ...args: Array<string>): string =>
  execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })

/** One fixture module: assets made by asset(), and the site definitionSite() sees from there. */
const fixture = (body: ReadonlyArray<string>) =>
  [
    `import { asset } from ${JSON.stringify(ASSETS)}`,
    `import { definitionSite } from ${JSON.stringify(DEFINITION_SITE)}`,
    "export const site = definitionSite()",
    ...body
  ].join("\n")

const MODULES: Record<string, ReadonlyArray<string>> = {
  "ingest.ts": [
    'export const raw = asset("raw", {}, () => [1, 2, 3])',
    'export const clean = asset("clean", { ins: { raw } }, ({ raw }) => raw.filter((x) => x > 1))'
  ],
  "ml/features.ts": [
    'import { clean } from "../ingest.ts"',
    'export const features = asset("features", { ins: { clean } }, ({ clean }) => clean.length)',
    'export const model = asset("model", { ins: { features } }, ({ features }) => features * 2)'
  ],
  "report.ts": [
    'import { model } from "./ml/features.ts"',
    'export const report = asset("report", { ins: { model } }, ({ model }) => String(model))'
  ]
}

let tmp: string
let repo: string

const writeRepo = (root: string) => {
  mkdirSync(join(root, "ml"), { recursive: true })
  writeFileSync(join(root, "package.json"), JSON.stringify({ type: "module" }))
  writeFileSync(join(root, "README.md"), "# pipeline\n")
  for (const [file, body] of Object.entries(MODULES)) writeFileSync(join(root, file), fixture(body))
}

/**
 * Loads the fixture modules of a checkout as a project's graph. Each asset's `definedIn` is what
 * asset() recorded, or, until asset() records it, the site definitionSite() gave in its module.
 */
const loadProject = async (root: string) => {
  const specs: Array<AssetSpec> = []
  for (const file of Object.keys(MODULES)) {
    const module = (await import(pathToFileURL(join(root, file)).href)) as Record<string, unknown>
    expect(module.site).toBe(join(root, file))
    for (const value of Object.values(module))
      if (typeof value === "object" && value !== null && "spec" in value) {
        const spec = (value as { spec: AssetSpec }).spec
        if (spec.definedIn !== undefined) expect(spec.definedIn).toBe(join(root, file))
        specs.push({ ...spec, definedIn: spec.definedIn ?? (module.site as string) })
      }
  }
  return { graph: AssetGraph.make(specs), root }
}

const resolve = async (
  project: Awaited<ReturnType<typeof loadProject>>,
  selection: string | Array<string>
) => {
  const resolved = await Effect.runPromise(resolveSelectionWithGit(project, selection))
  return { keys: [...resolved.selected].map((i) => project.graph.keys[i]).sort(), resolved }
}

beforeAll(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), "materia-select-")))
  repo = join(tmp, "repo")
  mkdirSync(repo)
  writeRepo(repo)
  git(repo, "init", "--quiet", "--initial-branch=main")
  git(repo, "add", ".")
  git(repo, "commit", "--quiet", "-m", "pipeline")
  git(repo, "checkout", "--quiet", "-b", "feature")
  writeFileSync(join(repo, "ml/features.ts"), `${fixture(MODULES["ml/features.ts"]!)}\n// tuned\n`)
  git(repo, "commit", "--quiet", "-am", "tune features")
})

afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe("resolveSelectionWithGit", () => {
  it("selects the assets defined in files a branch changed, and their downstream with +", async () => {
    const project = await loadProject(repo)
    expect((await resolve(project, "changed-since:main")).keys).toEqual(["features", "model"])
    expect((await resolve(project, "changed-since:main+")).keys).toEqual(["features", "model", "report"])
    expect((await resolve(project, "1+changed-since:main")).keys).toEqual(["clean", "features", "model"])
    expect((await resolve(project, ["raw", "changed-since:main"])).keys).toEqual(["features", "model", "raw"])
    const { resolved } = await resolve(project, "changed-since:main+")
    expect(resolved.changes.get("main")?.files).toEqual(new Set([join(repo, "ml/features.ts")]))
    expect(describeChanges(project.graph, resolved)).toEqual([
      `changed since main (merge base ${git(repo, "rev-parse", "main").slice(0, 8)}): 1 file, defining 2 assets`
    ])
  })

  it("adds uncommitted edits and untracked files; a branch that touches no asset selects nothing", async () => {
    const work = join(tmp, "work")
    git(tmp, "clone", "--quiet", "--branch", "main", repo, work)
    const project = await loadProject(work)
    git(work, "checkout", "--quiet", "-b", "docs")
    writeFileSync(join(work, "README.md"), "# pipeline\n\nMore words.\n")
    git(work, "commit", "--quiet", "-am", "docs")
    const docsOnly = await resolve(project, "changed-since:origin/main+")
    expect(docsOnly.keys).toEqual([])
    expect(describeChanges(project.graph, docsOnly.resolved)).toEqual([
      expect.stringMatching(
        /^changed since origin\/main \(merge base [0-9a-f]{8}\): 1 file, defining 0 assets$/
      )
    ])
    writeFileSync(join(work, "ingest.ts"), `${fixture(MODULES["ingest.ts"]!)}\n// uncommitted\n`)
    writeFileSync(join(work, "notes.ts"), "export {}\n")
    const edited = await resolve(project, "changed-since:origin/main")
    expect(edited.keys).toEqual(["clean", "raw"])
    expect(edited.resolved.changes.get("origin/main")?.files).toEqual(
      new Set([join(work, "README.md"), join(work, "ingest.ts"), join(work, "notes.ts")])
    )
  })

  it("runs no git without changed-since terms, and rejects a bad selection before running git", async () => {
    const project = await loadProject(repo)
    const outside = join(tmp, "not-a-repo")
    mkdirSync(outside)
    const plain = await Effect.runPromise(resolveSelectionWithGit(project, "+model", { root: outside }))
    expect(plain.changes.size).toBe(0)
    expect([...plain.selected].map((i) => project.graph.keys[i]).sort()).toEqual([
      "clean",
      "features",
      "model",
      "raw"
    ])
    const bad = await Effect.runPromise(
      Effect.result(resolveSelectionWithGit(project, "changed-since:main++", { root: outside }))
    )
    expect(Result.isFailure(bad) && bad.failure).toBeInstanceOf(SelectionError)
  })

  it("fails with git's error for an unknown ref, and with SelectionError for an unknown key", async () => {
    const project = await loadProject(repo)
    const unknown = await Effect.runPromise(
      Effect.result(resolveSelectionWithGit(project, "changed-since:mian+"))
    )
    expect(Result.isFailure(unknown) && unknown.failure).toBeInstanceOf(UnknownGitRef)
    const typo = await Effect.runPromise(
      Effect.result(resolveSelectionWithGit(project, ["changed-since:main", "modle"]))
    )
    expect(Result.isFailure(typo) && typo.failure).toBeInstanceOf(SelectionError)
    expect(Result.isFailure(typo) && typo.failure.message).toContain('did you mean "model"')
  })
})
