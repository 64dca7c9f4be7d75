/**
 * The status of one partitioned asset, a page at a time: the definition's keys in order (time
 * windows closed by now, dynamic keys as stored), each with its stored state. Reads only the page's
 * rows from storage, so a page stays fast with 100,000+ partitions.
 */
import { dynamicNamesOf, makePartitionUniverse, type StorageError } from "@materia/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { PartitionRequestError } from "./PartitionRequest.ts"
import type { AnyProject } from "./Project.ts"
import type { MaterializeStore } from "./Store.ts"

export type PartitionStatus = "materialized" | "missing" | "failed"

export interface PartitionStatusRow {
  readonly partition: string
  readonly status: PartitionStatus
  readonly at: number | null
  readonly runId: string | null
  readonly dataVersion: string | null
}

export interface PartitionStatusPage {
  readonly key: string
  readonly items: ReadonlyArray<PartitionStatusRow>
  /** The key to pass as `after` for the next page; null on the last page. */
  readonly next: string | null
  /** How many partitions the definition has now. */
  readonly total: number
  /** Over every partition, from storage's counts. */
  readonly materialized: number
  readonly failed: number
}

/** One page of an asset's partitions, in definition order, after `after` (exclusive). */
export const partitionStatusPage = (
  project: AnyProject,
  store: MaterializeStore,
  key: string,
  options: { readonly after?: string | undefined; readonly limit?: number | undefined } = {}
): Effect.Effect<PartitionStatusPage, PartitionRequestError | StorageError> =>
  Effect.gen(function* () {
    const node = project.graph.indexOf(key)
    const spec = node < 0 ? undefined : project.graph.specs[node]!.partitions
    if (spec === undefined)
      return yield* Effect.fail(
        new PartitionRequestError({
          reason:
            node < 0
              ? `no asset has key "${key}"`
              : `asset "${key}" is not partitioned; \`materia assets\` shows its status`
        })
      )
    const now = yield* Clock.currentTimeMillis
    const dynamic: Record<string, ReadonlyArray<string>> = {}
    for (const name of dynamicNamesOf(spec))
      dynamic[name] = yield* store.storage.dynamicPartitions(project.name, name)
    const keys = makePartitionUniverse(project.graph, { now, dynamic }).keysOf(node)
    let start = 0
    if (options.after !== undefined) {
      const at = keys.indexOf(options.after)
      if (at < 0)
        return yield* Effect.fail(
          new PartitionRequestError({
            reason: `asset "${key}": "${options.after}" is not one of its partitions (${keys.length} partitions${keys.length > 0 ? `, ${keys[0]} to ${keys[keys.length - 1]}` : ""})`
          })
        )
      start = at + 1
    }
    const limit = options.limit ?? 100
    const page = keys.slice(start, start + limit)
    const stored = yield* store.storage.partitions(project.name, key, { only: page })
    const byKey = new Map(stored.map((s) => [s.partition, s]))
    const counts = yield* store.storage.partitionCounts(project.name, key)
    return {
      key,
      items: page.map((partition): PartitionStatusRow => {
        const s = byKey.get(partition)
        return {
          partition,
          status: s?.lastFailed ? "failed" : s?.latest !== undefined ? "materialized" : "missing",
          at: s?.latest?.at ?? null,
          runId: s?.latest?.runId ?? null,
          dataVersion: s?.latest?.dataVersion ?? null
        }
      }),
      next: start + limit < keys.length ? page[page.length - 1]! : null,
      total: keys.length,
      materialized: counts.materialized,
      failed: counts.failed
    }
  })
