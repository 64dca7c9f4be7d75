/**
 * What a body receives for an input that spans several upstream partitions (all partitions of an
 * upstream, the days of a month, one dimension of a multi-partitioned upstream): the keys, and the
 * values loaded on demand, so that 100,000 partitions never sit in memory at once. Tables can also
 * be read as one lazy stream of record batches, partition after partition.
 */
import type { RecordBatchLike } from "../io/IOManager.ts"

export interface PartitionedInput<V = unknown> {
  readonly assetKey: string
  /** The upstream partitions the step reads, in key order. */
  readonly keys: ReadonlyArray<string>
  /** Loads one partition's value. */
  readonly get: (partition: string) => Promise<V>
  /** Each partition's value in key order, loaded one at a time. */
  readonly [Symbol.asyncIterator]: () => AsyncIterator<readonly [string, V]>
  /** A table asset's partitions as one stream of record batches, partition after partition. */
  readonly batches: () => AsyncIterable<RecordBatchLike>
  /** Every value in a map (loads them all: for small values only). */
  readonly toMap: () => Promise<ReadonlyMap<string, V>>
}

export const makePartitionedInput = <V>(
  assetKey: string,
  keys: ReadonlyArray<string>,
  load: (partition: string) => Promise<V>,
  batchesOf: (partition: string) => AsyncIterable<RecordBatchLike> | undefined
): PartitionedInput<V> => ({
  assetKey,
  keys,
  get: (partition) => {
    if (!keys.includes(partition))
      return Promise.reject(
        new RangeError(
          `partition ${JSON.stringify(partition)} of "${assetKey}" is not one this step reads; it reads ${keys.length} partitions (${keys.slice(0, 3).join(", ")}${keys.length > 3 ? ", …" : ""})`
        )
      )
    return load(partition)
  },
  [Symbol.asyncIterator]: async function* () {
    for (const key of keys) yield [key, await load(key)] as const
  },
  batches: async function* () {
    for (const key of keys) {
      const batches = batchesOf(key)
      if (batches !== undefined) yield* batches
    }
  },
  toMap: async () => {
    const map = new Map<string, V>()
    for (const key of keys) map.set(key, await load(key))
    return map
  }
})
