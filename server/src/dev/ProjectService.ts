/**
 * The project side of `materia dev`, in the process that loaded the project's code (the code
 * server): the catalog (specs and statuses; an asset's checks, metadata and partitions on demand),
 * launches, re-executions and backfills in the project's store (the one `openConfiguredStore`
 * picks: SQLite under `.materia/`, or PostgreSQL), cancellation through each
 * run's AbortSignal, and SQL through the confined DuckDB exploration. Runs execute here, so a run
 * keeps the code it started with.
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import {
  type AnyProject,
  assetStatuses,
  backfill,
  backfillState,
  cancelBackfill,
  explore,
  type MaterializeStore,
  materiaDir,
  materializeEffect,
  openConfiguredStore,
  partitionStatusPage,
  reexecuteEffect,
  resolveSelectionWithGit
} from "@materia/assets"
import {
  type AssetSpec,
  type BackfillRecord,
  type DimensionSpec,
  nearest,
  type RunEvent
} from "@materia/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { DaemonStore, DaemonStoreError } from "../daemon/DaemonStore.ts"
import {
  listAutomations,
  listFreshness,
  listSchedules,
  listSensors,
  tickHistory
} from "../daemon/InstigatorListing.ts"
import { openDaemonStore } from "../daemon/OpenDaemonStore.ts"
import { type Definitions, setStatus } from "../daemon/TickEngine.ts"
import { ApiError, notFound } from "../http/ApiError.ts"
import type {
  AutomationInfo,
  BackfillBody,
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
import type { InstigatorRef, SeqEvent } from "../http/Backend.ts"
import { lineageOf, summaryOf } from "./CatalogJson.ts"
import { automationJson, freshnessJson, scheduleJson, sensorJson, tickJson } from "./InstigatorJson.ts"
import type { Accepted, AssetExtras, Catalog, CatalogAsset } from "./ProjectApi.ts"

export interface ProjectServiceOptions {
  readonly project: AnyProject
  readonly root: string
  /** Every run event of the runs launched here, with its seq in the run's log. */
  readonly emit: (event: SeqEvent) => void
  /** The store's watermark (StoreReader): lets the service compute the catalog before it is asked. */
  readonly watermark?: (() => Promise<number>) | undefined
  /** Called with each catalog computed ahead of a request (by `refresh`). */
  readonly onCatalog?: ((catalog: Catalog) => void) | undefined
  /** A query running longer is interrupted (504); default 30 s. */
  readonly queryTimeoutMillis?: number | undefined
  /**
   * The schedules, sensors and automation conditions (DaemonProject's `definitionsOf`, which also
   * reads the config module's named exports), or why they are invalid. Default: the project's own.
   */
  readonly definitions?: Definitions | { readonly error: string } | undefined
  /** The environment the metadata and daemon stores are chosen with (MATERIA_DATABASE_URL); default none. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

export interface ProjectService {
  readonly name: string
  readonly codeVersion: string
  readonly catalog: (watermark: number) => Promise<Catalog>
  readonly extras: (key: string) => Promise<AssetExtras>
  readonly partitions: (
    key: string,
    options: { limit: number; after?: string | undefined }
  ) => Promise<PartitionPage>
  /** Computes the catalog now (when `watermark` is given), so that the first request finds it. */
  readonly refresh: () => Promise<void>
  readonly launch: (body: LaunchBody) => Promise<Accepted>
  readonly reexecute: (runId: string) => Promise<Accepted>
  readonly cancel: (
    runId: string
  ) => Promise<{ runId: string; status: "running" | "succeeded" | "failed" | "canceled" } | null>
  readonly query: (body: QueryBody) => Promise<QueryResponse>
  readonly backfills: (limit: number) => Promise<ReadonlyArray<BackfillSummary>>
  readonly backfill: (backfillId: string) => Promise<BackfillSummary | null>
  readonly launchBackfill: (body: BackfillBody) => Promise<{ backfillId: string }>
  readonly cancelBackfill: (backfillId: string) => Promise<BackfillSummary | null>
  readonly schedules: () => Promise<ReadonlyArray<ScheduleInfo>>
  readonly sensors: () => Promise<ReadonlyArray<SensorInfo>>
  readonly automations: () => Promise<ReadonlyArray<AutomationInfo>>
  readonly freshness: () => Promise<ReadonlyArray<FreshnessInfo>>
  /** The latest ticks of one schedule, sensor, automation condition or freshness policy, newest first (404 for an unknown name). */
  readonly ticks: (ref: InstigatorRef, limit: number) => Promise<ReadonlyArray<Tick>>
  /** Starts or stops a schedule or sensor in the daemon store; a running daemon follows at its next tick. */
  readonly setStatus: (
    kind: "schedule" | "sensor",
    name: string,
    status: "running" | "stopped"
  ) => Promise<ScheduleInfo | SensorInfo>
  /** How many runs are still executing here. */
  readonly activeRuns: () => number
  /** Resolves once no run executes here. */
  readonly drained: () => Promise<void>
  /** Cancels every run and waits for them. */
  readonly close: () => Promise<void>
}

