/**
 * Supervises the daemon child of `materia dev` (DaemonChild.ts): starts it, knows its state and who
 * holds the store's lease from the lease the child reads in the daemon store (`GET /daemon`; the
 * daemon's log lines are only relayed), starts it again after a crash
 * (backing off) and, on `restart`, after the project's code changed — the daemon reads the
 * schedules and sensors once, when it starts. A daemon that cannot load the project waits for the
 * next change instead of crash-looping.
 */
import { type ChildProcess, fork } from "node:child_process"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import type { DaemonInfo } from "../http/ApiSchemas.ts"
import type { DaemonChildArgs, FromDaemon } from "./DaemonChild.ts"

const DAEMON_CHILD = fileURLToPath(new URL("./DaemonChild.ts", import.meta.url))

export interface DaemonSupervisorOptions {
  /** The project's module (`materia.config.ts`). */
  readonly configFile: string
  /** More `materia daemon` options (`--tick-interval 500`). */
  readonly options?: ReadonlyArray<string> | undefined
  /** Where the daemon's lines go, prefixed. */
  readonly log?: ((line: string) => void) | undefined
}

export interface DaemonSupervisor {
  readonly info: () => DaemonInfo
  /** Starts the daemon, or stops it and starts it again (after a reload: with the new definitions). */
  readonly restart: () => Promise<void>
  /** Says why the daemon is not started yet (the project failed to load), unless one runs. */
  readonly notStarted: (reason: string) => void
  /** Stops the daemon (it releases its lease) and waits for its exit. */
  readonly close: () => Promise<void>
}

/** Exit code of a daemon that could not load the project or its definitions (a usage error). */
const USAGE_EXIT = 2
/** A daemon that ran this long before crashing restarts at once again. */
const HEALTHY_MILLIS = 60_000
const MAX_BACKOFF_MILLIS = 30_000
/** A daemon asked to stop that has not exited after this long is killed. */
const STOP_GRACE_MILLIS = 15_000

/** Makes the supervisor; the daemon starts at the first `restart` (once the project has loaded). */
export const makeDaemonSupervisor = (options: DaemonSupervisorOptions): DaemonSupervisor => {
  const log = options.log ?? (() => {})
  const args: DaemonChildArgs = { configFile: options.configFile, options: options.options ?? [] }
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let info: DaemonInfo = {
    state: "starting",
    pid: null,
    leaseHolder: null,
    message: "the daemon starts once the project has loaded"
  }
  let closed = false
  let backoff = 1000
  let retry: NodeJS.Timeout | undefined

  const set = (next: Partial<DaemonInfo>) => {
    info = { ...info, ...next }
  }

  const spawn = () => {
    clearTimeout(retry)
    retry = undefined
    const startedAt = Date.now()
    const errors: Array<string> = []
    let stopping = false
    const started = fork(DAEMON_CHILD, [JSON.stringify(args)], {
      cwd: dirname(options.configFile),
      execArgv: ["--import", import.meta.resolve("tsx")],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    child = started
    set({
      state: "starting",
      pid: started.pid ?? null,
      leaseHolder: null,
      message: "the daemon is loading the project's schedules, sensors and automation conditions"
    })
    started.on("message", (message: FromDaemon) => {
      if (message.type === "lease") {
        if (child !== started) return
        const { holder, expiresAt, mine, at } = message
        if (holder !== null && mine)
          set({
            state: "running",
            leaseHolder: holder,
            message: `this server's daemon (pid ${started.pid}) holds the lease and ticks`
          })
        else if (holder !== null && expiresAt !== null && expiresAt > at)
          set({
            state: "waiting",
            leaseHolder: holder,
            message: `another daemon (${holder}) holds the lease of this store until ${new Date(expiresAt).toISOString()}; this server's daemon waits for it to stop`
          })
        else if (info.state === "running" || info.state === "waiting")
          // Released or expired: this server's daemon takes it at its next turn.
          set({
            state: "starting",
            leaseHolder: null,
            message: "the lease of this store is free; this server's daemon is taking it"
          })
        return
      }
      if (message.type !== "line" || message.text === "") return
      const text = message.text
      log(`materia daemon: ${text}`)
      if (message.stream === "err") {
        errors.push(text)
        if (errors.length > 5) errors.shift()
      }
    })
    exited = new Promise<void>((resolve) => {
      started.once("exit", (code, signal) => {
        resolve()
        if (child !== started) return
        child = undefined
        const why = signal ?? `code ${code}`
        const last = errors.at(-1)?.replace(/^error: /, "")
        if (closed || stopping) {
          set({ state: "off", pid: null, leaseHolder: null, message: "the daemon is stopped" })
        } else if (code === USAGE_EXIT) {
          set({
            state: "failed",
            pid: null,
            leaseHolder: null,
            message: `the daemon could not start (${last ?? why}); it starts again when the project's files change`
          })
        } else {
          if (Date.now() - startedAt > HEALTHY_MILLIS) backoff = 1000
          const wait = backoff
          backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2)
          set({
            state: "restarting",
            pid: null,
            leaseHolder: null,
            message: `the daemon exited (${why}${last === undefined ? "" : `: ${last}`}); restarting it in ${Math.round(wait / 1000)} s`
          })
          log(`materia dev: the daemon exited (${why}); restarting it in ${Math.round(wait / 1000)} s`)
          retry = setTimeout(() => {
            if (!closed && child === undefined) spawn()
          }, wait)
          retry.unref()
        }
      })
    })
    started.on("error", (error) => log(`materia dev: the daemon child failed: ${error.message}`))
    stopChild = async () => {
      stopping = true
      if (started.exitCode === null && started.signalCode === null) {
        started.kill("SIGTERM")
        const kill = setTimeout(() => started.kill("SIGKILL"), STOP_GRACE_MILLIS)
        kill.unref()
        await exited
        clearTimeout(kill)
      }
    }
  }
  let stopChild = async () => {}

  const stop = async () => {
    clearTimeout(retry)
    retry = undefined
    await stopChild()
    child = undefined
  }

  let restarting: Promise<void> | undefined
  const restart = (): Promise<void> => {
    restarting ??= (async () => {
      await stop()
      if (!closed) spawn()
    })().finally(() => {
      restarting = undefined
    })
    return restarting
  }

  return {
    info: () => info,
    restart,
    notStarted: (reason) => {
      if (child === undefined && retry === undefined && restarting === undefined && !closed)
        set({ state: "failed", pid: null, leaseHolder: null, message: reason })
    },
    close: async () => {
      closed = true
      await restarting
      await stop()
      set({ state: "off", pid: null, leaseHolder: null, message: "the daemon is stopped" })
    }
  }
}
