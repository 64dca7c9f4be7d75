/**
 * Backfills: materialize a selection over many partitions as one recorded, resumable unit.
 *
 * A backfill is a stored record (id, what was asked, progress, the runs it launched) whose driving
 * process beats a heartbeat every few seconds. It runs as one run with the backfill's id; a
 * re-materialization replaces each partition atomically (a pointer flip), so running it twice never
 * duplicates rows. After a crash, a cancel or a failure, `resumeBackfill` runs only what is left:
 * the requested partitions this backfill has not yet materialized. Canceling from another process
 * marks the record; the driver sees it at its next beat and interrupts its run.
 */
import {
  BACKFILL_HEARTBEAT_TIMEOUT_MILLIS,
  type BackfillProgress,
  type BackfillRecord,
  type EventListener,
  isBackfillDead,
  type Plan,
  type RunEvent,
  type SelectionError,
  type StaleUpstream,
  type StepOutcome,
  type StorageError,
  stepLabel
} from "@materia/core"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import type { GitChangesError } from "./GitChanges.ts"
import {
  type ConfigError,
  launch,
  makeRunId,
  type ObserveError,
  prepareRun,
  type ResourcesError
} from "./Launch.ts"
import type { PartitionRequestError } from "./PartitionRequest.ts"
import type { AnyProject } from "./Project.ts"
import { resolveSelectionWithGit } from "./ResolveSelection.ts"
import type { RunResult } from "./RunResult.ts"
import { currentDriver, isDriverAlive, type MaterializeStore } from "./Store.ts"

/** A backfill that cannot be resumed or canceled as asked: names it and why. */
export class BackfillError extends Data.TaggedError("BackfillError")<{
  readonly backfillId: string
  readonly reason: string
}> {
  override get message(): string {
    return `backfill ${this.backfillId}: ${this.reason}`
  }
}

export interface BackfillOptions {
  /** The assets (selection syntax, `changed-since:` included). */
  readonly select: string
  /** The partitions of the partitioned targets (a key, `from...to`, a list, `*`, per dimension); default all. */
  readonly partitions?: string | undefined
  /** Only partitions that are stale; by default every requested partition is re-materialized. */
  readonly onlyStale?: boolean | undefined
  readonly concurrency?: number | undefined
  readonly signal?: AbortSignal | undefined
  readonly onEvent?: EventListener | undefined
  /** Called after every step and at every heartbeat. */
  readonly onProgress?: ((record: BackfillRecord) => void) | undefined
  /** How often the driver beats (default 5 s). */
  readonly heartbeatMillis?: number | undefined
  /** A given id (default: a sortable timestamp with a random suffix, prefixed `bf-`). */
  readonly backfillId?: string | undefined
}

/** One step of a backfill as reports show it. */
export interface BackfillStep {
  readonly key: string
  readonly partition?: string | undefined
  readonly status: StepOutcome["status"] | "fresh"
  readonly durationMillis: number
  readonly attempts: number
  readonly error?: string | undefined
  readonly skipReason?: string | undefined
}

export interface BackfillResult {
  readonly record: BackfillRecord
  readonly steps: ReadonlyArray<BackfillStep>
  /** The run that did the work (undefined when nothing was left to do). */
  readonly run?: RunResult | undefined
}

export type BackfillFailure =
  | BackfillError
  | StaleUpstream
  | ConfigError
  | ResourcesError
  | ObserveError
  | StorageError
  | PartitionRequestError
  | GitChangesError
  | SelectionError

const emptyProgress = (total: number, fresh: number): BackfillProgress => ({
  total,
  succeeded: 0,
  failed: 0,
  skipped: 0,
  canceled: 0,
  running: 0,
  fresh
})

const errorText = (error: unknown): string | undefined =>
  error === undefined ? undefined : error instanceof Error ? error.message : String(error)

/** What a backfill would run, without running it: the plan and how many requested slots are already fresh. */
export const planBackfill = (
  project: AnyProject,
  store: MaterializeStore,
  options: Pick<BackfillOptions, "select" | "partitions" | "onlyStale">
): Effect.Effect<{ readonly plan: Plan; readonly requested: number }, BackfillFailure> =>
  Effect.gen(function* () {
    const { selected } = yield* resolveSelectionWithGit(project, options.select)
    const { plan } = yield* prepareRun(
      project,
      store,
      selected,
      { force: options.onlyStale !== true },
      { partitions: options.partitions }
    )
    return { plan, requested: plan.steps.length }
  })

/** The status of a stored backfill, `dead` when its driver stopped beating or its process is gone. */
export const backfillState = (record: BackfillRecord, now: number): BackfillRecord["status"] | "dead" =>
  isBackfillDead(record, now, BACKFILL_HEARTBEAT_TIMEOUT_MILLIS) ||
  (record.status === "running" && record.driver !== undefined && !isDriverAlive(record.driver))
    ? "dead"
    : record.status

