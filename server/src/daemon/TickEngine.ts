/**
 * The tick evaluator: given the definitions, their stored state, the Effect clock and a catch-up
 * policy, decides which schedule ticks and sensor evaluations are due, evaluates them and records
 * each tick with the runs it requested in one store transaction. It launches nothing: queued runs
 * are the run queue's business. Idempotency keys: a schedule tick is `schedule:<name>@<time>`, a
 * sensor's run requests are deduplicated by run key. With the automation conditions it checks every
 * asset's freshness policy, records the verdict and alerts when an asset becomes overdue.
 */
import {
  type AddPartitions,
  type Alert,
  type AlertSummary,
  type AutomationDefinition,
  evaluateSensor,
  type RunRequest,
  type ScheduleDefinition,
  type SensorContext,
  type SensorDefinition,
  scheduleTick
} from "@materia/assets"
import { type AssetGraph, resolveSelection } from "@materia/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type {
  DaemonStore,
  DaemonStoreError,
  InstigatorKind,
  InstigatorState,
  QueuedRun,
  TickRecord
} from "./DaemonStore.ts"

/** What the daemon evaluates. */
export interface Definitions {
  readonly graph: AssetGraph
  readonly schedules: ReadonlyArray<ScheduleDefinition>
  readonly sensors: ReadonlyArray<SensorDefinition>
  /** Assets' automation conditions, evaluated every `automationIntervalMillis`. */
  readonly automations?: ReadonlyArray<AutomationDefinition> | undefined
}

/** What automation conditions see of one asset in storage. */
export interface AssetObservation {
  readonly materializedAt?: number | undefined
  /** The run of the latest materialization. */
  readonly runId?: string | undefined
  /** For a partitioned asset: its closed partitions never materialized. */
  readonly missingPartitions?: ReadonlyArray<string> | undefined
}

/**
 * After downtime: `latest` runs only the most recent missed tick of each schedule; `all` runs
 * every missed tick, up to the latest `limit` of them.
 */
export type CatchUp = { readonly policy: "latest" } | { readonly policy: "all"; readonly limit: number }

/**
 * The next scheduled time of each schedule after the time its ticks count from, kept by a daemon
 * across ticks: an idle tick then costs a comparison per schedule instead of cron arithmetic.
 */
export type TickCache = Map<string, { readonly after: number; readonly next: number | undefined }>

export interface TickOptions {
  /** Reused across ticks by one daemon; a fresh one is always correct, only slower. */
  readonly cache?: TickCache | undefined
  readonly catchUp?: CatchUp | undefined
  /** Ids of queued runs; random UUIDs by default. */
  readonly newId?: (() => string) | undefined
  /** Sensor evaluations running at once. */
  readonly sensorConcurrency?: number | undefined
  /** The stored keys of dynamic partitions definitions, by name (for schedules on them). */
  readonly dynamicPartitions?:
    | (() => Effect.Effect<Readonly<Record<string, ReadonlyArray<string>>>>)
    | undefined
  /** Reads the assets' latest materializations for automation conditions; without it they are not evaluated. */
  readonly observeAssets?:
    | ((
        keys: ReadonlyArray<string>,
        now: number
      ) => Effect.Effect<ReadonlyMap<string, AssetObservation>, unknown>)
    | undefined
  /** Given to sensors as `ctx.materializations` (asset sensors read other projects' assets). */
  readonly materializations?: SensorContext["materializations"]
  /** Given to sensors as `ctx.endedRuns` and `ctx.project` (run-status sensors). */
  readonly endedRuns?: SensorContext["endedRuns"]
  readonly project?: string | undefined
  /** Time between evaluations of each automation condition and freshness policy; 30 seconds by default. */
  readonly automationIntervalMillis?: number | undefined
  /** The project's alerts, sent once each time an asset becomes overdue against its freshness policy. */
  readonly alerts?: ReadonlyArray<Alert> | undefined
  /** Adds dynamic partition keys a sensor asked for; runs before its tick is recorded. */
  readonly addPartitions?: ((add: ReadonlyArray<AddPartitions>) => Effect.Effect<void, unknown>) | undefined
}

