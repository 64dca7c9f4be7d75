/**
 * Checks alone on the current values (`materia check`): loads each selected asset's committed value
 * (for a source asset: loads it), runs its checks, and records the results as a run of their own,
 * so that they show in `materia assets` and `materia runs show`. Nothing is materialized.
 */
import {
  type CheckInput,
  type IOManager,
  type RecordBatchLike,
  type RunEvent,
  runChecks,
  type StorageError
} from "@materia/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { makeRunId } from "./Launch.ts"
import type { AnyProject } from "./Project.ts"
import { currentDriver, type MaterializeStore } from "./Store.ts"

/** The result of one check on a current value. */
export interface CurrentCheckResult {
  readonly assetKey: string
  readonly check: string
  readonly passed: boolean
  readonly severity: "warn" | "error"
  readonly blocking: boolean
  readonly message?: string | undefined
  readonly metadata: Readonly<Record<string, unknown>>
}

export interface CheckRun {
  readonly runId: string
  readonly results: ReadonlyArray<CurrentCheckResult>
  /** Assets selected that have checks but no current value to check. */
  readonly missing: ReadonlyArray<string>
}

const noop = () => {}

/** Runs the checks of the `targets` that have any on their current values. */
export const checkCurrent = (
  project: AnyProject,
  store: MaterializeStore,
  targets: ReadonlySet<number>,
  ioManagers: ReadonlyMap<string, IOManager>
): Effect.Effect<CheckRun, StorageError> =>
  Effect.gen(function* () {
    const runId = yield* makeRunId
    const start = yield* Clock.currentTimeMillis
    const keys = [...targets].map((i) => project.graph.keys[i]!).sort()
    const withChecks = keys.filter((k) => (project.executables.get(k)?.checks ?? []).length > 0)
    const snapshot = yield* store.storage.snapshot(project.name, withChecks)
    const events: Array<RunEvent> = [
      {
        _tag: "RunStarted",
        runId,
        at: start,
        project: project.name,
        targets: withChecks,
        steps: [],
        driver: currentDriver()
      }
    ]
    const results: Array<CurrentCheckResult> = []
    const missing: Array<string> = []
    for (const key of withChecks) {
      const executable = project.executables.get(key)!
      const latest = snapshot.get(key)?.latest
      const handle = latest?.handle
      const io = handle === null || handle === undefined ? undefined : ioManagers.get(handle.ioManager)
      const isSource = executable.spec.kind === "source"
      if (!isSource && (latest === undefined || (handle !== null && io === undefined))) {
        missing.push(key)
        continue
      }
      const context = {
        runId,
        assetKey: key,
        attempt: 1,
        log: { debug: noop, info: noop, warn: noop, error: noop },
        addMetadata: noop,
        config: undefined,
        signal: new AbortController().signal
      }
      const value: Effect.Effect<unknown, unknown> = isSource
        ? (executable.run({}, context) as Effect.Effect<unknown, unknown>)
        : handle === null || handle === undefined
          ? Effect.void
          : io!.load(handle, { assetKey: key, consumerKey: key })
      const loaded = yield* Effect.cached(value)
      const batches: CheckInput["batches"] =
        io !== undefined && handle !== null && handle !== undefined && handle.format === "arrow"
          ? io.loadBatches(handle, { assetKey: key, consumerKey: key })
          : Stream.unwrap(
              Effect.map(loaded, (v) =>
                Stream.fromIterable(
                  typeof v === "object" && v !== null && Array.isArray((v as { batches?: unknown }).batches)
                    ? (v as { batches: ReadonlyArray<RecordBatchLike> }).batches
                    : []
                )
              )
            )
      const input: CheckInput = {
        assetKey: key,
        value: loaded,
        batches,
        previous: latest,
        metadata: latest?.metadata ?? {}
      }
      const at = yield* Clock.currentTimeMillis
      yield* runChecks(executable.checks ?? [], input, ({ check, result }) => {
        results.push({
          assetKey: key,
          check: check.spec.name,
          passed: result.passed,
          severity: check.spec.severity,
          blocking: check.spec.blocking,
          message: result.message,
          metadata: result.metadata ?? {}
        })
        events.push({
          _tag: "CheckEvaluated",
          runId,
          at,
          key,
          check: check.spec.name,
          passed: result.passed,
          severity: check.spec.severity,
          blocking: check.spec.blocking,
          ...(result.message === undefined ? {} : { message: result.message }),
          metadata: result.metadata ?? {},
          dataVersion: latest?.dataVersion ?? "unobserved",
          ...(handle === null || handle === undefined ? {} : { location: handle.location })
        })
      })
    }
    const end = yield* Clock.currentTimeMillis
    const failed = results.some((r) => !r.passed && r.severity === "error")
    events.push({
      _tag: "RunFinished",
      runId,
      at: end,
      status: failed ? "failed" : "succeeded",
      durationMillis: end - start
    })
    yield* store.storage.append(project.name, events)
    return { runId, results, missing }
  })