const drive = (
  project: AnyProject,
  store: MaterializeStore,
  record: BackfillRecord,
  options: BackfillOptions,
  exclude: ((key: string, partition: string) => boolean) | undefined
): Effect.Effect<BackfillResult, BackfillFailure> =>
  Effect.gen(function* () {
    const storage = store.storage
    const { selected } = yield* resolveSelectionWithGit(project, record.select)
    const partitions = record.partitions === "*" ? undefined : record.partitions
    const runId = yield* makeRunId
    const prepared = yield* prepareRun(
      project,
      store,
      selected,
      { force: !record.onlyStale },
      { partitions, excludePartition: exclude }
    )
    const planned = prepared.plan.steps.length
    let current: BackfillRecord = {
      ...record,
      status: "running",
      driver: currentDriver(),
      runIds: planned === 0 ? record.runIds : [...record.runIds, runId],
      progress: emptyProgress(
        record.progress.total === 0 ? planned : record.progress.total,
        record.progress.fresh
      )
    }
    const save = (next: BackfillRecord) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        current = { ...next, updatedAt: now, heartbeatAt: now }
        return storage.saveBackfill(current)
      })
    yield* save(current)
    options.onProgress?.(current)
    if (planned === 0) {
      const now = yield* Clock.currentTimeMillis
      yield* save({ ...current, status: "succeeded", endedAt: now })
      options.onProgress?.(current)
      return { record: current, steps: [] }
    }

    // Progress from the run's events; the heartbeat saves it and watches for a cancel.
    const counts = { ...current.progress }
    const base = record.progress
    const progressListener: EventListener = (event: RunEvent) => {
      switch (event._tag) {
        case "StepStarted":
          if (event.attempt === 1) counts.running++
          return
        case "StepSucceeded":
          counts.running--
          counts.succeeded++
          break
        case "StepFailed":
          counts.running--
          counts.failed++
          break
        case "StepSkipped":
          counts.skipped++
          break
        case "StepCanceled":
          counts.canceled++
          break
        default:
          return
      }
      current = {
        ...current,
        progress: {
          ...counts,
          running: Math.max(0, counts.running),
          succeeded: counts.succeeded + (exclude === undefined ? 0 : base.succeeded)
        }
      }
      options.onProgress?.(current)
    }
    const controller = new AbortController()
    const onAbort = () => controller.abort()
    options.signal?.addEventListener("abort", onAbort, { once: true })
    let canceledElsewhere = false
    const beat = Effect.gen(function* () {
      const stored = yield* storage.backfill(current.backfillId)
      if (stored?.status === "canceled") {
        canceledElsewhere = true
        controller.abort()
        return
      }
      yield* save(current)
      options.onProgress?.(current)
    })
    const heartbeat = yield* Effect.forkDetach(
      Effect.repeat(Effect.ignore(beat), Schedule.spaced(options.heartbeatMillis ?? 5000))
    )
    const listeners = options.onEvent === undefined ? [progressListener] : [progressListener, options.onEvent]
    const run = yield* launch(
      project,
      store,
      selected,
      { force: !record.onlyStale },
      {
        storage: store,
        runId,
        concurrency: options.concurrency ?? record.concurrency,
        signal: controller.signal,
        onEvent: listeners,
        output: "capture",
        partitions,
        backfillId: record.backfillId,
        excludePartition: exclude
      }
    ).pipe(
      Effect.ensuring(
        Effect.andThen(Fiber.interrupt(heartbeat), () =>
          Effect.sync(() => options.signal?.removeEventListener("abort", onAbort))
        )
      )
    )
    const now = yield* Clock.currentTimeMillis
    const status = run.status === "canceled" ? "canceled" : run.status === "failed" ? "failed" : "succeeded"
    const failedSteps = run.steps.filter((s) => s.status === "failed").length
    yield* save({
      ...current,
      status,
      endedAt: now,
      ...(status === "canceled"
        ? { reason: canceledElsewhere ? "canceled by `materia backfill cancel`" : "canceled" }
        : status === "failed"
          ? { reason: `${failedSteps} step(s) failed` }
          : {})
    })
    options.onProgress?.(current)
    return {
      record: current,
      run,
      steps: run.steps.map(
        (s): BackfillStep => ({
          key: s.key,
          partition: s.partition,
          status: s.status,
          durationMillis: s.durationMillis,
          attempts: s.attempts,
          error: errorText(s.error),
          skipReason: s.skipReason
        })
      )
    }
  })

