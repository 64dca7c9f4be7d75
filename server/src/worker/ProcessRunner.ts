/**
 * The `processes` executor: a pool of child processes per compute pool, each of which loaded the
 * project from its module, runs one attempt at a time. For CPU-heavy bodies that would block the
 * driver's event loop. The driver keeps retries, timeouts and commits (the executor seam); a
 * canceled or timed-out attempt is told to stop and its child killed if it does not within a grace
 * period. Queue workers use the same pool to run bodies off their own event loop.
 */
import { type ChildProcess, fork } from "node:child_process"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import type { AnyProject } from "@materia/assets"
import {
  decodeStepError,
  type RunEvent,
  type StepAttempt,
  type StepAttemptResult,
  type StepErrorData,
  type StepRunner
} from "@materia/core"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { type FromChild, projectCodeVersion, type ToChild, type ValueStore } from "./WorkerProtocol.ts"

const CHILD = fileURLToPath(new URL("./AttemptChild.ts", import.meta.url))

/** A child could not load the project, or loaded other code than the driver's. */
export class WorkerLoadError extends Data.TaggedError("WorkerLoadError")<{
  readonly projectFile: string
  readonly reason: string
}> {
  readonly retryable = false
  override get message(): string {
    return `a worker process could not load the project from ${this.projectFile}: ${this.reason}`
  }
}

/** The process running an attempt died (killed, out of memory); another attempt may succeed. */
export class WorkerCrashed extends Data.TaggedError("WorkerCrashed")<{
  readonly assetKey: string
  readonly pid: number
  readonly reason: string
}> {
  override get message(): string {
    return `the worker process (pid ${this.pid}) running asset "${this.assetKey}" died: ${this.reason}`
  }
}

export interface ProcessRunnerOptions {
  /** The module the children load the project from (its `materia.config.ts`). */
  readonly projectFile: string
  /** Where values live (the project root whose `.materia/storage` the fs IO manager uses). */
  readonly values: ValueStore
  /** The driver's project: children loading other code refuse to run (the code versions are compared). */
  readonly codeVersion?: string | undefined
  /** Children per pool; a pool not listed gets `size`. */
  readonly pools?: Readonly<Record<string, number>> | undefined
  /** Default children per pool (default: the number of CPUs). */
  readonly size?: number | undefined
  /** How long a canceled attempt may take to stop before its child is killed (default 5 s). */
  readonly cancelGraceMillis?: number | undefined
  /** Extra environment of the children. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Working directory of the children (default: this process's). */
  readonly cwd?: string | undefined
}

interface Running {
  readonly attempt: StepAttempt
  readonly emit: (event: RunEvent) => void
  readonly done: (result: Effect.Effect<StepAttemptResult, unknown>) => void
}

interface Child {
  readonly process: ChildProcess
  readonly pool: string
  readonly ready: Promise<void>
  running: { readonly id: number; readonly job: Running } | undefined
  /** Taken by an attempt that waits for the child to be ready. */
  reserved: boolean
  dead: boolean
}

export interface ProcessRunner extends StepRunner {
  /** Starts every child of `pool` now and waits until each loaded the project (fails as a step would). */
  readonly start: (pool: string) => Promise<void>
  /** The pids of the live children. */
  readonly pids: () => ReadonlyArray<number>
  /** Stops every child (running attempts fail). */
  readonly close: () => Promise<void>
}