interface ActiveRun {
  readonly controller: AbortController
  readonly done: Promise<"succeeded" | "failed" | "canceled">
}

/** A run id like the CLI's: a sortable UTC timestamp and a random suffix. */
const newRunId = (): string =>
  `${new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "")}-${randomBytes(3).toString("hex")}`

/** The project's code version: a hash of every asset's definition (its code version included). */
const projectCodeVersion = (project: AnyProject): string => {
  const hash = createHash("sha256")
  for (const spec of project.graph.specs) hash.update(`${JSON.stringify(spec)}\n`)
  return hash.digest("hex").slice(0, 16)
}

const describeDimension = (spec: DimensionSpec): string => {
  switch (spec.kind) {
    case "timeWindow":
      return `${spec.cadence} from ${spec.start}${spec.end === undefined ? "" : ` to ${spec.end}`} (${spec.timezone})`
    case "static":
      return `${spec.keys.length} keys: ${spec.keys.slice(0, 5).join(", ")}${spec.keys.length > 5 ? ", …" : ""}`
    case "dynamic":
      return `dynamic "${spec.name}"`
  }
}

/** The partitions of an asset, as the API shows them: the definition's kind and a description. */
const partitionsOf = (spec: AssetSpec): CatalogAsset["partitions"] => {
  const p = spec.partitions
  if (p === undefined) return null
  return {
    kind: p.kind,
    description:
      p.kind === "multi"
        ? p.dimensions.map((d) => `${d.name}: ${describeDimension(d.spec)}`).join(" × ")
        : describeDimension(p)
  }
}

const USER_INPUT_TAGS = new Set([
  "SelectionError",
  "StaleUpstream",
  "ConfigError",
  "PartitionRequestError",
  "BackfillError",
  "GitChangesError"
])

/** A launch failure as an API error: the user's input is a 400 naming the problem. */
const apiErrorOf = (error: unknown): ApiError => {
  if (error instanceof ApiError) return error
  const tag = (error as { _tag?: unknown } | null)?._tag
  const message = error instanceof Error ? error.message : String(error)
  if (typeof tag === "string" && USER_INPUT_TAGS.has(tag))
    return new ApiError({ status: 400, code: tag, message })
  if (tag === "StorageError") return new ApiError({ status: 503, code: tag, message })
  return new ApiError({ status: 500, code: typeof tag === "string" ? tag : "Internal", message })
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): unknown => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons[0]
  if (reason?._tag === "Fail") return reason.error
  if (reason?._tag === "Die") return reason.defect
  return new Error("the launch was interrupted")
}

