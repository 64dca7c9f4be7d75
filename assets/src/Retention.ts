/**
 * Retention: what old runs and superseded values to delete, and deleting them (`materia gc`, the
 * daemon). A policy keeps runs for a while (`runs: "30 days"`) and the newest values of each asset
 * (and of each partition) (`values: 5`).
 *
 * Never deleted: a running run; the current value of any asset or partition (what storage points
 * at), which is also what re-executing a kept run from failure loads. A value of a deleted run is
 * deleted with it unless it is current, since the run's events are what remember it.
 */
import type { MaterializationEvent, StorageError, ValueHandle } from "@materia/core"
import { IOManagerError } from "@materia/core"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ioManagersOf } from "./Launch.ts"
import type { AnyProject } from "./Project.ts"
import type { MaterializeStore } from "./Store.ts"

export interface RetentionPolicy {
  /** Ended runs older than this are deleted with their events and logs: `"30 days"`, or milliseconds. */
  readonly runs?: string | number | undefined
  /** How many values of each asset (and partition) to keep, the current one included (at least 1). */
  readonly values?: number | undefined
}

/** A retention policy that cannot be used: names the field and what it expects. */
export class RetentionPolicyError extends Data.TaggedError("RetentionPolicyError")<{
  readonly reason: string
}> {
  override get message(): string {
    return `retention policy: ${this.reason}`
  }
}

export interface GcValue {
  readonly key: string
  readonly partition?: string | undefined
  readonly runId: string
  readonly at: number
  readonly handle: ValueHandle
  /** `rejected`: a staged value a blocking check kept from committing, older than the runs kept. */
  readonly why: "superseded" | "run deleted" | "rejected"
}

export interface GcPlan {
  /** Ended runs to delete (events, logs). */
  readonly runs: ReadonlyArray<{ readonly runId: string; readonly endedAt: number }>
  /** Values to delete from their IO managers. */
  readonly values: ReadonlyArray<GcValue>
}

export interface GcResult extends GcPlan {
  readonly dryRun: boolean
  /** Values an IO manager could not delete (they stay, and the next gc tries again). */
  readonly failures: ReadonlyArray<{ readonly value: GcValue; readonly error: string }>
}

const policyOf = (policy: RetentionPolicy) => {
  let runsMillis: number | undefined
  if (policy.runs !== undefined) {
    try {
      runsMillis = Duration.toMillis(Duration.fromInputUnsafe(policy.runs as Duration.Input))
    } catch {
      throw new RetentionPolicyError({
        reason: `runs ${JSON.stringify(policy.runs)} is not a duration; write e.g. "30 days"`
      })
    }
  }
  const values = policy.values
  if (values !== undefined && (!Number.isInteger(values) || values < 1))
    throw new RetentionPolicyError({
      reason: `values must be an integer ≥ 1 (the current value is always kept), found ${String(values)}`
    })
  return { runsMillis, values }
}

const slot = (event: MaterializationEvent) =>
  event.partition === undefined ? event.key : `${event.key}\u0000${event.partition}`