/** What one tick of the daemon did. */
export interface TickReport {
  readonly at: number
  /** Ticks recorded now (a tick already recorded by an earlier daemon is not repeated). */
  readonly ticks: ReadonlyArray<TickRecord>
}

/** The state a definition has when nothing is stored: its default status, never ticked. */
export const effectiveState = (
  kind: InstigatorKind,
  name: string,
  defaultStatus: "running" | "stopped",
  stored: InstigatorState | undefined
): InstigatorState => stored ?? { kind, name, status: defaultStatus }

/** The time a schedule's ticks count from: after its last tick and after it was started. */
const countsFrom = (state: InstigatorState): number | undefined =>
  state.status === "running" && state.startedAt !== undefined
    ? Math.max(state.startedAt, state.lastTickAt ?? Number.NEGATIVE_INFINITY)
    : undefined

/**
 * The scheduled times in `(after, now]` thinned by the catch-up policy, and the first scheduled
 * time after the last of them (or after `after`). Walks forward, so the usual case (nothing or one
 * tick due) costs one or two cron steps.
 */
const dueAfter = (
  s: ScheduleDefinition,
  after: number,
  now: number,
  catchUp: CatchUp,
  /** `s.cron.next(after)`, when already known. */
  known?: { readonly next: number | undefined }
): { readonly due: ReadonlyArray<number>; readonly next: number | undefined } => {
  const limit = catchUp.policy === "latest" ? 1 : Math.max(1, catchUp.limit)
  const out: Array<number> = []
  let t = known === undefined ? s.cron.next(after) : known.next
  while (t !== undefined && t <= now && out.length < limit + 8) {
    out.push(t)
    t = s.cron.next(t)
  }
  if (t === undefined || t > now) return { due: out.slice(-limit), next: t }
  // Long downtime: jump back from `now` instead of walking every missed time.
  const due = s.cron.between(after, now, limit)
  return { due, next: s.cron.next(due.at(-1) ?? now) }
}

/**
 * The scheduled times to tick at `now`: those after the last recorded tick and after the schedule
 * was started, up to `now`, thinned by the catch-up policy. Pure.
 */
export const dueScheduleTimes = (
  s: ScheduleDefinition,
  state: InstigatorState,
  now: number,
  catchUp: CatchUp = { policy: "latest" }
): ReadonlyArray<number> => {
  const after = countsFrom(state)
  return after === undefined ? [] : dueAfter(s, after, now, catchUp).due
}

/** Whether a sensor is due at `now`: running, and never evaluated or last evaluated `interval` ago. */
export const sensorDue = (s: SensorDefinition, state: InstigatorState, now: number): boolean =>
  state.status === "running" &&
  (state.lastTickAt === undefined || now - state.lastTickAt >= s.spec.intervalMillis)

const iso = (t: number): string => new Date(t).toISOString()
const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** A reason a request cannot run against this graph, or undefined. */
const badRequest = (graph: AssetGraph, requests: ReadonlyArray<RunRequest>): string | undefined => {
  for (const [i, r] of requests.entries()) {
    try {
      resolveSelection(graph, r.select)
    } catch (e) {
      return `run request ${i}: ${describe(e)}`
    }
  }
  return undefined
}

const queue = (
  tick: { readonly tickId: string; readonly kind: InstigatorKind; readonly name: string },
  requests: ReadonlyArray<RunRequest>,
  now: number,
  newId: () => string
): Array<QueuedRun> =>
  requests.map((request) => ({
    id: newId(),
    tickId: tick.tickId,
    kind: tick.kind,
    name: tick.name,
    request,
    status: "queued",
    enqueuedAt: now
  }))

