/**
 * The typed result of a run: status, every step's outcome, and the assets' values loaded through
 * their IO managers. `RunFailed` carries it when a run fails or is canceled.
 */
import type { IOManager, IOManagerError, Plan, RunOutcome, StepOutcome } from "@materia/core"
import { IOManagerError as IOError } from "@materia/core"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { Asset } from "./Asset.ts"
import type { AnyProject, KeysOf } from "./Project.ts"
import type { MaterializeStore } from "./Store.ts"

/** The typed result of a run. */
export interface RunResult<P = AnyProject> {
  readonly runId: string
  readonly status: "succeeded" | "failed" | "canceled"
  readonly durationMillis: number
  readonly plan: Plan
  /** One outcome per planned step, in plan order. */
  readonly steps: ReadonlyArray<StepOutcome>
  /** The outcome of one planned step (undefined when it was fresh and not planned). */
  readonly step: (key: KeysOf<P> | (string & {})) => StepOutcome | undefined
  /** Loads the current value of an asset of the project (made by this run, or an earlier one in the store). */
  readonly value: <A>(asset: Asset<KeysOf<P>, A, unknown, unknown>) => Promise<A>
  /** `value` as an Effect. */
  readonly valueEffect: <A>(asset: Asset<KeysOf<P>, A, unknown, unknown>) => Effect.Effect<A, IOManagerError>
}

/** A run ended failed or canceled; `result` holds every step's outcome. */
export class RunFailed extends Data.TaggedError("RunFailed")<{ readonly result: RunResult<AnyProject> }> {
  override get message(): string {
    const r = this.result
    const failed = r.steps.filter((s) => s.status === "failed")
    const lines = failed.map(
      (s) => `  ${s.key}: ${s.error instanceof Error ? s.error.message : String(s.error)}`
    )
    const skipped = r.steps.filter((s) => s.status === "skipped").length
    const head =
      r.status === "canceled"
        ? `run ${r.runId} was canceled`
        : `run ${r.runId} failed: ${failed.length} step(s) failed${skipped > 0 ? `, ${skipped} skipped` : ""}`
    return [head, ...lines].join("\n")
  }
}

/** Builds the result of a finished run; values load through the store and IO managers of the run. */
export const makeResult = (
  project: AnyProject,
  outcome: RunOutcome,
  store: MaterializeStore,
  ioManagers: ReadonlyMap<string, IOManager>
): RunResult<AnyProject> => {
  const byKey = new Map(outcome.steps.map((s) => [s.key, s]))
  const valueEffect = <A>(asset: Asset<string, A, unknown, unknown>): Effect.Effect<A, IOManagerError> =>
    Effect.gen(function* () {
      const key = asset.key
      const made = byKey.get(key)
      let handle = made?.handle
      if (handle === undefined) {
        const snapshot = yield* store.storage.snapshot(project.name, [key]).pipe(
          Effect.mapError(
            (e) =>
              new IOError({
                ioManager: "storage",
                assetKey: key,
                operation: "load",
                reason: e.message
              })
          )
        )
        handle = snapshot.get(key)?.latest?.handle
      }
      if (handle === null) return undefined as A
      if (handle === undefined)
        return yield* Effect.fail(
          new IOError({
            ioManager: asset.spec.ioManager,
            assetKey: key,
            operation: "load",
            reason: "the asset has no stored value; materialize it first"
          })
        )
      const io = ioManagers.get(handle.ioManager)
      if (io === undefined)
        return yield* Effect.fail(
          new IOError({
            ioManager: handle.ioManager,
            assetKey: key,
            operation: "load",
            reason: "no such IO manager in this project"
          })
        )
      return (yield* io.load(handle, { assetKey: key, consumerKey: key })) as A
    })
  return {
    runId: outcome.runId,
    status: outcome.status,
    durationMillis: outcome.durationMillis,
    plan: outcome.plan,
    steps: outcome.steps,
    step: (key) => byKey.get(key),
    valueEffect,
    value: (asset) => Effect.runPromise(valueEffect(asset))
  }
}
