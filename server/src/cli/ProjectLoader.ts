/**
 * Finds and loads a project: `--project <file>`, else the nearest `materia.config.ts` in the
 * working directory or its parents. The module's default export (or its `project` export) must be
 * a project made by `defineProject`; its folder is the project root, where `.materia/` lives.
 */
import { existsSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import type { AnyProject } from "@materia/assets"
import { UsageError } from "./CliError.ts"

export const CONFIG_FILE = "materia.config.ts"

export interface LoadedProject {
  readonly project: AnyProject
  readonly file: string
  readonly root: string
}

/** The config file to load: the explicit one, or the nearest `materia.config.ts` upward from `cwd`. */
export const findConfig = (explicit: string | undefined, cwd: string): string => {
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit)
    if (!existsSync(file)) throw new UsageError({ message: `project file ${file} does not exist` })
    return file
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, CONFIG_FILE)
    if (existsSync(candidate)) return candidate
    if (dirname(dir) === dir) break
  }
  throw new UsageError({
    message: `no ${CONFIG_FILE} in ${cwd} or its parents; create one that default-exports defineProject({...}), or pass --project <file>`
  })
}

const isProject = (u: unknown): u is AnyProject =>
  typeof u === "object" && u !== null && "graph" in u && "byKey" in u && "name" in u

/** Imports the config file and returns its project. Definition errors become usage errors. */
export const loadProject = async (file: string): Promise<LoadedProject> => {
  let module: Record<string, unknown>
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new UsageError({ message: `could not load the project from ${file}: ${message}` })
  }
  const candidate = module.default ?? module.project
  if (!isProject(candidate))
    throw new UsageError({
      message: `${file} must default-export a project made by defineProject({...}); found ${candidate === undefined ? "no default export" : typeof candidate}`
    })
  return { project: candidate, file, root: candidate.root ?? dirname(file) }
}
