/**
 * The `processes` executor: a pool of child processes per compute pool, each of which loaded the
 * project from its module and runs attempts (one at a time while the pool has idle children, up to
 * `attemptsPerChild` when it is busier). For CPU-heavy bodies that would block the driver's event loop. The driver keeps retries, timeouts and commits (the executor seam); a
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
import {
  type AttemptMessage,
  type FromAttempt,
  type FromChild,
  projectCodeVersion,
  type ToChild,
  type ValueStore
} from "./WorkerProtocol.ts"

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
  /**
   * Attempts one child runs at once (default 8). An attempt goes to an idle child, else to a new
   * child while the pool has fewer than its size, and only then to the least busy child with room:
   * with no more steps in flight than children, each child runs one at a time. Bodies that await
   * (IO, timers) overlap inside a child; CPU-bound ones take turns on its one thread. 1: one
   * attempt per child, always.
   */
  readonly attemptsPerChild?: number | undefined
  /**
   * How long a canceled attempt may take to stop before its child is killed (default 5 s); the
   * other attempts that child was running fail then as `WorkerCrashed` (retried by their policy).
   */
  readonly cancelGraceMillis?: number | undefined
  /** Extra environment of the children. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Working directory of the children (default: this process's). */
  readonly cwd?: string | undefined
}

/** An attempt sent to a child (or waiting for the child to load the project). */
interface Running {
  readonly attempt: StepAttempt
  readonly emit: (event: RunEvent) => void
  done: (result: Effect.Effect<StepAttemptResult, unknown>) => void
}

interface Child {
  readonly process: ChildProcess
  readonly pool: string
  /** Set once the child loaded the project (or failed to: `loadError`). */
  ready: boolean
  loadError: WorkerLoadError | undefined
  readonly loaded: Promise<void>
  /** Its attempts by id: sent, or queued in `outbox` until it is ready. */
  readonly running: Map<number, Running>
  /** Messages not yet written: sent together once per tick (and once the child is ready). */
  outbox: Array<AttemptMessage>
  flushing: boolean
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
  /** Attempts waiting for room in their pool, first come first served. */
  const waiting = new Map<string, Array<() => void>>()
  let nextId = 1
  let closed = false
  const grace = options.cancelGraceMillis ?? 5000
  const perChild = Math.max(1, Math.floor(options.attemptsPerChild ?? 8))
  const sizeOf = (pool: string) => Math.max(1, options.pools?.[pool] ?? options.size ?? cpus().length)

  const flush = (child: Child) => {
    child.flushing = false
    if (!child.ready || child.dead || child.outbox.length === 0) return
    const messages = child.outbox
    child.outbox = []
    const batch: ToChild = { type: "batch", messages }
    // A child that just died: its exit fails what it was running (no 'error' event to crash on).
    child.process.send(batch, () => {})
  }
  /** Queues a message to the child; the tick's messages go out in one write. */
  const post = (child: Child, message: AttemptMessage) => {
    child.outbox.push(message)
    if (!child.flushing) {
      child.flushing = true
      queueMicrotask(() => flush(child))
    }
  }

  /** The attempt ended (or was given up): its room goes to the next attempt waiting in the pool. */
  const release = (child: Child, id: number) => {
    if (child.running.delete(id)) waiting.get(child.pool)?.shift()?.()
  }

  const finish = (child: Child, id: number, result: Effect.Effect<StepAttemptResult, unknown>) => {
    const job = child.running.get(id)
    if (job === undefined) return
    release(child, id)
    job.done(result)
  }

