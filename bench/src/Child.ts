/**
 * Runs a benchmark child: a fresh `node --import tsx` process started from the repository root,
 * so its memory and start-up are its own. Resolves to its stdout and wall time.
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root (bench/src/../..): children start here so `--import tsx` resolves. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url))

/**
 * bench/.tmp/: scratch files of the benchmarks (git-ignored), on the repository's disk so that
 * disk figures are those of a project's `.materia/` folder. Each benchmark deletes what it made.
 */
export const BENCH_TMP = fileURLToPath(new URL("../.tmp/", import.meta.url))

/** A new, empty folder under BENCH_TMP whose name starts with `prefix`. */
export const makeTempDir = (prefix: string): string => {
  mkdirSync(BENCH_TMP, { recursive: true })
  return mkdtempSync(join(BENCH_TMP, `${prefix}-`))
}

/** The path of a module beside this one. */
export const benchFile = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url))

export interface ChildResult {
  readonly stdout: string
  /** From spawn to exit, as the parent sees it. */
  readonly wallMillis: number
}

/** Runs `node <args>` in `cwd` (default ROOT); rejects with its stderr when it exits non-zero. */
export const runNode = (args: ReadonlyArray<string>, cwd: string = ROOT): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk))
    child.on("error", reject)
    child.on("close", (code) => {
      const wallMillis = performance.now() - start
      if (code === 0) resolve({ stdout: Buffer.concat(out).toString("utf8"), wallMillis })
      else
        reject(
          new Error(
            `node ${args.join(" ")} exited with ${String(code)}:\n${Buffer.concat(err).toString("utf8")}`
          )
        )
    })
  })

/** Runs a TypeScript module of the bench through tsx and parses the last line it prints as JSON. */
export const runTsJson = async <A>(file: string, args: ReadonlyArray<string>): Promise<A> => {
  const { stdout } = await runNode(["--import", "tsx", benchFile(file), ...args])
  const lines = stdout.trim().split("\n")
  return JSON.parse(lines[lines.length - 1]!) as A
}
