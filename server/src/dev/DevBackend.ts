/**
 * The Backend of `materia dev`: the catalog, launches and SQL come from the project's code (a
 * ProjectApi: the code server, or the project itself in process), run history from the project's
 * store read directly (StoreReader: its SQLite file or its PostgreSQL database, as its storage
 * configuration says; the last one known while the code fails to load). The catalog is cached per code generation and store watermark, and
 * its JSON kept, so repeated reads of a large graph cost a string copy; steps running now overlay
 * the `running` status from the live events.
 */
import { resolve } from "node:path"
import { nearest } from "@materia/core"
import { ApiError, notFound } from "../http/ApiError.ts"
import type { AssetDetail, DaemonInfo, PartitionPage, ProjectInfo } from "../http/ApiSchemas.ts"
import type { Backend, LiveMessage, SeqEvent } from "../http/Backend.ts"
import { lineageOf, summaryOf } from "./CatalogJson.ts"
import type { CatalogAsset, ProjectApi } from "./ProjectApi.ts"
import { openStoreReader, type StoreLocation, type StoreReader } from "./StoreReader.ts"

export interface DevBackend extends Backend {
  readonly close: () => Promise<void>
}

export interface DevBackendOptions {
  /** The daemon child `materia dev` supervises (DaemonSupervisor.ts); none: `GET /daemon` says `off`. */
  readonly daemon?: { readonly info: () => DaemonInfo } | undefined
}

/** What `GET /daemon` answers when this server supervises no daemon. */
const NO_DAEMON: DaemonInfo = {
  state: "off",
  pid: null,
  leaseHolder: null,
  message:
    "this server runs no daemon: schedules, sensors and automation conditions tick only while `materia daemon` runs for this project"
}

const RECENT_LIMIT = 10_000

interface CatalogView {
  readonly key: string
  readonly name: string
  /** The assets, parsed from the catalog's JSON when first needed. */
  readonly assets: () => ReadonlyArray<CatalogAsset>
  readonly byKey: () => ReadonlyMap<string, CatalogAsset>
  /** The answers of `GET /assets` and `/lineage` as UTF-8, as the code server made them. */
  readonly assetsJson: Uint8Array
  readonly lineageJson: Uint8Array
  /** Answers with the running overlay, by overlay version. */
  readonly json: Map<string, Uint8Array>
}

/** A value computed on first use. */
const lazy = <A>(make: () => A): (() => A) => {
  let value: { readonly a: A } | undefined
  return () => {
    value ??= { a: make() }
    return value.a
  }
}

