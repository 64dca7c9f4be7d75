/**
 * Pieces of running a step shared by the in-process executor (Executor.ts) and the direct path of
 * a remote attempt (RemoteAttempt.ts), so that both do them the same way.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { AssetGraph } from "../graph/AssetGraph.ts"
import { assetKeySegments } from "../graph/AssetKey.ts"
import { UserCodeError } from "./StepErrors.ts"

/** Key path segments by node of a graph, validated once per graph rather than on every write. */
const pathsByGraph = new WeakMap<AssetGraph, Array<ReadonlyArray<string> | undefined>>()

/** The path segments of the asset `key` at `node` of `graph` (its storage location). */
export const assetPathOf = (graph: AssetGraph, node: number, key: string): ReadonlyArray<string> => {
  let paths = pathsByGraph.get(graph)
  if (paths === undefined) {
    paths = new Array<ReadonlyArray<string> | undefined>(graph.size)
    pathsByGraph.set(graph, paths)
  }
  paths[node] ??= assetKeySegments(key)
  return paths[node]
}

/** User code's failures and defects become a UserCodeError naming the asset; interruption stays. */
export const userBoundary = <R>(
  key: string,
  effect: Effect.Effect<unknown, unknown, R>
): Effect.Effect<unknown, UserCodeError, R> =>
  Effect.catchCause(effect, (cause) =>
    Cause.hasInterruptsOnly(cause)
      ? Effect.interrupt
      : Effect.fail(new UserCodeError({ assetKey: key, cause: Cause.squash(cause) }))
  )