/** Evaluates and records the due ticks of one schedule. */
const tickSchedule = (
  defs: Definitions,
  store: DaemonStore,
  s: ScheduleDefinition,
  stored: InstigatorState | undefined,
  now: number,
  options: TickOptions,
  newId: () => string
): Effect.Effect<ReadonlyArray<TickRecord>, DaemonStoreError> =>
  Effect.gen(function* () {
    let state = effectiveState("schedule", s.name, s.spec.defaultStatus, stored)
    if (state.status === "running" && state.startedAt === undefined) {
      // Running by default and seen for the first time: ticks start from now, and a restart keeps that.
      // Stored only if nothing was meanwhile (a stop is kept).
      yield* store.initState({ ...state, startedAt: now })
      return []
    }
    const after = countsFrom(state)
    if (after === undefined) return []
    const cached = options.cache?.get(s.name)
    if (cached !== undefined && cached.after === after && (cached.next === undefined || cached.next > now))
      return []
    const { due, next } = dueAfter(
      s,
      after,
      now,
      options.catchUp ?? { policy: "latest" },
      cached !== undefined && cached.after === after ? cached : undefined
    )
    options.cache?.set(s.name, { after: Math.max(after, due.at(-1) ?? Number.NEGATIVE_INFINITY), next })
    const recorded: Array<TickRecord> = []
    for (const scheduledAt of due) {
      const tickId = `schedule:${s.name}@${iso(scheduledAt)}`
      let requests: ReadonlyArray<RunRequest> = []
      let skipReason: string | undefined
      let error: string | undefined
      try {
        const dynamic =
          options.dynamicPartitions === undefined ? undefined : yield* options.dynamicPartitions()
        const result = scheduleTick(
          defs.graph,
          s,
          scheduledAt,
          dynamic === undefined ? undefined : { dynamic }
        )
        requests = result.runRequests
        skipReason = result.skipReason
      } catch (e) {
        error = describe(e)
      }
      const runs =
        error === undefined ? queue({ tickId, kind: "schedule", name: s.name }, requests, now, newId) : []
      const tick: TickRecord = {
        tickId,
        kind: "schedule",
        name: s.name,
        tickAt: scheduledAt,
        evaluatedAt: now,
        status: error !== undefined ? "failed" : runs.length > 0 ? "requested" : "skipped",
        runIds: runs.map((r) => r.id),
        ...(skipReason === undefined ? {} : { skipReason }),
        ...(error === undefined ? {} : { error })
      }
      state = { ...state, lastTickAt: scheduledAt }
      const commit = yield* store.commitTick({ tick, runs, state })
      if (commit.committed) recorded.push(commit.tick)
    }
    return recorded
  })

/** Evaluates one sensor (inside the user-code boundary) and records its tick. */
const tickSensor = (
  defs: Definitions,
  store: DaemonStore,
  s: SensorDefinition,
  state: InstigatorState,
  now: number,
  options: TickOptions,
  newId: () => string
): Effect.Effect<ReadonlyArray<TickRecord>, DaemonStoreError> =>
  Effect.gen(function* () {
    const tickId = `sensor:${s.name}@${iso(now)}`
    const outcome = yield* Effect.result(
      evaluateSensor(s, {
        cursor: state.cursor,
        now,
        lastTickAt: state.lastTickAt,
        ...(options.materializations === undefined ? {} : { materializations: options.materializations }),
        ...(options.endedRuns === undefined ? {} : { endedRuns: options.endedRuns }),
        ...(options.project === undefined ? {} : { project: options.project })
      }).pipe(
        Effect.flatMap((result) => {
          const requests = result.runRequests ?? []
          const problem = badRequest(defs.graph, requests)
          if (problem !== undefined) return Effect.fail(problem)
          const add = result.addPartitions ?? []
          if (add.length === 0 || options.addPartitions === undefined) return Effect.succeed(result)
          return options.addPartitions(add).pipe(
            Effect.mapError((e) => `adding dynamic partitions failed: ${describe(e)}`),
            Effect.as(result)
          )
        }),
        Effect.mapError((e) => (typeof e === "string" ? e : e.message))
      )
    )
    let tick: TickRecord
    let runs: ReadonlyArray<QueuedRun> = []
    let next: InstigatorState
    if (outcome._tag === "Failure") {
      tick = {
        tickId,
        kind: "sensor",
        name: s.name,
        tickAt: now,
        evaluatedAt: now,
        status: "failed",
        runIds: [],
        error: outcome.failure,
        ...(state.cursor === undefined ? {} : { cursor: state.cursor })
      }
      next = { ...state, lastTickAt: now }
    } else {
      const result = outcome.success
      runs = queue({ tickId, kind: "sensor", name: s.name }, result.runRequests ?? [], now, newId)
      const cursor = result.cursor ?? state.cursor
      tick = {
        tickId,
        kind: "sensor",
        name: s.name,
        tickAt: now,
        evaluatedAt: now,
        status: runs.length > 0 ? "requested" : "skipped",
        runIds: runs.map((r) => r.id),
        ...(result.skipReason === undefined
          ? runs.length === 0
            ? { skipReason: "no run requested" }
            : {}
          : { skipReason: result.skipReason }),
        ...(cursor === undefined ? {} : { cursor })
      }
      next = { ...state, lastTickAt: now, ...(cursor === undefined ? {} : { cursor }) }
    }
    const commit = yield* store.commitTick({ tick, runs, state: next })
    return commit.committed ? [commit.tick] : []
  })

