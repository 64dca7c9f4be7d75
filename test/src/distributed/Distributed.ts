/**
 * Real processes for the distributed tests: `materia worker` processes (started in a folder, stopped
 * by signal), the code version a worker computes for a project (under tsx, as vitest transforms the
 * test's own copy), a random Redis key prefix per test, and a private redis-server on a free port.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createServer } from "node:net"
import { join, resolve } from "node:path"
import { promisify } from "node:util"

const REPO = resolve(import.meta.dirname, "../../..")
const BIN = join(REPO, "server/bin/materia.mjs")

export const REDIS_URL = "redis://127.0.0.1:6379"

/** A fresh key prefix: tests never see each other's queues or workers. */
export const testPrefix = (): string => `mt${randomBytes(4).toString("hex")}`

/** The project's code version as a worker computes it. */
export const workerCodeVersion = async (file: string): Promise<string> => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures/codeVersion.ts"), file],
    { cwd: REPO }
  )
  return stdout.trim()
}

export interface StartedProcess {
  readonly child: ChildProcess
  /** Everything it printed so far. */
  readonly output: () => string
  /** Resolves once a line matching `pattern` was printed. */
  readonly printed: (pattern: RegExp) => Promise<void>
  /** Resolves with the exit code (or signal) once it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Sends `signal` and waits for the end. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `node server/bin/materia.mjs ...args` in `cwd`. */
export const startMateria = (
  cwd: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {}
): StartedProcess => startNode(cwd, [BIN, ...args], env)

/** What the driver fixture prints at its end. */
export interface DriverResult {
  readonly runId: string
  readonly status: string
  readonly steps: ReadonlyArray<{ key: string; status: string; attempts: number; error?: string }>
}

/** Starts the driver fixture (a run through the queue executor) in `cwd`. */
export const startDriver = (
  cwd: string,
  options: {
    readonly projectFile: string
    readonly redisUrl: string
    readonly prefix: string
    readonly select: ReadonlyArray<string>
    readonly pools?: Record<string, number>
    readonly driverTtlMillis?: number
  },
  env: Record<string, string> = {}
): StartedProcess & { readonly result: () => Promise<DriverResult> } => {
  const driver = startNode(
    cwd,
    ["--import", "tsx", join(import.meta.dirname, "fixtures/driver.ts"), JSON.stringify(options)],
    env
  )
  return {
    ...driver,
    result: async () => {
      const { code, signal } = await driver.exited
      const line = driver
        .output()
        .split("\n")
        .find((l) => l.startsWith("RESULT "))
      if (line === undefined)
        throw new Error(`the driver ended (${signal ?? code}) without a result:\n${driver.output()}`)
      return JSON.parse(line.slice("RESULT ".length)) as DriverResult
    }
  }
}

const startNode = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string>): StartedProcess => {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, NO_COLOR: "1", npm_command: undefined, INIT_CWD: undefined, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let text = ""
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = []
  const onData = (chunk: Buffer) => {
    text += chunk.toString()
    for (const w of [...waiters])
      if (w.pattern.test(text)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
  }
  child.stdout!.on("data", onData)
  child.stderr!.on("data", onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  return {
    child,
    output: () => text,
    printed: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(text)) return resolve()
        waiters.push({ pattern, resolve })
        void exited.then(({ code, signal }) =>
          reject(
            new Error(
              `materia ${args.join(" ")} ended (${signal ?? code}) before printing ${pattern}:\n${text}`
            )
          )
        )
      }),
    exited,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    }
  }
}

/** Starts a worker serving `pools` of the project in `cwd` and waits until it serves. */
export const startWorker = async (
  cwd: string,
  prefix: string,
  pools: ReadonlyArray<string>,
  extra: ReadonlyArray<string> = [],
  redisUrl = REDIS_URL,
  env: Record<string, string> = {}
): Promise<StartedProcess> => {
  const worker = startMateria(
    cwd,
    ["worker", ...pools.flatMap((p) => ["--pool", p]), "--redis", redisUrl, "--prefix", prefix, ...extra],
    env
  )
  await worker.printed(/serving/)
  return worker
}

/** A free TCP port on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))
      )
    })
  })

/** Starts a private, non-persistent redis-server on `port` and waits until it answers. */
export const startRedis = async (port: number): Promise<ChildProcess> => {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "pipe"]
    }
  )
  await new Promise<void>((resolve, reject) => {
    let text = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString()
      if (/Ready to accept connections/.test(text)) resolve()
    })
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${text}`)))
  })
  return child
}