/** Makes the pool; children start on first use and are reused. */
export const makeProcessRunner = (options: ProcessRunnerOptions): ProcessRunner => {
  const children: Array<Child> = []
  const waiting = new Map<string, Array<() => void>>()
  let nextId = 1
  let closed = false
  const grace = options.cancelGraceMillis ?? 5000
  const sizeOf = (pool: string) => Math.max(1, options.pools?.[pool] ?? options.size ?? cpus().length)

  const release = (child: Child) => {
    child.running = undefined
    child.reserved = false
    const queue = waiting.get(child.pool)
    queue?.shift()?.()
  }

  const spawn = (pool: string): Child => {
    const proc = fork(CHILD, [], {
      execArgv: ["--import", import.meta.resolve("tsx")],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: { ...process.env, ...options.env }
    })
    let settle: (error?: WorkerLoadError) => void = () => {}
    const ready = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error))
    })
    ready.catch(() => {})
    const child: Child = { process: proc, pool, ready, running: undefined, reserved: false, dead: false }
    proc.on("message", (message: FromChild) => {
      switch (message.type) {
        case "ready":
          if (options.codeVersion !== undefined && message.codeVersion !== options.codeVersion)
            settle(
              new WorkerLoadError({
                projectFile: options.projectFile,
                reason: `it loaded code version ${message.codeVersion} of project "${message.project}", but the driver runs code version ${options.codeVersion}; the module must export the very project being run (a project defined inline in a script cannot be loaded by another process: move it to a module such as materia.config.ts and export it)`
              })
            )
          else settle()
          return
        case "load-error":
          settle(
            new WorkerLoadError({
              projectFile: options.projectFile,
              reason: `${message.message} (the processes and queue executors load the project from its module: export it from materia.config.ts; a project defined inline in a script cannot be used)`
            })
          )
          return
        case "event":
          if (child.running?.id === message.id) child.running.job.emit(message.event)
          return
        case "done":
        case "failed": {
          const current = child.running
          if (current?.id !== message.id) return
          release(child)
          current.job.done(
            message.type === "done"
              ? Effect.succeed(message.result)
              : Effect.fail(decodeStepError(message.error as StepErrorData))
          )
          return
        }
      }
    })
    proc.on("exit", (code, signal) => {
      child.dead = true
      settle(
        new WorkerLoadError({
          projectFile: options.projectFile,
          reason: `the process exited (${signal ?? `code ${code}`}) before it loaded the project`
        })
      )
      const index = children.indexOf(child)
      if (index >= 0) children.splice(index, 1)
      const current = child.running
      if (current !== undefined) {
        child.running = undefined
        current.job.done(
          Effect.fail(
            new WorkerCrashed({
              assetKey: current.job.attempt.step.key,
              pid: proc.pid ?? -1,
              reason: signal === null ? `it exited with code ${code}` : `it was killed by ${signal}`
            })
          )
        )
      }
      waiting.get(child.pool)?.shift()?.()
    })
    const init: ToChild = { type: "init", projectFile: options.projectFile, values: options.values }
    proc.send(init)
    children.push(child)
    return child
  }

  /** An idle child of the pool: a free one, a new one, or the next to free up. */
  const acquire = async (pool: string): Promise<Child> => {
    for (;;) {
      if (closed) throw new Error("the process pool is closed")
      const idle = children.find((c) => c.pool === pool && !c.reserved && c.running === undefined && !c.dead)
      const count = children.filter((c) => c.pool === pool).length
      const child = idle ?? (count < sizeOf(pool) ? spawn(pool) : undefined)
      if (child !== undefined) {
        child.reserved = true
        try {
          await child.ready
        } catch (error) {
          child.reserved = false
          throw error
        }
        return child
      }
      await new Promise<void>((resolve) => {
        const queue = waiting.get(pool) ?? []
        waiting.set(pool, queue)
        queue.push(resolve)
      })
    }
  }

  const run = (attempt: StepAttempt, emit: (event: RunEvent) => void) =>
    Effect.callback<StepAttemptResult, unknown>((resume) => {
      let child: Child | undefined
      let finished = false
      let canceled = false
      const done = (result: Effect.Effect<StepAttemptResult, unknown>) => {
        if (finished) return
        finished = true
        resume(result)
      }
      const id = nextId++
      acquire(attempt.step.pool).then(
        (c) => {
          child = c
          if (canceled) {
            release(c)
            return
          }
          c.running = { id, job: { attempt, emit, done } }
          const message: ToChild = { type: "run", id, attempt }
          c.process.send(message)
        },
        (error: unknown) => done(Effect.fail(error))
      )
      // Interrupted (a timeout, a cancel): ask the child to stop; kill it if it does not in time.
      return Effect.promise(async () => {
        canceled = true
        const c = child
        if (c === undefined || c.running?.id !== id || c.dead) return
        const stopped = new Promise<void>((resolve) => {
          const job = c.running!.job
          c.running = { id, job: { ...job, done: () => resolve() } }
          c.process.once("exit", () => resolve())
        })
        const cancel: ToChild = { type: "cancel", id }
        c.process.send(cancel)
        const timer = setTimeout(() => c.process.kill("SIGKILL"), grace)
        await stopped
        clearTimeout(timer)
      })
    })

  const start = async (pool: string): Promise<void> => {
    while (children.filter((c) => c.pool === pool).length < sizeOf(pool)) spawn(pool)
    await Promise.all(children.filter((c) => c.pool === pool).map((c) => c.ready))
  }

  return {
    run,
    start,
    pids: () => children.filter((c) => !c.dead).map((c) => c.process.pid ?? -1),
    close: async () => {
      closed = true
      for (const queue of waiting.values()) for (const wake of queue.splice(0)) wake()
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.dead) return resolve()
              const timer = setTimeout(() => c.process.kill("SIGKILL"), grace)
              c.process.once("exit", () => {
                clearTimeout(timer)
                resolve()
              })
              c.process.kill("SIGTERM")
            })
        )
      )
    }
  }
}

/** The processes executor for a project loaded from `projectFile`, its values under `root`. */
export const processesExecutor = (
  project: AnyProject,
  projectFile: string,
  root: string,
  options: Omit<ProcessRunnerOptions, "projectFile" | "values" | "codeVersion"> = {}
): ProcessRunner =>
  makeProcessRunner({
    ...options,
    projectFile,
    values: { root },
    codeVersion: projectCodeVersion(project),
    pools: { ...project.pools, ...options.pools },
    size: options.size ?? project.concurrency
  })