/** What a policy would delete now, without deleting anything. */
export const planGc = (
  project: AnyProject,
  store: MaterializeStore,
  policy: RetentionPolicy
): Effect.Effect<GcPlan, StorageError | RetentionPolicyError> =>
  Effect.gen(function* () {
    const { runsMillis, values: keepValues } = yield* Effect.try({
      try: () => policyOf(policy),
      catch: (e) => e as RetentionPolicyError
    })
    const storage = store.storage
    const now = yield* Clock.currentTimeMillis
    const runs = yield* storage.runs(project.name)
    const deletedRuns =
      runsMillis === undefined
        ? []
        : runs
            .filter((r) => r.status !== "running" && r.endedAt !== undefined && r.endedAt < now - runsMillis)
            .map((r) => ({ runId: r.runId, endedAt: r.endedAt! }))
    const deleted = new Set(deletedRuns.map((r) => r.runId))

    // Every committed value, newest first, and what is current (never deleted).
    const materialized = yield* storage.eventsByTag(project.name, ["Materialization"])
    const current = new Set<string>()
    const snapshot = yield* storage.snapshot(project.name)
    for (const state of snapshot.values())
      if (state.latest?.handle != null) current.add(state.latest.handle.location)
    for (const spec of project.graph.specs) {
      if (spec.partitions === undefined) continue
      for (const state of yield* storage.partitions(project.name, spec.key))
        if (state.latest?.handle != null) current.add(state.latest.handle.location)
    }
    const seen = new Map<string, number>()
    const kept = new Set<string>(current)
    const candidates: Array<GcValue> = []
    for (const { event } of materialized) {
      if (event._tag !== "Materialization" || event.handle === null) continue
      const id = slot(event)
      const rank = seen.get(id) ?? 0
      seen.set(id, rank + 1)
      const location = event.handle.location
      const beyond = keepValues !== undefined && rank >= keepValues
      const withRun = deleted.has(event.runId)
      if (!beyond && !withRun) {
        kept.add(location)
        continue
      }
      candidates.push({
        key: event.key,
        ...(event.partition === undefined ? {} : { partition: event.partition }),
        runId: event.runId,
        at: event.at,
        handle: event.handle,
        why: beyond ? "superseded" : "run deleted"
      })
    }
    // Staged values a blocking check rejected (never committed): kept for inspection while their
    // run is kept, then deleted with it.
    const committed = new Set(
      materialized.flatMap(({ event }) =>
        event._tag === "Materialization" && event.handle !== null ? [event.handle.location] : []
      )
    )
    const evaluated = yield* storage.eventsByTag(project.name, ["CheckEvaluated"])
    for (const { event } of evaluated) {
      if (event._tag !== "CheckEvaluated" || event.passed || !event.blocking) continue
      if (event.location === undefined || event.ioManager === undefined || event.format === undefined)
        continue
      if (!deleted.has(event.runId) || committed.has(event.location)) continue
      candidates.push({
        key: event.key,
        ...(event.partition === undefined ? {} : { partition: event.partition }),
        runId: event.runId,
        at: event.at,
        handle: { ioManager: event.ioManager, location: event.location, format: event.format },
        why: "rejected"
      })
    }
    // A value recorded under several slots (a single-run range) goes only when no slot keeps it.
    const unique = new Map<string, GcValue>()
    for (const value of candidates)
      if (!kept.has(value.handle.location) && !unique.has(value.handle.location))
        unique.set(value.handle.location, value)
    return { runs: deletedRuns, values: [...unique.values()] }
  })

/** Deletes what `planGc` finds: values first (their runs' events name them), then the runs. */
export const gc = (
  project: AnyProject,
  store: MaterializeStore,
  policy: RetentionPolicy,
  options: { readonly dryRun?: boolean | undefined } = {}
): Effect.Effect<GcResult, StorageError | RetentionPolicyError> =>
  Effect.gen(function* () {
    const plan = yield* planGc(project, store, policy)
    if (options.dryRun === true) return { ...plan, dryRun: true, failures: [] }
    const managers = ioManagersOf(project, store)
    const failures: Array<{ value: GcValue; error: string }> = []
    for (const value of plan.values) {
      const io = managers.get(value.handle.ioManager)
      const outcome = yield* Effect.exit(
        io === undefined
          ? Effect.fail(
              new IOManagerError({
                ioManager: value.handle.ioManager,
                assetKey: value.key,
                operation: "delete",
                location: value.handle.location,
                reason: "no IO manager of that name is configured in this project"
              })
            )
          : io.delete(value.handle)
      )
      if (outcome._tag === "Failure")
        failures.push({ value, error: outcome.cause.toString().split("\n")[0] ?? "delete failed" })
    }
    // A run whose value could not be deleted is kept, so that the next gc still knows the value.
    const blocked = new Set(failures.filter((f) => f.value.why !== "superseded").map((f) => f.value.runId))
    const runs = plan.runs.filter((r) => !blocked.has(r.runId))
    yield* store.storage.deleteRuns(
      project.name,
      runs.map((r) => r.runId)
    )
    return { runs, values: plan.values, dryRun: false, failures }
  })