/** Starts a backfill: records it, then runs every requested (or stale) partition of the selection. */
export const backfill = (
  project: AnyProject,
  store: MaterializeStore,
  options: BackfillOptions
): Effect.Effect<BackfillResult, BackfillFailure> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const backfillId = options.backfillId ?? `bf-${yield* makeRunId}`
    const onlyStale = options.onlyStale === true
    // The requested slots and how many are already fresh (only-stale backfills skip those).
    const requested = onlyStale
      ? (yield* planBackfill(project, store, { ...options, onlyStale: false })).plan.steps.length
      : 0
    const record: BackfillRecord = {
      backfillId,
      project: project.name,
      status: "running",
      select: options.select,
      partitions: options.partitions ?? "*",
      onlyStale,
      concurrency: options.concurrency ?? project.concurrency,
      createdAt: now,
      updatedAt: now,
      heartbeatAt: now,
      runIds: [],
      progress: emptyProgress(0, 0)
    }
    if (!onlyStale) return yield* drive(project, store, record, options, undefined)
    const stale = (yield* planBackfill(project, store, options)).plan.steps.length
    return yield* drive(
      project,
      store,
      { ...record, progress: emptyProgress(requested, requested - stale) },
      options,
      undefined
    )
  })

/**
 * Records a backfill for the daemon to run (`queued`), without running anything: the daemon starts
 * `materia backfill resume <id>` through its run queue.
 */
export const queueBackfill = (
  project: AnyProject,
  store: MaterializeStore,
  options: Pick<BackfillOptions, "select" | "partitions" | "onlyStale" | "concurrency" | "backfillId">
): Effect.Effect<BackfillRecord, BackfillFailure> =>
  Effect.gen(function* () {
    // Checked now: a bad selection or partition range fails here, not in the daemon.
    const { plan } = yield* planBackfill(project, store, options)
    const now = yield* Clock.currentTimeMillis
    const record: BackfillRecord = {
      backfillId: options.backfillId ?? `bf-${yield* makeRunId}`,
      project: project.name,
      status: "queued",
      select: options.select,
      partitions: options.partitions ?? "*",
      onlyStale: options.onlyStale === true,
      concurrency: options.concurrency ?? project.concurrency,
      createdAt: now,
      updatedAt: now,
      heartbeatAt: now,
      runIds: [],
      progress: emptyProgress(plan.steps.length, 0)
    }
    yield* store.storage.saveBackfill(record)
    return record
  })

/** Runs what a stopped backfill (queued, dead, failed or canceled) has left; refuses one still running. */
export const resumeBackfill = (
  project: AnyProject,
  store: MaterializeStore,
  backfillId: string,
  options: Omit<BackfillOptions, "select" | "partitions" | "onlyStale" | "backfillId"> = {}
): Effect.Effect<BackfillResult, BackfillFailure> =>
  Effect.gen(function* () {
    const record = yield* store.storage.backfill(backfillId)
    if (record === undefined || record.project !== project.name)
      return yield* Effect.fail(
        new BackfillError({
          backfillId,
          reason: `no such backfill of project "${project.name}"; list them with \`materia backfill list\``
        })
      )
    const now = yield* Clock.currentTimeMillis
    const state = backfillState(record, now)
    if (state === "running")
      return yield* Effect.fail(
        new BackfillError({
          backfillId,
          reason: `it is still running (process ${record.driver?.pid ?? "?"} on ${record.driver?.host ?? "?"} beat ${Math.round((now - record.heartbeatAt) / 1000)} s ago); cancel it first, or wait`
        })
      )
    if (state === "succeeded") return { record, steps: [] }
    // What this backfill already made is done; the rest of the request runs again.
    const runs = new Set(record.runIds)
    const done = new Map<string, Set<string>>()
    const { selected } = yield* resolveSelectionWithGit(project, record.select)
    for (const node of selected) {
      const key = project.graph.keys[node]!
      if (project.graph.specs[node]!.partitions === undefined) continue
      const states = yield* store.storage.partitions(project.name, key)
      done.set(
        key,
        new Set(
          states.filter((s) => s.latest !== undefined && runs.has(s.latest.runId)).map((s) => s.partition)
        )
      )
    }
    const exclude = (key: string, partition: string) => done.get(key)?.has(partition) === true
    return yield* drive(project, store, record, { ...options, select: record.select }, exclude)
  })

/** Marks a backfill canceled; a live driver interrupts its run at its next heartbeat. */
export const cancelBackfill = (
  store: MaterializeStore,
  project: AnyProject,
  backfillId: string
): Effect.Effect<BackfillRecord, BackfillError | StorageError> =>
  Effect.gen(function* () {
    const record = yield* store.storage.backfill(backfillId)
    if (record === undefined || record.project !== project.name)
      return yield* Effect.fail(
        new BackfillError({
          backfillId,
          reason: `no such backfill of project "${project.name}"; list them with \`materia backfill list\``
        })
      )
    if (record.status !== "running" && record.status !== "queued") return record
    const now = yield* Clock.currentTimeMillis
    const canceled: BackfillRecord = {
      ...record,
      status: "canceled",
      updatedAt: now,
      endedAt: now,
      reason: "canceled by `materia backfill cancel`"
    }
    yield* store.storage.saveBackfill(canceled)
    return canceled
  })

/** A step's display name in reports: `key[partition]`. */
export const backfillStepName = (step: BackfillStep): string => stepLabel(step)
