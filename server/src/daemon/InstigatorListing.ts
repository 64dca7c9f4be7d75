/**
 * What `materia schedules|sensors list` and the HTTP API of `materia dev` show of each schedule,
 * sensor and automation condition: its definition, its effective state (stored, or its default
 * when nothing is stored), its next tick and its last tick, and a tick history with the runs each
 * tick queued. Reads the daemon store; evaluates nothing.
 */
import type { ScheduleDefinition, SensorDefinition } from "@materia/assets"
import * as Effect from "effect/Effect"
import type {
  DaemonStore,
  DaemonStoreError,
  InstigatorKind,
  InstigatorState,
  QueuedRun,
  TickRecord
} from "./DaemonStore.ts"
import { type Definitions, effectiveState } from "./TickEngine.ts"

/** A schedule as listed. */
export interface ScheduleListing {
  readonly definition: ScheduleDefinition
  readonly state: InstigatorState
  /** The next scheduled times after `now`, soonest first; empty while it is stopped. */
  readonly nextTicks: ReadonlyArray<number>
  readonly lastTick: TickWithRuns | undefined
}

/** A sensor as listed. */
export interface SensorListing {
  readonly definition: SensorDefinition
  readonly state: InstigatorState
  /** When a running sensor is next due (now when it never ran); undefined while it is stopped. */
  readonly nextTickAt: number | undefined
  readonly lastTick: TickWithRuns | undefined
}

/** An asset's automation condition as listed. */
export interface AutomationListing {
  readonly key: string
  /** The condition's description (`eager()`, `onCron(...)`). */
  readonly condition: string
  readonly state: InstigatorState
  readonly lastTick: TickWithRuns | undefined
}

/** An asset's freshness policy as listed: its maximum age and the daemon's last verdict. */
export interface FreshnessListing {
  readonly key: string
  readonly maxAgeMillis: number
  /** The last verdict recorded (undefined until the daemon evaluated it). */
  readonly verdict: "fresh" | "overdue" | undefined
  readonly lastTick: TickWithRuns | undefined
}

/** A recorded tick with the runs it queued (in queue order). */
export interface TickWithRuns {
  readonly tick: TickRecord
  readonly runs: ReadonlyArray<QueuedRun>
}

/** Up to `count` scheduled times strictly after `after`, soonest first. */
export const nextScheduledTimes = (s: ScheduleDefinition, after: number, count: number): Array<number> => {
  const out: Array<number> = []
  for (let t = s.cron.next(after); t !== undefined && out.length < count; t = s.cron.next(t)) out.push(t)
  return out
}

const statesOf = (store: DaemonStore) =>
  Effect.map(store.states(), (states) => new Map(states.map((s) => [`${s.kind}:${s.name}`, s])))

const withRuns = (store: DaemonStore, tick: TickRecord): Effect.Effect<TickWithRuns, DaemonStoreError> =>
  tick.runIds.length === 0
    ? Effect.succeed({ tick, runs: [] })
    : Effect.map(store.runs({ tickId: tick.tickId }), (runs) => ({ tick, runs }))

const lastTickOf = (store: DaemonStore, kind: InstigatorKind, name: string) =>
  Effect.flatMap(store.ticks({ kind, name, limit: 1 }), (ticks) =>
    ticks[0] === undefined ? Effect.succeed(undefined) : withRuns(store, ticks[0])
  )

/** Every schedule with its state, its next `nextCount` times (default 1) and its last tick. */
export const listSchedules = (
  definitions: Pick<Definitions, "schedules">,
  store: DaemonStore,
  now: number,
  nextCount = 1
): Effect.Effect<ReadonlyArray<ScheduleListing>, DaemonStoreError> =>
  Effect.gen(function* () {
    const states = yield* statesOf(store)
    return yield* Effect.forEach(definitions.schedules, (definition) =>
      Effect.map(lastTickOf(store, "schedule", definition.name), (lastTick) => {
        const state = effectiveState(
          "schedule",
          definition.name,
          definition.spec.defaultStatus,
          states.get(`schedule:${definition.name}`)
        )
        return {
          definition,
          state,
          nextTicks: state.status === "running" ? nextScheduledTimes(definition, now, nextCount) : [],
          lastTick
        }
      })
    )
  })

/** Every sensor with its state, when it is next due and its last tick. */
export const listSensors = (
  definitions: Pick<Definitions, "sensors">,
  store: DaemonStore,
  now: number
): Effect.Effect<ReadonlyArray<SensorListing>, DaemonStoreError> =>
  Effect.gen(function* () {
    const states = yield* statesOf(store)
    return yield* Effect.forEach(definitions.sensors, (definition) =>
      Effect.map(lastTickOf(store, "sensor", definition.name), (lastTick) => {
        const state = effectiveState(
          "sensor",
          definition.name,
          definition.spec.defaultStatus,
          states.get(`sensor:${definition.name}`)
        )
        return {
          definition,
          state,
          nextTickAt:
            state.status !== "running"
              ? undefined
              : state.lastTickAt === undefined
                ? now
                : Math.max(now, state.lastTickAt + definition.spec.intervalMillis),
          lastTick
        }
      })
    )
  })

/** Every automation condition (running unless stopped) with its last evaluation. */
export const listAutomations = (
  definitions: Pick<Definitions, "automations">,
  store: DaemonStore
): Effect.Effect<ReadonlyArray<AutomationListing>, DaemonStoreError> =>
  Effect.gen(function* () {
    const states = yield* statesOf(store)
    return yield* Effect.forEach(definitions.automations ?? [], (a) =>
      Effect.map(lastTickOf(store, "automation", a.key), (lastTick) => ({
        key: a.key,
        condition: a.condition.description,
        state: effectiveState("automation", a.key, "running", states.get(`automation:${a.key}`)),
        lastTick
      }))
    )
  })

/** Every asset with a freshness policy (`freshness: { maxAge }`), in graph order, with the daemon's last verdict. */
export const listFreshness = (
  definitions: Pick<Definitions, "graph">,
  store: DaemonStore
): Effect.Effect<ReadonlyArray<FreshnessListing>, DaemonStoreError> =>
  Effect.forEach(
    definitions.graph.specs.filter((spec) => spec.freshnessMillis !== undefined),
    (spec) =>
      Effect.map(lastTickOf(store, "freshness", spec.key), (lastTick) => {
        const status = lastTick?.tick.status
        return {
          key: spec.key,
          maxAgeMillis: spec.freshnessMillis!,
          verdict: status === "fresh" || status === "overdue" ? status : undefined,
          lastTick
        }
      })
  )

/** The latest `limit` ticks of one schedule, sensor or automation condition, newest first, with their runs. */
export const tickHistory = (
  store: DaemonStore,
  kind: InstigatorKind,
  name: string,
  limit: number
): Effect.Effect<ReadonlyArray<TickWithRuns>, DaemonStoreError> =>
  Effect.flatMap(store.ticks({ kind, name, limit }), (ticks) =>
    Effect.forEach(ticks, (tick) => withRuns(store, tick))
  )