/** Makes the service of a loaded project. */
export const makeProjectService = async (options: ProjectServiceOptions): Promise<ProjectService> => {
  const { project, root, emit } = options
  // The project's configured store (else MATERIA_DATABASE_URL, else SQLite): the server reads run
  // history from the same one (StoreReader's storeLocationOf makes the same choice).
  const store: MaterializeStore = await openConfiguredStore(root, project.storage, options.env ?? {})
  const graph = project.graph
  const active = new Map<string, ActiveRun>()
  const keys = graph.keys
  let idle: Array<() => void> = []

  const compute = async (watermark: number): Promise<Catalog> => {
    const rows = await Effect.runPromise(assetStatuses(project, store))
    const assets = rows.map((row, i): CatalogAsset => {
      const spec = graph.specs[i]!
      return {
        key: spec.key,
        kind: spec.kind,
        group: spec.group,
        tags: spec.tags,
        pool: spec.pool,
        description: spec.description ?? null,
        partitions: partitionsOf(spec),
        status: row.status,
        reasons: row.reasons,
        upstream: graph.parents[i]!.map((p) => keys[p]!),
        latest: row.latest ?? null,
        downstream: graph.children[i]!.map((c) => keys[c]!),
        codeVersion: spec.codeVersion
      }
    })
    return {
      watermark,
      catalogJson: JSON.stringify(assets),
      assetsJson: JSON.stringify({ assets: assets.map((a) => summaryOf(a)) }),
      lineageJson: JSON.stringify(lineageOf(assets))
    }
  }
  let cached: { readonly watermark: number; readonly promise: Promise<Catalog> } | undefined
  /** The catalog as of `watermark`: computed once per watermark, whoever asks first. */
  const catalog = (watermark: number): Promise<Catalog> => {
    if (cached?.watermark === watermark) return cached.promise
    const promise = compute(watermark)
    const entry = { watermark, promise }
    cached = entry
    promise.catch(() => {
      if (cached === entry) cached = undefined
    })
    return promise
  }
  /** Computes the catalog ahead of the next request, when the store has changed; resolves when done. */
  const refresh = async (): Promise<void> => {
    const watermark = await options.watermark?.().catch(() => undefined)
    if (watermark === undefined || cached?.watermark === watermark) return
    const computed = await catalog(watermark).catch(() => undefined)
    if (computed !== undefined) options.onCatalog?.(computed)
  }

  const partitions = async (
    key: string,
    options: { limit: number; after?: string | undefined }
  ): Promise<PartitionPage> => {
    if (graph.indexOf(key) < 0) throw notFound(`no asset "${key}" in project "${project.name}"`)
    if (graph.specs[graph.indexOf(key)]!.partitions === undefined) return { items: [], next: null, total: 0 }
    const page = await Effect.runPromise(
      Effect.result(partitionStatusPage(project, store, key, { after: options.after, limit: options.limit }))
    )
    if (page._tag === "Failure") throw apiErrorOf(page.failure)
    return {
      items: page.success.items.map((i) => ({ partition: i.partition, status: i.status, at: i.at })),
      next: page.success.next,
      total: page.success.total
    }
  }

  const extras = async (key: string): Promise<AssetExtras> => {
    const state = (await Effect.runPromise(store.storage.snapshot(project.name, [key]))).get(key)
    return {
      checks: (state?.checks ?? []).map((c) => ({
        check: c.check,
        passed: c.passed,
        severity: c.severity,
        message: c.message ?? null,
        at: c.at,
        runId: c.runId
      })),
      latestMetadata: (state?.latest?.metadata as AssetExtras["latestMetadata"] | undefined) ?? null
    }
  }

  /** Sends run events on with their seq in their run's log (events reach listeners and storage in one order). */
  const seqs = new Map<string, number>()
  const forward = (event: RunEvent) => {
    const seq = (seqs.get(event.runId) ?? 0) + 1
    seqs.set(event.runId, seq)
    emit({ seq, event: event as unknown as SeqEvent["event"] })
    // Alerts may still be recorded after the end: keep the count a while.
    if (event._tag === "RunFinished") setTimeout(() => seqs.delete(event.runId), 120_000).unref()
  }
  /** A run or backfill has ended: wake who waits for none to run, and compute the catalog anew. */
  const ended = (id: string) => {
    active.delete(id)
    if (active.size === 0) {
      for (const wake of idle) wake()
      idle = []
      void refresh()
    }
  }

  /**
   * Starts a run and resolves once it is recorded (its RunStarted event) with its id, or once it
   * ended without recording anything (nothing stale); rejects with a 400 for bad input found while
   * planning (unknown config keys, stale upstream refused).
   */
  const start = (
    runId: string,
    run: (common: {
      readonly storage: MaterializeStore
      readonly root: string
      readonly signal: AbortSignal
      readonly raiseOnError: false
      readonly output: "capture"
      readonly runId: string
      readonly onEvent: (event: RunEvent) => void
    }) => Effect.Effect<unknown, unknown>
  ): Promise<Accepted> =>
    new Promise<Accepted>((resolve, reject) => {
      const controller = new AbortController()
      let accepted = false
      let finished = false
      /**
       * Listeners hear RunStarted before the executor's buffer reaches storage (a PostgreSQL commit
       * takes a while): answer once it is stored, so that the run can be read as soon as it is
       * accepted. A store that fails to answer does not hold the launch back.
       */
      const recorded = async (): Promise<void> => {
        while (!finished) {
          const found = await Effect.runPromise(Effect.result(store.storage.events(runId, { limit: 1 })))
          if (found._tag === "Failure" || found.success.length > 0) return
          await sleep(5)
        }
      }
      const onEvent = (event: RunEvent) => {
        // The executor sends every event to listeners and to storage in the same order: seq matches.
        forward(event)
        if (!accepted && event._tag === "RunStarted" && event.runId === runId) {
          accepted = true
          void recorded().then(() => resolve({ runId }))
        }
      }
      const done = Effect.runPromiseExit(
        run({
          storage: store,
          root,
          signal: controller.signal,
          raiseOnError: false,
          output: "capture",
          runId,
          onEvent
        })
      ).then((exit) => {
        finished = true
        ended(runId)
        if (!accepted) {
          accepted = true
          if (Exit.isSuccess(exit)) resolve({ runId, nothingToDo: true })
          else reject(apiErrorOf(failureOf(exit)))
        }
        const value = Exit.isSuccess(exit) ? (exit.value as { status?: unknown }) : undefined
        const status = value?.status
        return status === "succeeded" || status === "canceled" ? status : ("failed" as const)
      })
      active.set(runId, { controller, done })
    })

  const launch = async (body: LaunchBody): Promise<Accepted> => {
    // Checked before anything runs: a bad selection is a 400 naming the nearest keys
    // (`changed-since:` terms ask git, as the CLI does).
    const resolved = await Effect.runPromise(Effect.result(resolveSelectionWithGit(project, body.select)))
    if (resolved._tag === "Failure") {
      const error = resolved.failure
      const near = nearest(body.select.replace(/^[+*\d]+|[+*\d]+$/g, ""), keys)
      const hint =
        error._tag === "SelectionError" && near.length > 0 && !error.message.includes("did you mean")
          ? ` (nearest keys: ${near.join(", ")})`
          : ""
      throw new ApiError({ status: 400, code: error._tag, message: `${error.message}${hint}` })
    }
    const selected = resolved.success.selected
    if (selected.size === 0)
      throw new ApiError({
        status: 400,
        code: "SelectionError",
        message: `selection "${body.select}" matches no asset; assets: ${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}`
      })
    const runId = newRunId()
    return start(runId, (common) =>
      materializeEffect(project, [body.select] as ReadonlyArray<string>, {
        ...common,
        force: body.force,
        partitions: body.partitions,
        config: body.config as never
      })
    )
  }

  const reexecute = (parent: string): Promise<Accepted> =>
    start(newRunId(), (common) => reexecuteEffect(project, { ...common, fromFailure: parent }))

  const cancel = async (runId: string) => {
    // A run of a backfill driven here is canceled with its backfill.
    const owner = backfillOfRun.get(runId)
    if (owner !== undefined && active.has(owner)) {
      const backfillRun = active.get(owner)!
      backfillRun.controller.abort()
      await backfillRun.done
      return { runId, status: "canceled" as const }
    }
    const run = active.get(runId)
    if (run === undefined) return null
    run.controller.abort()
    return { runId, status: await run.done }
  }

  const query = async (body: QueryBody): Promise<QueryResponse> => {
    // explore() needs the storage folder to exist (it resolves it to confine DuckDB), even before any run.
    await mkdir(join(materiaDir(root), "storage"), { recursive: true })
    const explorer = await explore(project, { root, storage: store.storage })
    try {
      const result = await explorer.query(body.sql, {
        maxRows: body.limit ?? 1000,
        timeoutMillis: options.queryTimeoutMillis ?? 30_000
      })
      return {
        columns: result.columns.map((c) => ({ name: c.name, type: c.type })),
        rows: result.rows.map((row) =>
          result.columns.map((c) => row[c.name] ?? null)
        ) as QueryResponse["rows"],
        truncated: result.truncated
      }
    } catch (error) {
      // Matched by tag: importing ExploreError would load DuckDB with the code server.
      const explored = error as {
        readonly _tag?: unknown
        readonly reason?: unknown
        readonly message?: unknown
      }
      const message = typeof explored?.message === "string" ? explored.message : String(error)
      if (explored?._tag === "ExploreError") {
        if (explored.reason === "Timeout") throw new ApiError({ status: 504, code: "QueryTimeout", message })
        if (explored.reason === "Refused" || explored.reason === "InvalidSql")
          throw new ApiError({ status: 400, code: `Query${explored.reason}`, message })
      }
      throw new ApiError({ status: 500, code: "QueryFailed", message })
    } finally {
      explorer.close()
    }
  }

  const backfillKey = (backfillId: string) => `backfill:${backfillId}`
  /** The backfill (its key in `active`) that drives each run it started here. */
  const backfillOfRun = new Map<string, string>()
  const backfillSummary = (record: BackfillRecord): BackfillSummary => ({
    backfillId: record.backfillId,
    status: backfillState(record, Date.now()),
    select: record.select,
    partitions: record.partitions,
    onlyStale: record.onlyStale,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    endedAt: record.endedAt ?? null,
    runIds: record.runIds,
    progress: record.progress,
    reason: record.reason ?? null
  })
  const storedBackfill = async (backfillId: string): Promise<BackfillRecord | undefined> => {
    const record = await Effect.runPromise(store.storage.backfill(backfillId))
    return record?.project === project.name ? record : undefined
  }

  const backfills = async (limit: number): Promise<ReadonlyArray<BackfillSummary>> =>
    (await Effect.runPromise(store.storage.backfills(project.name, { limit }))).map(backfillSummary)

  const getBackfill = async (backfillId: string): Promise<BackfillSummary | null> => {
    const record = await storedBackfill(backfillId)
    return record === undefined ? null : backfillSummary(record)
  }

  /** Starts a backfill here; resolves once it is recorded (or has ended), rejects with a 400 for bad input. */
  const launchBackfill = (body: BackfillBody): Promise<{ backfillId: string }> =>
    new Promise((resolve, reject) => {
      const backfillId = `bf-${newRunId()}`
      const controller = new AbortController()
      let accepted = false
      const accept = () => {
        if (accepted) return
        accepted = true
        resolve({ backfillId })
      }
      const done = Effect.runPromiseExit(
        backfill(project, store, {
          select: body.select,
          partitions: body.partitions,
          onlyStale: body.onlyStale,
          backfillId,
          signal: controller.signal,
          onEvent: (event) => {
            if (event._tag === "RunStarted") backfillOfRun.set(event.runId, backfillKey(backfillId))
            forward(event)
          },
          onProgress: accept
        })
      ).then((exit) => {
        ended(backfillKey(backfillId))
        if (!accepted) {
          if (Exit.isSuccess(exit)) accept()
          else {
            accepted = true
            reject(apiErrorOf(failureOf(exit)))
          }
        }
        const status = Exit.isSuccess(exit) ? exit.value.record.status : "failed"
        return status === "succeeded" || status === "canceled" ? status : ("failed" as const)
      })
      active.set(backfillKey(backfillId), { controller, done })
    })

  const cancelRunningBackfill = async (backfillId: string): Promise<BackfillSummary | null> => {
    const here = active.get(backfillKey(backfillId))
    if (here !== undefined) {
      here.controller.abort()
      await here.done
    } else {
      if ((await storedBackfill(backfillId)) === undefined) return null
      // Driven by another process: marked canceled; its driver stops at its next heartbeat.
      await Effect.runPromise(Effect.result(cancelBackfill(store, project, backfillId)))
    }
    return getBackfill(backfillId)
  }

  // ---- schedules, sensors, automation conditions ----------------------------------------------
  const given = options.definitions ?? {
    graph,
    schedules: project.schedules,
    sensors: project.sensors,
    automations: project.automations
  }
  const definitions = (): Definitions => {
    if ("error" in given)
      throw new ApiError({
        status: 409,
        code: "DefinitionError",
        message: `the project's schedules, sensors or automation conditions are invalid: ${given.error} — fix them and save: the server reloads the project`
      })
    return given
  }
  let daemonStore: Promise<DaemonStore> | undefined
  /** The daemon store, opened on first use (where `materia daemon` keeps its state). */
  const daemonStoreOf = (): Promise<DaemonStore> => {
    if (daemonStore === undefined) {
      const opening = openDaemonStore(root, project.storage, options.env ?? {})
      daemonStore = opening
      opening.catch(() => {
        if (daemonStore === opening) daemonStore = undefined
      })
    }
    return daemonStore.catch((error: unknown) => {
      throw new ApiError({
        status: 503,
        code: "DaemonStoreUnavailable",
        message: `cannot open the daemon store of project "${project.name}": ${error instanceof Error ? error.message : String(error)}`
      })
    })
  }
  /** Runs a read or write of the daemon store; its failures are 503s naming the operation. */
  const withDaemonStore = async <A>(f: (store: DaemonStore) => Effect.Effect<A, DaemonStoreError>) => {
    const store = await daemonStoreOf()
    const exit = await Effect.runPromise(Effect.result(f(store)))
    if (exit._tag === "Failure")
      throw new ApiError({
        status: 503,
        code: "DaemonStoreError",
        message: `the daemon store failed (${exit.failure.operation}): ${exit.failure.message}`
      })
    return exit.success
  }
  const KIND_HINT = {
    schedule: "defineProject({ schedules: [schedule(name, { cron, select })] })",
    sensor: "defineProject({ sensors: [sensor(name, { interval, evaluate })] })",
    automation: "defineProject({ automations: [automate(assetKey, condition)] })",
    freshness: 'asset(key, { freshness: { maxAge: "1 day" } }, body)'
  } as const
  /** The definition's name, or a 404 naming the known ones. */
  const known = (kind: InstigatorRef["kind"], name: string): string => {
    const defs = definitions()
    const names =
      kind === "schedule"
        ? defs.schedules.map((d) => d.name)
        : kind === "sensor"
          ? defs.sensors.map((d) => d.name)
          : kind === "automation"
            ? (defs.automations ?? []).map((a) => a.key)
            : defs.graph.specs.filter((spec) => spec.freshnessMillis !== undefined).map((spec) => spec.key)
    if (names.includes(name)) return name
    const what =
      kind === "automation"
        ? "automation condition of an asset"
        : kind === "freshness"
          ? "freshness policy of an asset"
          : kind
    if (names.length === 0)
      throw notFound(
        `no ${what} "${name}" in project "${project.name}": it has none (${KIND_HINT[kind]}, or the same named export of materia.config.ts)`
      )
    const near = nearest(name, names)
    throw notFound(
      `no ${what} "${name}" in project "${project.name}"${near.length > 0 ? ` (did you mean ${near.map((n) => `"${n}"`).join(" or ")}?)` : ""}; ${kind === "automation" ? "automated assets" : kind === "freshness" ? "assets with a freshness policy" : `${kind}s`}: ${names.join(", ")}`
    )
  }
  const schedules = () =>
    withDaemonStore((store) => listSchedules(definitions(), store, Date.now(), 5)).then((rows) =>
      rows.map(scheduleJson)
    )
  const sensors = () =>
    withDaemonStore((store) => listSensors(definitions(), store, Date.now())).then((rows) =>
      rows.map(sensorJson)
    )
  const automations = () =>
    withDaemonStore((store) => listAutomations(definitions(), store)).then((rows) => rows.map(automationJson))
  const freshness = () =>
    withDaemonStore((store) => listFreshness(definitions(), store)).then((rows) => rows.map(freshnessJson))
  const ticks = async (ref: InstigatorRef, limit: number): Promise<ReadonlyArray<Tick>> => {
    const name = known(ref.kind, ref.name)
    return (await withDaemonStore((store) => tickHistory(store, ref.kind, name, limit))).map(tickJson)
  }
  const changeStatus = async (
    kind: "schedule" | "sensor",
    name: string,
    status: "running" | "stopped"
  ): Promise<ScheduleInfo | SensorInfo> => {
    known(kind, name)
    await withDaemonStore((store) => setStatus(store, kind, name, status, Date.now()))
    const rows = kind === "schedule" ? await schedules() : await sensors()
    return rows.find((r) => r.name === name)!
  }

  const drained = () =>
    active.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve))

  return {
    name: project.name,
    codeVersion: projectCodeVersion(project),
    catalog,
    extras,
    partitions,
    refresh,
    launch,
    reexecute,
    cancel,
    query,
    backfills,
    backfill: getBackfill,
    launchBackfill,
    cancelBackfill: cancelRunningBackfill,
    schedules,
    sensors,
    automations,
    freshness,
    ticks,
    setStatus: changeStatus,
    activeRuns: () => active.size,
    drained,
    close: async () => {
      for (const run of active.values()) run.controller.abort()
      await Promise.allSettled([...active.values()].map((r) => r.done))
      await store.close()
      const opened = await daemonStore?.catch(() => undefined)
      if (opened !== undefined) await Effect.runPromise(opened.close())
    }
  }
}