/** Evaluates the due automation conditions against one observation of storage; records a tick each. */
const tickAutomations = (
  defs: Definitions,
  store: DaemonStore,
  stored: ReadonlyMap<string, InstigatorState>,
  now: number,
  options: TickOptions,
  newId: () => string
): Effect.Effect<ReadonlyArray<TickRecord>, DaemonStoreError> =>
  Effect.gen(function* () {
    const observe = options.observeAssets
    if (observe === undefined || defs.automations === undefined || defs.automations.length === 0) return []
    const interval = options.automationIntervalMillis ?? 30_000
    const due = defs.automations.flatMap((a) => {
      const state = effectiveState("automation", a.key, "running", stored.get(`automation:${a.key}`))
      const isDue =
        state.status === "running" && (state.lastTickAt === undefined || now - state.lastTickAt >= interval)
      return isDue ? [{ a, state }] : []
    })
    if (due.length === 0) return []
    const upstreamOf = (key: string): ReadonlyArray<string> => {
      const i = defs.graph.keys.indexOf(key)
      return i < 0 ? [] : defs.graph.parents[i]!.map((p) => defs.graph.keys[p]!)
    }
    const keys = [...new Set(due.flatMap(({ a }) => [a.key, ...upstreamOf(a.key)]))].sort()
    const observed = yield* Effect.result(observe(keys, now))
    const active = new Set(
      (yield* store.runs({ status: ["queued", "launched"] }))
        .filter((r) => r.kind === "automation")
        .map((r) => r.name)
    )
    const recorded: Array<TickRecord> = []
    for (const { a, state } of due) {
      const tickId = `automation:${a.key}@${iso(now)}`
      let tick: TickRecord
      let runs: ReadonlyArray<QueuedRun> = []
      try {
        if (observed._tag === "Failure")
          throw new Error(`reading the assets' state failed: ${describe(observed.failure)}`)
        const seen = observed.success
        const decision = a.condition.evaluate({
          key: a.key,
          now,
          materializedAt: seen.get(a.key)?.materializedAt,
          upstream: upstreamOf(a.key).map((k) => ({ key: k, materializedAt: seen.get(k)?.materializedAt })),
          inProgress: active.has(a.key),
          missingPartitions: seen.get(a.key)?.missingPartitions,
          freshnessMillis: defs.graph.has(a.key)
            ? defs.graph.specs[defs.graph.indexOf(a.key)]!.freshnessMillis
            : undefined
        })
        // Whatever the condition says, one automation run per asset at a time.
        const requested = decision.requested && !active.has(a.key)
        const skipReason = decision.requested
          ? requested
            ? undefined
            : `a run of ${a.key} requested by its automation is already queued or running`
          : decision.reason
        if (requested)
          runs = queue(
            { tickId, kind: "automation", name: a.key },
            [
              {
                select: [a.key],
                ...(decision.partitions === undefined ? {} : { partitions: decision.partitions }),
                tags: { "materia/automation": a.key }
              }
            ],
            now,
            newId
          )
        tick = {
          tickId,
          kind: "automation",
          name: a.key,
          tickAt: now,
          evaluatedAt: now,
          status: requested ? "requested" : "skipped",
          runIds: runs.map((r) => r.id),
          reason: `${a.condition.description}: ${decision.reason}`,
          ...(skipReason === undefined ? {} : { skipReason })
        }
      } catch (e) {
        tick = {
          tickId,
          kind: "automation",
          name: a.key,
          tickAt: now,
          evaluatedAt: now,
          status: "failed",
          runIds: [],
          error: describe(e)
        }
      }
      const commit = yield* store.commitTick({ tick, runs, state: { ...state, lastTickAt: now } })
      if (commit.committed) recorded.push(commit.tick)
    }
    return recorded
  })