  const onMessage = (child: Child, message: FromAttempt) => {
    switch (message.type) {
      case "event":
        child.running.get(message.id)?.emit(message.event)
        return
      case "done":
        finish(child, message.id, Effect.succeed(message.result))
        return
      case "failed":
        finish(child, message.id, Effect.fail(decodeStepError(message.error as StepErrorData)))
        return
    }
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
    const loaded = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error))
    })
    loaded.catch(() => {})
    const child: Child = {
      process: proc,
      pool,
      ready: false,
      loadError: undefined,
      loaded,
      running: new Map(),
      outbox: [],
      flushing: false,
      dead: false
    }
    /** The child loaded the project, or cannot run anything: its queued attempts go out, or fail. */
    const settled = (error?: WorkerLoadError) => {
      if (child.ready || child.loadError !== undefined) return
      settle(error)
      if (error === undefined) {
        child.ready = true
        flush(child)
        return
      }
      child.loadError = error
      child.outbox = []
      for (const id of [...child.running.keys()]) finish(child, id, Effect.fail(error))
    }
    proc.on("message", (message: FromChild) => {
      switch (message.type) {
        case "ready":
          if (options.codeVersion !== undefined && message.codeVersion !== options.codeVersion)
            settled(
              new WorkerLoadError({
                projectFile: options.projectFile,
                reason: `it loaded code version ${message.codeVersion} of project "${message.project}", but the driver runs code version ${options.codeVersion}; the module must export the very project being run (a project defined inline in a script cannot be loaded by another process: move it to a module such as materia.config.ts and export it)`
              })
            )
          else settled()
          return
        case "load-error":
          settled(
            new WorkerLoadError({
              projectFile: options.projectFile,
              reason: `${message.message} (the processes and queue executors load the project from its module: export it from materia.config.ts; a project defined inline in a script cannot be used)`
            })
          )
          return
        case "batch":
          for (const m of message.messages) onMessage(child, m)
          return
      }
    })
    proc.on("exit", (code, signal) => {
      child.dead = true
      settled(
        new WorkerLoadError({
          projectFile: options.projectFile,
          reason: `the process exited (${signal ?? `code ${code}`}) before it loaded the project`
        })
      )
      const index = children.indexOf(child)
      if (index >= 0) children.splice(index, 1)
      const crashed = [...child.running]
      child.running.clear()
      for (const [, job] of crashed)
        job.done(
          Effect.fail(
            new WorkerCrashed({
              assetKey: job.attempt.step.key,
              pid: proc.pid ?? -1,
              reason: signal === null ? `it exited with code ${code}` : `it was killed by ${signal}`
            })
          )
        )
      // Its room (and a replacement child) go to the attempts waiting in the pool.
      const queue = waiting.get(pool)
      for (let i = 0; i < Math.max(1, crashed.length); i++) queue?.shift()?.()
    })
    const init: ToChild = { type: "init", projectFile: options.projectFile, values: options.values }
    proc.send(init)
    children.push(child)
    return child
  }

  /**
   * The child to run an attempt of `pool` now: an idle one, else a new one while the pool is not
   * full, else the least busy one with room; undefined when every child is full.
   */
  const pick = (pool: string): Child | undefined => {
    let count = 0
    let best: Child | undefined
    for (const c of children) {
      if (c.pool !== pool) continue
      count++
      if (c.dead) continue
      const load = c.running.size
      if (load === 0) return c
      if (load < perChild && (best === undefined || load < best.running.size)) best = c
    }
    if (count < sizeOf(pool)) return spawn(pool)
    return best
  }

  const run = (attempt: StepAttempt, emit: (event: RunEvent) => void) =>
    Effect.callback<StepAttemptResult, unknown>((resume) => {
      const id = nextId++
      const job: Running = { attempt, emit, done: resume }
      let child: Child | undefined
      let canceled = false
      let wake: (() => void) | undefined
      const pool = attempt.step.pool
      const dispatch = () => {
        wake = undefined
        if (canceled) return
        if (closed) return resume(Effect.fail(new Error("the process pool is closed")))
        const c = pick(pool)
        if (c === undefined) {
          // Every child is full: wait for room (release wakes the first waiter).
          wake = dispatch
          const queue = waiting.get(pool) ?? []
          waiting.set(pool, queue)
          queue.push(dispatch)
          return
        }
        if (c.loadError !== undefined) return resume(Effect.fail(c.loadError))
        child = c
        c.running.set(id, job)
        post(c, { type: "run", id, attempt })
      }
      dispatch()
      // Interrupted (a timeout, a cancel): ask the child to stop; kill it if it does not in time.
      return Effect.promise(async () => {
        canceled = true
        if (wake !== undefined) {
          const queue = waiting.get(pool)
          const at = queue?.indexOf(wake) ?? -1
          if (at >= 0) queue!.splice(at, 1)
          return
        }
        const c = child
        if (c === undefined || c.dead || !c.running.has(id)) return
        if (!c.ready) {
          // Not sent yet: it never reaches the child.
          c.outbox = c.outbox.filter((m) => m.id !== id)
          release(c, id)
          return
        }
        // Its answer (or the child's exit, which fails what it was running) ends the wait.
        const stopped = new Promise<void>((resolve) => {
          job.done = () => resolve()
        })
        post(c, { type: "cancel", id })
        const timer = setTimeout(() => c.process.kill("SIGKILL"), grace)
        await stopped
        clearTimeout(timer)
      })
    })

  const start = async (pool: string): Promise<void> => {
    while (children.filter((c) => c.pool === pool).length < sizeOf(pool)) spawn(pool)
    await Promise.all(children.filter((c) => c.pool === pool).map((c) => c.loaded))
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