/** Makes the backend over `project` (its code) and the store under the root its code reports. */
export const makeDevBackend = (project: ProjectApi, options: DevBackendOptions = {}): DevBackend => {
  /**
   * The store's reader, for the project's root (a project may set its own `root`) and storage; one
   * per store the project has named, so a reload that changes neither keeps its connections.
   */
  const readers = new Map<string, StoreReader>()
  const readerOf = async (): Promise<StoreReader> => {
    const state = await project.state()
    const root = resolve(state.root)
    const location: StoreLocation = state.storage ?? { kind: "sqlite" }
    const key = location.kind === "sqlite" ? `sqlite:${root}` : JSON.stringify(location)
    let reader = readers.get(key)
    if (reader === undefined) {
      reader = openStoreReader(root, location)
      readers.set(key, reader)
    }
    return reader
  }
  /** Running steps: asset key → how many runs run it now; `version` grows with every change. */
  const running = new Map<string, Set<string>>()
  let runningVersion = 0
  const stepDone = (runId: string, key: string) => {
    const runs = running.get(key)
    if (runs?.delete(runId)) {
      if (runs.size === 0) running.delete(key)
      runningVersion++
    }
  }
  /** Live events of runs in flight (dropped a while after they finish), at most RECENT_LIMIT each. */
  const recent = new Map<string, Array<SeqEvent>>()
  const unsubscribe = project.subscribe((message: LiveMessage) => {
    if (message.type !== "run-event") return
    const event = message.data.event
    const kept = recent.get(event.runId) ?? []
    recent.set(event.runId, kept)
    kept.push(message.data)
    if (kept.length > RECENT_LIMIT) kept.splice(0, kept.length - RECENT_LIMIT)
    if (event._tag === "RunFinished") setTimeout(() => recent.delete(event.runId), 30_000).unref()
    const key = typeof event.key === "string" ? event.key : undefined
    switch (event._tag) {
      case "StepStarted":
        if (key !== undefined) {
          const runs = running.get(key) ?? new Set<string>()
          running.set(key, runs.add(event.runId))
          runningVersion++
        }
        break
      case "StepSucceeded":
      case "StepFailed":
      case "StepSkipped":
      case "StepCanceled":
        if (key !== undefined) stepDone(event.runId, key)
        break
      case "RunFinished":
        for (const key of [...running.keys()]) stepDone(event.runId, key)
        break
    }
  })

  let cached: CatalogView | undefined
  let loading: { key: string; promise: Promise<CatalogView> } | undefined
  const view = async (): Promise<CatalogView> => {
    const state = await project.state()
    const watermark = await (await readerOf()).watermark()
    const key = `${state.generation}:${watermark}`
    if (cached?.key === key) return cached
    if (loading?.key === key) return loading.promise
    const promise = project.catalog(watermark).then((catalog): CatalogView => {
      const assets = lazy(() => JSON.parse(catalog.catalogJson) as ReadonlyArray<CatalogAsset>)
      const result: CatalogView = {
        key,
        name: state.name,
        assets,
        byKey: lazy(() => new Map(assets().map((a) => [a.key, a]))),
        assetsJson: Buffer.from(catalog.assetsJson),
        lineageJson: Buffer.from(catalog.lineageJson),
        json: new Map()
      }
      cached = result
      return result
    })
    loading = { key, promise }
    try {
      return await promise
    } finally {
      if (loading?.promise === promise) loading = undefined
    }
  }

  const assetOf = async (key: string): Promise<{ view: CatalogView; asset: CatalogAsset }> => {
    const v = await view()
    const asset = v.byKey().get(key)
    if (asset === undefined) {
      const near = nearest(key, v.byKey().keys())
      throw notFound(
        `no asset "${key}" in project "${v.name}"${near.length > 0 ? ` (did you mean ${near.map((n) => `"${n}"`).join(" or ")}?)` : ""}`
      )
    }
    return { view: v, asset }
  }

  const runningKeys = (): ReadonlySet<string> => new Set(running.keys())

  /**
   * The JSON of an answer: the code server's when no step runs, else made again with the running
   * overlay and kept until the catalog or the overlay changes.
   */
  const memo = (v: CatalogView, name: "assets" | "lineage"): Uint8Array => {
    if (running.size === 0) return name === "assets" ? v.assetsJson : v.lineageJson
    const key = `${name}:${runningVersion}`
    let text = v.json.get(key)
    if (text === undefined) {
      for (const k of v.json.keys()) if (k.startsWith(`${name}:`)) v.json.delete(k)
      const now = runningKeys()
      text = Buffer.from(
        JSON.stringify(
          name === "assets"
            ? { assets: v.assets().map((a) => summaryOf(a, now)) }
            : lineageOf(v.assets(), now)
        )
      )
      v.json.set(key, text)
    }
    return text
  }

  /** The project's name; before any code loaded, the store's only project (if it has one). */
  const projectName = async (): Promise<string> => {
    const state = await project.state()
    return state.nameKnown ? state.name : ((await (await readerOf()).soleProject()) ?? state.name)
  }

  return {
    project: async (): Promise<ProjectInfo> => {
      const state = await project.state()
      return {
        name: await projectName(),
        root: state.root,
        codeVersion: state.codeVersion,
        loadError: state.loadError
      }
    },
    assets: async () => {
      const now = runningKeys()
      return (await view()).assets().map((a) => summaryOf(a, now))
    },
    assetsJson: async () => memo(await view(), "assets"),
    asset: async (key): Promise<AssetDetail> => {
      const { asset } = await assetOf(key)
      const extras = await project.extras(key)
      return {
        ...summaryOf(asset, runningKeys()),
        downstream: asset.downstream,
        codeVersion: asset.codeVersion,
        ...extras
      }
    },
    history: async (key, options) => {
      const { view: v } = await assetOf(key)
      return (await readerOf()).history(v.name, key, options)
    },
    partitions: async (key, options): Promise<PartitionPage> => {
      const { asset } = await assetOf(key)
      if (asset.partitions === null) return { items: [], next: null, total: 0 }
      return project.partitions(key, options)
    },
    lineage: async () => lineageOf((await view()).assets(), runningKeys()),
    lineageJson: async () => memo(await view(), "lineage"),
    runs: async (options) => (await readerOf()).runs(await projectName(), options),
    run: async (runId) => (await readerOf()).run(runId),
    events: async (runId, options) => (await readerOf()).events(runId, options),
    launch: (body) => project.launch(body),
    cancel: async (runId) => {
      const answer = await project.cancel(runId)
      if (answer !== null) return answer
      const { run } = await (await readerOf()).run(runId) // 404 for an unknown run
      if (run.status !== "running")
        throw new ApiError({
          status: 409,
          code: "RunFinished",
          message: `run "${runId}" already finished: ${run.status}`
        })
      throw new ApiError({
        status: 409,
        code: "RunElsewhere",
        message: `run "${runId}" is driven by another process (not this server): cancel it there (Ctrl-C in its terminal)`
      })
    },
    reexecute: async (runId) => {
      const { run } = await (await readerOf()).run(runId) // 404 for an unknown run
      if (run.status === "running")
        throw new ApiError({
          status: 409,
          code: "RunRunning",
          message: `run "${runId}" is still running; re-execute it once it has finished (or cancel it first)`
        })
      return project.reexecute(runId)
    },
    query: (body) => project.query(body),
    backfills: (options) => project.backfills(options.limit),
    backfill: async (backfillId) => {
      const found = await project.backfill(backfillId)
      if (found === null) throw notFound(`no backfill "${backfillId}" in this project's store`)
      return found
    },
    launchBackfill: (body) => project.launchBackfill(body),
    cancelBackfill: async (backfillId) => {
      const found = await project.cancelBackfill(backfillId)
      if (found === null) throw notFound(`no backfill "${backfillId}" in this project's store`)
      return found
    },
    schedules: () => project.schedules(),
    sensors: () => project.sensors(),
    automations: () => project.automations(),
    freshness: () => project.freshness(),
    ticks: (ref, options) => project.ticks(ref, options.limit),
    setScheduleStatus: (name, status) => project.setScheduleStatus(name, status),
    setSensorStatus: (name, status) => project.setSensorStatus(name, status),
    daemon: async () => options.daemon?.info() ?? NO_DAEMON,
    subscribe: (listener) => project.subscribe(listener),
    recent: (runId) => recent.get(runId) ?? [],
    close: async () => {
      unsubscribe()
      await Promise.all([...readers.values()].map((reader) => reader.close()))
      await project.close()
    }
  }
}