/** How long ago, in words: `3 h 5 min`, `42 s`. */
const ago = (millis: number): string => {
  const s = Math.max(0, Math.round(millis / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h${m % 60 === 0 ? "" : ` ${m % 60} min`}`
  return `${Math.floor(h / 24)} days`
}

/** Whether an asset is fresh against its policy at `now`, and why. Never materialized counts as overdue. */
export const freshnessVerdict = (
  key: string,
  maxAgeMillis: number,
  materializedAt: number | undefined,
  now: number
): { readonly status: "fresh" | "overdue"; readonly reason: string } => {
  if (materializedAt === undefined)
    return {
      status: "overdue",
      reason: `${key} was never materialized (freshness policy: at most ${ago(maxAgeMillis)} old)`
    }
  const age = now - materializedAt
  return age > maxAgeMillis
    ? {
        status: "overdue",
        reason: `${key} was materialized ${iso(materializedAt)}, ${ago(age)} ago: older than its freshness policy's ${ago(maxAgeMillis)}`
      }
    : {
        status: "fresh",
        reason: `${key} was materialized ${iso(materializedAt)}, ${ago(age)} ago: within its freshness policy's ${ago(maxAgeMillis)}`
      }
}

/**
 * Checks every asset with a freshness policy (`freshness: { maxAge }`) every automation interval:
 * records a `freshness` tick saying `fresh` or `overdue` and why, and keeps the verdict as the
 * tick's cursor, so the project's alerts go out once when an asset becomes overdue (or is first
 * seen overdue), and again only after it was fresh in between. It requests no run: that is
 * `automate(key, overdue())`. Alerts go out before the tick is recorded: a daemon stopped in between
 * alerts again (at least once, never lost).
 */
const tickFreshness = (
  defs: Definitions,
  store: DaemonStore,
  stored: ReadonlyMap<string, InstigatorState>,
  now: number,
  options: TickOptions
): Effect.Effect<ReadonlyArray<TickRecord>, DaemonStoreError> =>
  Effect.gen(function* () {
    const observe = options.observeAssets
    if (observe === undefined) return []
    const interval = options.automationIntervalMillis ?? 30_000
    const due = defs.graph.specs.flatMap((spec) => {
      if (spec.freshnessMillis === undefined) return []
      const state = effectiveState("freshness", spec.key, "running", stored.get(`freshness:${spec.key}`))
      const isDue =
        state.status === "running" && (state.lastTickAt === undefined || now - state.lastTickAt >= interval)
      return isDue ? [{ key: spec.key, maxAge: spec.freshnessMillis, state }] : []
    })
    if (due.length === 0) return []
    const observed = yield* Effect.result(observe(due.map((d) => d.key).sort(), now))
    const alerts = options.alerts ?? []
    const recorded: Array<TickRecord> = []
    for (const { key, maxAge, state } of due) {
      const tickId = `freshness:${key}@${iso(now)}`
      const base = {
        tickId,
        kind: "freshness",
        name: key,
        tickAt: now,
        evaluatedAt: now,
        runIds: []
      } as const
      if (observed._tag === "Failure") {
        const tick: TickRecord = {
          ...base,
          status: "failed",
          error: `reading the assets' state failed: ${describe(observed.failure)}`,
          ...(state.cursor === undefined ? {} : { cursor: state.cursor })
        }
        const commit = yield* store.commitTick({ tick, runs: [], state: { ...state, lastTickAt: now } })
        if (commit.committed) recorded.push(commit.tick)
        continue
      }
      const seen = observed.success.get(key)
      const verdict = freshnessVerdict(key, maxAge, seen?.materializedAt, now)
      let reason = verdict.reason
      if (verdict.status === "overdue" && state.cursor !== "overdue") {
        if (alerts.length === 0) reason += "; the project has no alerts to send"
        else {
          const summary: AlertSummary = {
            version: 1,
            kind: "freshness",
            project: options.project ?? "",
            runId: seen?.runId ?? "",
            status: "failed",
            assetKey: key,
            error: { tag: "FreshnessOverdue", message: verdict.reason },
            at: now
          }
          // An alert's send never fails: a failed delivery is an outcome, named in the reason.
          const outcomes = yield* Effect.forEach(alerts, (alert) =>
            Effect.map(alert.send(summary), (outcome) => ({ alert: alert.name, outcome }))
          )
          const failed = outcomes.filter((o) => !o.outcome.ok)
          reason += `; alerted ${alerts.length} alert${alerts.length === 1 ? "" : "s"}${failed.length === 0 ? "" : ` (${failed.map((f) => `${f.alert}: ${f.outcome.error ?? "failed"}`).join("; ")})`}`
        }
      }
      const tick: TickRecord = { ...base, status: verdict.status, reason, cursor: verdict.status }
      const commit = yield* store.commitTick({
        tick,
        runs: [],
        state: { ...state, lastTickAt: now, cursor: verdict.status }
      })
      if (commit.committed) recorded.push(commit.tick)
    }
    return recorded
  })

/**
 * One tick of the daemon at the Effect clock's time: every running schedule's due ticks, every
 * due sensor, every due automation condition and freshness policy, each recorded with its runs in
 * one transaction.
 */
export const runTick = (
  defs: Definitions,
  store: DaemonStore,
  options: TickOptions = {}
): Effect.Effect<TickReport, DaemonStoreError> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const newId = options.newId ?? (() => crypto.randomUUID())
    const stored = new Map((yield* store.states()).map((s) => [`${s.kind}:${s.name}`, s]))
    const ticks: Array<TickRecord> = []
    for (const s of defs.schedules)
      ticks.push(
        ...(yield* tickSchedule(defs, store, s, stored.get(`schedule:${s.name}`), now, options, newId))
      )
    const due = defs.sensors.flatMap((s) => {
      const state = effectiveState("sensor", s.name, s.spec.defaultStatus, stored.get(`sensor:${s.name}`))
      return sensorDue(s, state, now) ? [{ s, state }] : []
    })
    const sensorTicks = yield* Effect.forEach(
      due,
      ({ s, state }) => tickSensor(defs, store, s, state, now, options, newId),
      { concurrency: options.sensorConcurrency ?? 8 }
    )
    for (const t of sensorTicks) ticks.push(...t)
    ticks.push(...(yield* tickAutomations(defs, store, stored, now, options, newId)))
    ticks.push(...(yield* tickFreshness(defs, store, stored, now, options)))
    return { at: now, ticks }
  })

/** Starts or stops a schedule or sensor; starting sets the time its ticks count from. */
export const setStatus = (
  store: DaemonStore,
  kind: InstigatorKind,
  name: string,
  status: "running" | "stopped",
  now: number
): Effect.Effect<InstigatorState, DaemonStoreError> =>
  Effect.gen(function* () {
    const current = yield* store.state(kind, name)
    const base: InstigatorState = current ?? { kind, name, status }
    const next: InstigatorState =
      status === "running"
        ? current?.status === "running" && current.startedAt !== undefined
          ? current
          : { ...base, status, startedAt: now }
        : { ...base, status }
    yield* store.setState(next)
    return next
  })
