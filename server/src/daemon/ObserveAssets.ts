/**
 * What automation conditions see, read from the metadata store: each asset's latest
 * materialization time and, for an asset partitioned by time windows or static keys, its closed
 * partitions that were never materialized.
 */
import {
  type AssetGraph,
  type PartitionsDefinition,
  partitionsFromSpec,
  type StorageApi
} from "@materia/core"
import * as Effect from "effect/Effect"
import type { AssetObservation } from "./TickEngine.ts"

/** The partition keys closed by `now`, or undefined when they cannot be listed (dynamic keys). */
const closedKeys = (definition: PartitionsDefinition, now: number): ReadonlyArray<string> | undefined => {
  try {
    return definition.keys({ now })
  } catch {
    return undefined
  }
}

/** Observes `keys` of `project` in `storage`. */
export const observeAssets =
  (storage: StorageApi, project: string, graph: AssetGraph) =>
  (keys: ReadonlyArray<string>, now: number): Effect.Effect<ReadonlyMap<string, AssetObservation>, unknown> =>
    Effect.gen(function* () {
      const snapshot = yield* storage.snapshot(project, keys)
      const out = new Map<string, AssetObservation>()
      for (const key of keys) {
        const i = graph.keys.indexOf(key)
        const spec = i < 0 ? undefined : graph.specs[i]
        const latest = snapshot.get(key)?.latest
        const materializedAt = latest?.at
        let missingPartitions: ReadonlyArray<string> | undefined
        if (spec?.partitions !== undefined) {
          const all = closedKeys(partitionsFromSpec(spec.partitions), now)
          if (all !== undefined) {
            const stored = yield* storage.partitions(project, key, { only: all })
            const done = new Set(stored.filter((p) => p.latest !== undefined).map((p) => p.partition))
            missingPartitions = all.filter((k) => !done.has(k))
          }
        }
        out.set(key, {
          ...(materializedAt === undefined ? {} : { materializedAt }),
          ...(latest?.runId === undefined ? {} : { runId: latest.runId }),
          ...(missingPartitions === undefined ? {} : { missingPartitions })
        })
      }
      return out
    })
