/**
 * Turns the partitions a launch asks for (`--partitions`, `materialize(..., { partitions })`) into
 * what the planner needs: the partition universe at this moment (time windows closed by now,
 * dynamic keys as stored), the stored state of every partition in the closure, and the keys
 * requested per target. Bad requests fail before anything runs, naming the asset and the valid keys.
 */
import {
  type AssetGraph,
  dynamicNamesOf,
  InvalidPartitionKey,
  makePartitionUniverse,
  type PartitionPlanInput,
  type PartitionUniverse,
  type StorageApi,
  type StorageError,
  type StoredAssetState,
  selectPartitions
} from "@materia/core"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** A partition request that cannot be honoured: names the assets and what is valid. */
export class PartitionRequestError extends Data.TaggedError("PartitionRequestError")<{
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

export interface PreparedPartitions {
  readonly universe: PartitionUniverse
  readonly input: PartitionPlanInput
  readonly states: ReadonlyMap<string, ReadonlyMap<string, StoredAssetState>>
}

/**
 * Undefined when nothing in the closure is partitioned and no partitions were asked for; fails
 * when partitions were asked of unpartitioned targets only, or name keys outside a definition.
 */
export const preparePartitions = (
  graph: AssetGraph,
  storage: StorageApi,
  project: string,
  targets: ReadonlySet<number>,
  closure: ReadonlySet<number>,
  selector: string | undefined,
  /** Leaves out requested partitions (a resumed backfill: those it already made). */
  exclude?: ((key: string, partition: string) => boolean) | undefined
): Effect.Effect<PreparedPartitions | undefined, PartitionRequestError | StorageError> =>
  Effect.gen(function* () {
    const partitionedTargets = [...targets].filter((t) => graph.specs[t]!.partitions !== undefined)
    const anyInClosure = [...closure].some((i) => graph.specs[i]!.partitions !== undefined)
    if (selector !== undefined && partitionedTargets.length === 0) {
      const names = [...targets].map((t) => graph.keys[t]!).slice(0, 5)
      return yield* Effect.fail(
        new PartitionRequestError({
          reason: `partitions ${JSON.stringify(selector)} were asked for, but no selected asset is partitioned (${names.join(", ")}${targets.size > 5 ? ", …" : ""}); drop --partitions, or select partitioned assets`
        })
      )
    }
    if (!anyInClosure) return undefined
    const now = yield* Clock.currentTimeMillis
    const dynamic: Record<string, ReadonlyArray<string>> = {}
    for (const name of new Set([...closure].flatMap((i) => dynamicNamesOf(graph.specs[i]!.partitions))))
      dynamic[name] = yield* storage.dynamicPartitions(project, name)
    const universe = makePartitionUniverse(graph, { now, dynamic })
    const requested = new Map<number, ReadonlyArray<string>>()
    if (selector !== undefined || exclude !== undefined)
      for (const t of partitionedTargets) {
        const definition = universe.definitionOf(t)!
        const keys = yield* Effect.try({
          try: () =>
            selector === undefined
              ? universe.keysOf(t)
              : selectPartitions(definition, selector, universe.options),
          catch: (error) =>
            new PartitionRequestError({
              reason: `asset "${graph.keys[t]}": ${error instanceof InvalidPartitionKey ? error.message : String(error)}`
            })
        })
        const key = graph.keys[t]!
        requested.set(t, exclude === undefined ? keys : keys.filter((p) => !exclude(key, p)))
      }
    const states = new Map<string, ReadonlyMap<string, StoredAssetState>>()
    for (const i of closure) {
      if (universe.definitionOf(i) === undefined) continue
      const key = graph.keys[i]!
      const rows = yield* storage.partitions(project, key)
      states.set(key, new Map(rows.map((row) => [row.partition, row])))
    }
    return { universe, states, input: { universe, states, requested } }
  })
