/**
 * A throwaway Materia project for the CLI acceptance tests: a folder under `test/.tmp/` holding a
 * fixture copied as `materia.config.ts`, where `materia` runs as a real child process
 * (`node server/bin/materia.mjs ...`). Node resolves `@materia/*` from the repository's node_modules.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import * as Schema from "effect/Schema"
import type { OnTestFinishedHandler } from "vitest"

const REPO = resolve(import.meta.dirname, "../../..")
const BIN = join(REPO, "server/bin/materia.mjs")
const FIXTURES = join(import.meta.dirname, "fixtures")
const TMP = join(REPO, "test/.tmp")

/**
 * The timeout of each CLI test: a guard against a hung child, not a timing assertion (every command
 * starts Node and tsx anew, seconds each on a busy 2-core machine).
 */
export const CLI_TEST_TIMEOUT = 300_000

/** How a `materia` process ended and what it printed. */
export interface CliResult {
  /** The exit code, or null when a signal ended the process. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** A started `materia` process and the promise of its result. */
export interface CliProcess {
  readonly child: ChildProcess
  readonly result: Promise<CliResult>
}

export interface TempProject {
  /** The project folder (holds materia.config.ts and, once used, `.materia/`). */
  readonly root: string
  /** A path inside the project folder. */
  readonly path: (...segments: ReadonlyArray<string>) => string
  /** Starts `materia ...args` in the project folder. */
  readonly start: (...args: ReadonlyArray<string>) => CliProcess
  /** Runs `materia ...args` in the project folder to its end. */
  readonly materia: (...args: ReadonlyArray<string>) => Promise<CliResult>
  /** Rewrites materia.config.ts, replacing `from` (which must occur exactly once) by `to`. */
  readonly editConfig: (from: string, to: string) => Promise<void>
}

/** Starts `node server/bin/materia.mjs ...args` in `cwd`, collecting its output. */
export const startMateria = (cwd: string, args: ReadonlyArray<string>): CliProcess => {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    // As a user's shell would: not inside an `npx` (whose INIT_CWD the CLI honours).
    env: { ...process.env, NO_COLOR: "1", npm_command: undefined, INIT_CWD: undefined },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  const result = new Promise<CliResult>((done, fail) => {
    child.on("error", fail)
    child.on("close", (code, signal) => done({ code, signal, stdout, stderr }))
  })
  return { child, result }
}

/**
 * Makes a project folder under test/.tmp/ whose materia.config.ts is a copy of `fixtures/<fixture>`;
 * when the test finishes, the processes still running are killed and the folder is removed.
 */
export const makeTempProject = async (
  fixture: string,
  onTestFinished: (handler: OnTestFinishedHandler) => void
): Promise<TempProject> => {
  await mkdir(TMP, { recursive: true })
  const root = await mkdtemp(join(TMP, "cli-"))
  const config = join(root, "materia.config.ts")
  const running = new Set<CliProcess>()
  onTestFinished(async () => {
    for (const cli of running) cli.child.kill("SIGKILL")
    await Promise.allSettled([...running].map((cli) => cli.result))
    await rm(root, { recursive: true, force: true })
  })
  await writeFile(config, await readFile(join(FIXTURES, fixture), "utf8"))
  const start = (...args: ReadonlyArray<string>): CliProcess => {
    const started = startMateria(root, args)
    running.add(started)
    void started.result.then(
      () => running.delete(started),
      () => running.delete(started)
    )
    return started
  }
  return {
    root,
    path: (...segments) => join(root, ...segments),
    start,
    materia: (...args) => start(...args).result,
    editConfig: async (from, to) => {
      const text = await readFile(config, "utf8")
      const count = text.split(from).length - 1
      if (count !== 1) throw new Error(`expected ${JSON.stringify(from)} once in ${config}, found ${count}`)
      await writeFile(config, text.replace(from, to))
    }
  }
}

/** What a process printed, for assertion messages: `expect(result.code, transcript(result))`. */
export const transcript = (result: CliResult): string =>
  `materia exited with ${result.code ?? result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

/** Waits until `path` exists; fails when `cli` ends first (a poll, not a timing assertion). */
export const waitForFile = async (path: string, cli: CliProcess): Promise<void> => {
  let ended: CliResult | undefined
  void cli.result.then((r) => {
    ended = r
  })
  while (!existsSync(path)) {
    if (ended !== undefined)
      throw new Error(
        `materia exited (code ${ended.code}) before ${path} appeared:\n${ended.stdout}\n${ended.stderr}`
      )
    await sleep(50)
  }
}

/** Decodes what a `--json` command printed, failing with the output when it does not match `schema`. */
export const decodeOutput = <A>(schema: Schema.Codec<A, unknown, never, unknown>, result: CliResult): A => {
  try {
    return Schema.decodeUnknownSync(Schema.fromJsonString(schema))(result.stdout)
  } catch (error) {
    throw new Error(
      `unexpected output (exit ${result.code}): ${String(error)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`
    )
  }
}
