/**
 * Runs the project's code server (CodeServer.ts) as a child process and answers ProjectApi through
 * it. Watches the project folder: a change (debounced) starts a new code server; once it has loaded
 * (or failed to), it becomes current and the previous one is retired — it takes no new requests and
 * exits when its runs in flight have finished, so they end on the code they started with. A
 * project that fails to load is a `loadError`; the server stays up and tries again on the next change.
 */
import { type ChildProcess, fork } from "node:child_process"
import { basename, dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { ApiError } from "../http/ApiError.ts"
import type {
  AutomationInfo,
  BackfillSummary,
  FreshnessInfo,
  LaunchBody,
  PartitionPage,
  QueryBody,
  QueryResponse,
  ScheduleInfo,
  SensorInfo,
  Tick
} from "../http/ApiSchemas.ts"
import type { LiveMessage } from "../http/Backend.ts"
import type { CodeServerArgs, FromChild, Request, ToChild } from "./CodeServerProtocol.ts"
import { watchFolder } from "./FolderWatcher.ts"
import type { Accepted, AssetExtras, Catalog, ProjectApi, ProjectState } from "./ProjectApi.ts"

const CODE_SERVER = fileURLToPath(new URL("./CodeServer.ts", import.meta.url))

export interface SupervisorOptions {
  /** The project's module (`materia.config.ts`); its folder is watched. */
  readonly configFile: string
  readonly queryTimeoutMillis?: number | undefined
  /** Quiet time after the last change before reloading (default 200 ms). */
  readonly debounceMillis?: number | undefined
  /** Where to tell the user about reloads and load errors. */
  readonly log?: ((line: string) => void) | undefined
}

interface Generation {
  readonly id: number
  readonly child: ChildProcess
  /** Settles when the child has loaded the project or reported why it could not. */
  readonly settled: Promise<void>
  state: ProjectState | undefined
  readonly pending: Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>
  exited: boolean
  retired: boolean
  /** The latest catalog the child computed unasked. */
  catalog: Catalog | undefined
}

export interface Supervisor extends ProjectApi {
  /** Starts a new code server now (as a file change would); resolves once it is current. */
  readonly reload: () => Promise<void>
}

/** Starts the first code server and the watcher. */
export const startSupervisor = (options: SupervisorOptions): Supervisor => {
  const root = dirname(options.configFile)
  const log = options.log ?? (() => {})
  const listeners = new Set<(message: LiveMessage) => void>()
  const generations = new Set<Generation>()
  let nextGeneration = 1
  let nextRequest = 1
  let current: Generation | undefined
  let closed = false
  const broadcast = (message: LiveMessage) => {
    for (const listener of listeners)
      try {
        listener(message)
      } catch {
        // One listener must not break the others.
      }
  }

  const spawn = (): Generation => {
    const id = nextGeneration++
    const args: CodeServerArgs = {
      configFile: options.configFile,
      queryTimeoutMillis: options.queryTimeoutMillis ?? 30_000
    }
    const child = fork(CODE_SERVER, [JSON.stringify(args)], {
      cwd: root,
      execArgv: ["--import", import.meta.resolve("tsx")],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let settle = () => {}
    const generation: Generation = {
      id,
      child,
      settled: new Promise<void>((resolve) => {
        settle = resolve
      }),
      state: undefined,
      pending: new Map(),
      exited: false,
      retired: false,
      catalog: undefined
    }
    child.on("message", (message: FromChild) => {
      switch (message.type) {
        case "ready":
          generation.state = {
            generation: id,
            name: message.name,
            nameKnown: true,
            root: message.root,
            codeVersion: message.codeVersion,
            loadError: null,
            storage: message.storage
          }
          settle()
          break
        case "load-error":
          generation.state = {
            generation: id,
            name: current?.state?.name ?? basename(root),
            nameKnown: current?.state?.nameKnown ?? false,
            root: current?.state?.root ?? root,
            codeVersion: "",
            loadError: message.error,
            // The last configuration that loaded knows better than the environment alone.
            storage: current?.state?.storage ?? message.storage
          }
          settle()
          break
        case "response": {
          const waiter = generation.pending.get(message.id)
          generation.pending.delete(message.id)
          if (message.ok) waiter?.resolve(message.value)
          else waiter?.reject(new ApiError(message.error))
          break
        }
        case "event":
          broadcast({ type: "run-event", data: message.event })
          break
        case "catalog":
          generation.catalog = message.catalog
          break
      }
    })
    const exited = (code: number | null, signal: NodeJS.Signals | null) => {
      if (generation.exited) return
      generation.exited = true
      generations.delete(generation)
      for (const waiter of generation.pending.values())
        waiter.reject(
          new ApiError({
            status: 503,
            code: "CodeServerExited",
            message: `the project's code server exited (${signal ?? `code ${code}`}) before answering; try again`
          })
        )
      generation.pending.clear()
      if (generation.state === undefined) {
        generation.state = {
          generation: id,
          name: current?.state?.name ?? basename(root),
          nameKnown: current?.state?.nameKnown ?? false,
          root: current?.state?.root ?? root,
          codeVersion: "",
          loadError: {
            file: options.configFile,
            line: null,
            message: `the code server exited (${signal ?? `code ${code}`}) while loading the project`
          },
          storage: current?.state?.storage
        }
        settle()
      } else if (generation === current && generation.state.loadError === null && !closed) {
        log(`materia dev: the project's code server exited (${signal ?? `code ${code}`}); starting it again`)
        void reload()
      }
    }
    child.on("exit", exited)
    child.on("error", (error) => {
      log(`materia dev: the code server failed: ${error.message}`)
      exited(null, null)
    })
    generations.add(generation)
    return generation
  }

  const retire = (generation: Generation) => {
    generation.retired = true
    if (generation.exited) return
    if (generation.state?.loadError !== null || !generation.child.connected) {
      generation.child.kill()
      return
    }
    generation.child.send({ type: "retire" } satisfies ToChild)
  }

  let reloading: Promise<void> | undefined
  let again = false
  const reload = (): Promise<void> => {
    if (closed) return Promise.resolve()
    if (reloading !== undefined) {
      again = true
      return reloading
    }
    reloading = (async () => {
      do {
        again = false
        const next = spawn()
        await next.settled
        if (closed) {
          retire(next)
          return
        }
        const previous = current
        current = next
        if (previous !== undefined) retire(previous)
        const state = next.state!
        if (state.loadError !== null)
          log(
            `materia dev: the project failed to load: ${state.loadError.file}${state.loadError.line === null ? "" : `:${state.loadError.line}`}: ${state.loadError.message}`
          )
        else if (previous !== undefined)
          log(`materia dev: reloaded the project (code version ${state.codeVersion})`)
        broadcast({
          type: "project-reloaded",
          data: { codeVersion: state.codeVersion, loadError: state.loadError }
        })
      } while (again && !closed)
    })().finally(() => {
      reloading = undefined
    })
    return reloading
  }

  const watcher = watchFolder(root, () => void reload(), {
    debounceMillis: options.debounceMillis ?? 200,
    onError: (error) =>
      log(`materia dev: cannot watch ${root} (${error.message}); changes will not reload the code`)
  })

  const first = reload()

  const ready = async (): Promise<Generation> => {
    await first
    while (reloading !== undefined && current === undefined) await reloading
    return current!
  }

  const ask = (generation: Generation, request: Request): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (generation.exited || !generation.child.connected)
        return reject(
          new ApiError({
            status: 503,
            code: "CodeServerExited",
            message: "the project's code server is restarting; try again"
          })
        )
      const id = nextRequest++
      generation.pending.set(id, { resolve, reject })
      generation.child.send({ type: "request", id, request } satisfies ToChild)
    })

  const call = async <A>(request: Request): Promise<A> => {
    const generation = await ready()
    const error = generation.state?.loadError
    if (error != null)
      throw new ApiError({
        status: 409,
        code: "LoadError",
        message: `the project failed to load: ${error.file}${error.line === null ? "" : `:${error.line}`}: ${error.message} — fix it and save: the server reloads it`
      })
    return (await ask(generation, request)) as A
  }

  return {
    state: async () => (await ready()).state!,
    catalog: async (watermark: number) => {
      const pushed = (await ready()).catalog
      return pushed?.watermark === watermark ? pushed : call<Catalog>({ method: "catalog", watermark })
    },
    extras: (key: string) => call<AssetExtras>({ method: "extras", key }),
    partitions: (key, options) =>
      call<PartitionPage>({ method: "partitions", key, limit: options.limit, after: options.after }),
    launch: (body: LaunchBody) => call<Accepted>({ method: "launch", body }),
    reexecute: (runId: string) => call<Accepted>({ method: "reexecute", runId }),
    query: (body: QueryBody) => call<QueryResponse>({ method: "query", body }),
    backfills: (limit) => call<ReadonlyArray<BackfillSummary>>({ method: "backfills", limit }),
    backfill: (backfillId) => call<BackfillSummary | null>({ method: "backfill", backfillId }),
    launchBackfill: (body) => call<{ backfillId: string }>({ method: "launchBackfill", body }),
    cancelBackfill: (backfillId) => call<BackfillSummary | null>({ method: "cancelBackfill", backfillId }),
    schedules: () => call<ReadonlyArray<ScheduleInfo>>({ method: "schedules" }),
    sensors: () => call<ReadonlyArray<SensorInfo>>({ method: "sensors" }),
    automations: () => call<ReadonlyArray<AutomationInfo>>({ method: "automations" }),
    freshness: () => call<ReadonlyArray<FreshnessInfo>>({ method: "freshness" }),
    ticks: (ref, limit) => call<ReadonlyArray<Tick>>({ method: "ticks", ref, limit }),
    setScheduleStatus: (name, status) =>
      call<ScheduleInfo>({ method: "setStatus", kind: "schedule", name, status }),
    setSensorStatus: (name, status) =>
      call<SensorInfo>({ method: "setStatus", kind: "sensor", name, status }),
    cancel: async (runId: string) => {
      await ready()
      for (const generation of [...generations].filter((g) => g.state?.loadError === null)) {
        const answer = (await ask(generation, { method: "cancel", runId }).catch(() => null)) as Awaited<
          ReturnType<ProjectApi["cancel"]>
        >
        if (answer !== null) return answer
      }
      return null
    },
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    reload,
    close: async () => {
      closed = true
      watcher.close()
      await reloading?.catch(() => {})
      const exits = [...generations].map(
        (g) =>
          new Promise<void>((resolve) => {
            if (g.exited) return resolve()
            g.child.once("exit", () => resolve())
            // Disconnecting makes the child cancel its runs and exit; a stuck child is killed.
            if (g.child.connected) g.child.disconnect()
            setTimeout(() => g.child.kill("SIGKILL"), 10_000).unref()
          })
      )
      await Promise.all(exits)
    }
  }
}
