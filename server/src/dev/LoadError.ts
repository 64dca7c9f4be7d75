/**
 * Where a project failed to load: the file and line of the first stack frame (or compiler
 * diagnostic) inside the project folder, outside node_modules, and the error's own message.
 */
import { fileURLToPath } from "node:url"
import type { LoadError } from "../http/ApiSchemas.ts"

const LOCATION = /(file:\/\/[^\s:()]+|\/[^\s:()]+):(\d+)(?::\d+)?/g

/** The load error of `error`, thrown while loading `configFile` of the project rooted at `root`. */
export const loadErrorOf = (configFile: string, root: string, error: unknown): LoadError => {
  const message = error instanceof Error ? error.message : String(error)
  const text = `${message}\n${error instanceof Error ? (error.stack ?? "") : ""}`
  for (const match of text.matchAll(LOCATION)) {
    const raw = match[1]!
    let file: string
    try {
      file = raw.startsWith("file://") ? fileURLToPath(raw) : raw
    } catch {
      continue
    }
    if (file.startsWith(`${root}/`) && !file.includes("/node_modules/"))
      return { file, line: Number(match[2]), message }
  }
  return { file: configFile, line: null, message }
}
