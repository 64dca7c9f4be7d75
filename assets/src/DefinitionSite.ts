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
/** Enough frames to pass Materia's own wrappers; restored right after the capture. */
const FRAMES = 32

/** The absolute path of a stack frame's script, or undefined for natives, `node:` internals and eval. */
const pathOfFrame = (frame: NodeJS.CallSite): string | undefined => {
  if (frame.isNative() || frame.isEval()) return undefined
  const name = frame.getFileName() ?? undefined
  if (name === undefined || name === "") return undefined
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

/** A frame of a @materia package: an installed one, or this package's own sources (not its tests). */
const isMateriaFrame = (path: string): boolean =>
  path.replaceAll("\\", "/").includes("/node_modules/@materia/") ||
  (path.startsWith(PACKAGE_SOURCE) && !TEST_FILE.test(path))

const callSites = (_: Error, frames: Array<NodeJS.CallSite>): Array<NodeJS.CallSite> => frames

/**
 * The absolute path of the user's source file that called into Materia: the first stack frame,
 * above this call, that is not inside a @materia package, a Node internal or native code.
 * `undefined` when there is none (e.g. a definition made from `eval` or the REPL).
 *
 * Call it from inside `asset()` / `sourceAsset()`. A user's own helper that wraps `asset()` is
 * the definition site of every asset it makes (its file, not the caller's).
 */
export const definitionSite = (): string | undefined => {
  const holder: { stack?: unknown } = {}
  const previousPrepare = Error.prepareStackTrace
  const previousLimit = Error.stackTraceLimit
  let frames: unknown
  try {
    Error.stackTraceLimit = FRAMES
    Error.prepareStackTrace = callSites
    Error.captureStackTrace(holder, definitionSite)
    frames = holder.stack // V8 formats lazily: read while our prepareStackTrace is installed
  } finally {
    Error.prepareStackTrace = previousPrepare
    Error.stackTraceLimit = previousLimit
  }
  if (!Array.isArray(frames)) return undefined
  for (const frame of frames as Array<NodeJS.CallSite>) {
    const path = pathOfFrame(frame)
    if (path !== undefined && !isMateriaFrame(path)) return path
  }
  return undefined
}
