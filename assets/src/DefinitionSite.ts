/**
 * Where an asset was defined: the absolute path of the user's source file that called `asset()` or
 * `sourceAsset()`, read from a V8 stack trace. The spec records it as `definedIn`, which
 * `changed-since:<git ref>` selections compare with the files git reports as changed.
 */
import { isAbsolute } from "node:path"
import { fileURLToPath } from "node:url"

/** This package's source folder (with a trailing separator): frames inside it are Materia's own. */
const PACKAGE_SOURCE = fileURLToPath(new URL(".", import.meta.url))
/** Tests of this package define assets too: their definition site is the test file. */
const TEST_FILE = /\.test(?:-d)?\.[cm]?[jt]sx?$/
/** Frames captured first (enough to pass Materia's own wrappers), then, if none was the user's, more. */
const FRAMES = 8
const MORE_FRAMES = 64

/** The user file of each script name seen, or null when it is Materia's, Node's or no file. */
const siteOfScript = new Map<string, string | null>()

/** The absolute path of a script name (a path or a `file:` URL), or undefined for `node:` and others. */
const pathOfScript = (name: string): string | undefined => {
  if (name.startsWith("file:")) {
    // tsx and other loaders may add a query (`?tsx-namespace=…`); the path is still the .ts source.
    try {
      const url = new URL(name)
      url.search = ""
      url.hash = ""
      return fileURLToPath(url)
    } catch {
      return undefined
    }
  }
  return isAbsolute(name) ? name : undefined
}

/** A file of a @materia package: an installed one, or this package's own sources (not its tests). */
const isMateriaFile = (path: string): boolean =>
  path.replaceAll("\\", "/").includes("/node_modules/@materia/") ||
  (path.startsWith(PACKAGE_SOURCE) && !TEST_FILE.test(path))

/** The user file a frame runs, or null for natives, eval, Node internals and Materia's own files. */
const userFileOf = (frame: NodeJS.CallSite): string | null => {
  if (frame.isNative() || frame.isEval()) return null
  const name = frame.getFileName()
  if (name === null || name === "") return null
  let site = siteOfScript.get(name)
  if (site === undefined) {
    const path = pathOfScript(name)
    site = path === undefined || isMateriaFile(path) ? null : path
    siteOfScript.set(name, site)
  }
  return site
}

const callSites = (_: Error, frames: Array<NodeJS.CallSite>): Array<NodeJS.CallSite> => frames

/** The call sites above `definitionSite`, at most `limit` of them. */
const capture = (limit: number): Array<NodeJS.CallSite> => {
  const holder: { stack?: unknown } = {}
  const previousPrepare = Error.prepareStackTrace
  const previousLimit = Error.stackTraceLimit
  try {
    Error.stackTraceLimit = limit
    Error.prepareStackTrace = callSites
    Error.captureStackTrace(holder, definitionSite)
    // V8 formats lazily: read while our prepareStackTrace is installed
    return Array.isArray(holder.stack) ? (holder.stack as Array<NodeJS.CallSite>) : []
  } finally {
    Error.prepareStackTrace = previousPrepare
    Error.stackTraceLimit = previousLimit
  }
}

/**
 * The absolute path of the user's source file that called into Materia: the first stack frame,
 * above this call, that is not inside a @materia package, a Node internal or native code.
 * `undefined` when there is none (e.g. a definition made from `eval` or the REPL).
 *
 * Call it from inside `asset()` / `sourceAsset()`. A user's own helper that wraps `asset()` is
 * the definition site of every asset it makes (its file, not the caller's).
 */
export const definitionSite = (): string | undefined => {
  let frames = capture(FRAMES)
  for (let pass = 0; pass < 2; pass++) {
    for (const frame of frames) {
      const file = userFileOf(frame)
      if (file !== null) return file
    }
    if (frames.length < FRAMES) return undefined
    frames = capture(MORE_FRAMES)
  }
  return undefined
}
