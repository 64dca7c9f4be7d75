/**
 * The in-memory metadata store: the reference implementation of StorageApi, for ephemeral runs and
 * tests. Keeps everything in maps for the life of the process.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { BackfillRecord } from "../backfill/BackfillRecord.ts"
import type { RunEvent } from "../events/RunEvent.ts"
import { fenceAttempts, fencedEvent, runEndedError, type StepAttempts, staleAttemptError } from "./Fences.ts"
import {
  checkRecordOf,
  type RunRecord,
  Storage,
  type StorageApi,
  type StoredAssetState,
  type StoredEvent,
  type StoredPartitionState
} from "./Storage.ts"

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Makes an empty in-memory store. */
export const makeMemoryStorage = (): StorageApi => {
  const assets = new Map<string, Map<string, StoredAssetState>>()
  // project -> asset key -> partition -> state
  const partitionStates = new Map<string, Map<string, Map<string, StoredAssetState>>>()
  const runs = new Map<string, RunRecord>()
  const events = new Map<string, Array<StoredEvent>>()
  const dynamic = new Map<string, Array<string>>()
  const backfills = new Map<string, BackfillRecord>()

  const partitionsOf = (project: string, key: string) => {
    let byKey = partitionStates.get(project)
    if (byKey === undefined) {
      byKey = new Map()
      partitionStates.set(project, byKey)
    }
    let m = byKey.get(key)
    if (m === undefined) {
      m = new Map()
      byKey.set(key, m)
    }
    return m
  }
  const dynamicOf = (project: string, definition: string) => {
    const id = `${project}\u0000${definition}`
    let list = dynamic.get(id)
    if (list === undefined) {
      list = []
      dynamic.set(id, list)
    }
    return list
  }

  const assetsOf = (project: string) => {
    let m = assets.get(project)
    if (m === undefined) {
      m = new Map()
      assets.set(project, m)
    }
    return m
  }

  /** The attempt fence's records, by run and step. */
  const stepAttempts = new Map<string, Map<string, StepAttempts>>()

  const apply = (project: string, event: RunEvent) => {
    let log = events.get(event.runId)
    if (log === undefined) {
      log = []
      events.set(event.runId, log)
    }
    log.push({ seq: log.length + 1, event })
    // A partitioned step's projection lives per partition; the same rules apply to both.
    const projectAssets: Map<string, StoredAssetState> =
      "partition" in event && event.partition !== undefined && "key" in event && event.key !== undefined
        ? new PartitionView(partitionsOf(project, event.key), event.partition)
        : assetsOf(project)
    switch (event._tag) {
      case "RunStarted":
        runs.set(event.runId, { runId: event.runId, project, status: "running", startedAt: event.at })
        break
      case "RunFinished": {
        const run = runs.get(event.runId)
        if (run !== undefined) runs.set(event.runId, { ...run, status: event.status, endedAt: event.at })
        break
      }
      case "Materialization": {
        const checks = projectAssets.get(event.key)?.checks
        projectAssets.set(event.key, {
          lastFailed: false,
          ...(checks === undefined ? {} : { checks }),
          latest: {
            key: event.key,
            runId: event.runId,
            at: event.at,
            dataVersion: event.dataVersion,
            codeVersion: event.codeVersion,
            inputVersions: event.inputVersions,
            handle: event.handle,
            metadata: event.metadata
          }
        })
        break
      }
      case "StepSkipped": {
        if (event.decision === undefined) break
        const previous = projectAssets.get(event.key)
        projectAssets.set(event.key, { ...previous, lastFailed: false, skipped: event.decision })
        break
      }
      case "CheckEvaluated": {
        const previous = projectAssets.get(event.key)
        const record = checkRecordOf(event)
        const checks = [...(previous?.checks ?? []).filter((c) => c.check !== event.check), record].sort(
          (a, b) => (a.check < b.check ? -1 : 1)
        )
        projectAssets.set(event.key, { lastFailed: previous?.lastFailed ?? false, ...previous, checks })
        break
      }
      case "SourceObserved":
        projectAssets.set(event.key, {
          lastFailed: false,
          latest: {
            key: event.key,
            runId: event.runId,
            at: event.at,
            dataVersion: event.dataVersion,
            codeVersion: "",
            inputVersions: {},
            handle: null
          }
        })
        break
      case "StepFailed": {
        const previous = projectAssets.get(event.key)
        projectAssets.set(event.key, { ...previous, lastFailed: true })
        break
      }
      default:
        break
    }
  }

  return {
    eventsByTag: (project, tags, options) =>
      Effect.sync(() => {
        const wanted = new Set<string>(tags)
        const out: Array<StoredEvent> = []
        const projectRuns = [...runs.values()].filter((r) => r.project === project).reverse()
        for (const run of projectRuns) {
          const log = events.get(run.runId) ?? []
          for (let i = log.length - 1; i >= 0; i--) {
            const stored = log[i]!
            const event = stored.event
            if (!wanted.has(event._tag)) continue
            if (options?.key !== undefined && (!("key" in event) || event.key !== options.key)) continue
            out.push(stored)
          }
        }
        out.sort((a, b) => b.event.at - a.event.at)
        return options?.limit === undefined ? out : out.slice(0, options.limit)
      }),
    deleteRuns: (project, runIds) =>
      Effect.sync(() => {
        let deleted = 0
        for (const runId of runIds) {
          const run = runs.get(runId)
          if (run === undefined || run.project !== project || run.status === "running") continue
          runs.delete(runId)
          events.delete(runId)
          stepAttempts.delete(runId)
          deleted++
        }
        return deleted
      }),
    partitions: (project, key, query) =>
      Effect.sync(() => {
        const states = partitionsOf(project, key)
        const keys =
          query?.only !== undefined
            ? [...new Set(query.only)].filter((p) => states.has(p)).sort(byText)
            : [...states.keys()].sort(byText)
        const after = query?.after
        const out: Array<StoredPartitionState> = []
        for (const partition of keys) {
          if (after !== undefined && partition <= after) continue
          if (query?.limit !== undefined && out.length >= query.limit) break
          out.push({ ...states.get(partition)!, partition })
        }
        return out
      }),
    partitionCounts: (project, key) =>
      Effect.sync(() => {
        let materialized = 0
        let failed = 0
        const states = partitionsOf(project, key)
        for (const state of states.values()) {
          if (state.latest !== undefined) materialized++
          if (state.lastFailed) failed++
        }
        return { stored: states.size, materialized, failed }
      }),
    dynamicPartitions: (project, definition) => Effect.sync(() => [...dynamicOf(project, definition)]),
    addDynamicPartitions: (project, definition, keys) =>
      Effect.sync(() => {
        const list = dynamicOf(project, definition)
        const have = new Set(list)
        let added = 0
        for (const k of keys)
          if (!have.has(k)) {
            have.add(k)
            list.push(k)
            added++
          }
        return added
      }),
    deleteDynamicPartitions: (project, definition, keys) =>
      Effect.sync(() => {
        const list = dynamicOf(project, definition)
        const drop = new Set(keys)
        const kept = list.filter((k) => !drop.has(k))
        const removed = list.length - kept.length
        list.splice(0, list.length, ...kept)
        return removed
      }),
    saveBackfill: (record) =>
      Effect.sync(() => {
        backfills.delete(record.backfillId)
        backfills.set(record.backfillId, record)
      }),
    backfill: (backfillId) => Effect.sync(() => backfills.get(backfillId)),
    backfills: (project, options) =>
      Effect.sync(() => {
        const list = [...backfills.values()]
          .filter((b) => b.project === project)
          .sort((a, b) => b.createdAt - a.createdAt)
        return options?.limit === undefined ? list : list.slice(0, options.limit)
      }),
    append: (project, batch) =>
      Effect.suspend(() => {
        const fenced = fencedEvent(batch, (runId) => {
          const status = runs.get(runId)?.status
          return status === "running" ? undefined : status
        })
        if (fenced !== undefined) {
          const event = batch[fenced.index]!
          return Effect.fail(runEndedError("memory storage", event.runId, fenced.status, event._tag))
        }
        const attempts = fenceAttempts(batch, (runId, step) => stepAttempts.get(runId)?.get(step))
        if (attempts.refused !== undefined)
          return Effect.fail(staleAttemptError("memory storage", attempts.refused.reason))
        for (const record of attempts.records) {
          let steps = stepAttempts.get(record.runId)
          if (steps === undefined) {
            steps = new Map()
            stepAttempts.set(record.runId, steps)
          }
          steps.set(record.step, record)
        }
        for (const event of batch) apply(project, event)
        return Effect.void
      }),
    snapshot: (project, keys) =>
      Effect.sync(() => {
        const projectAssets = assetsOf(project)
        if (keys === undefined) return new Map(projectAssets)
        const out = new Map<string, StoredAssetState>()
        for (const key of keys) {
          const state = projectAssets.get(key)
          if (state !== undefined) out.set(key, state)
        }
        return out
      }),
    runs: (project, options) =>
      Effect.sync(() => {
        const list = [...runs.values()].filter((r) => r.project === project).reverse()
        return options?.limit === undefined ? list : list.slice(0, options.limit)
      }),
    events: (runId, options) =>
      Effect.sync(() => {
        const log = events.get(runId) ?? []
        const after = options?.afterSeq ?? 0
        const rest = log.slice(after)
        return options?.limit === undefined ? rest : rest.slice(0, options.limit)
      }),
    wipe: (project, keys) =>
      Effect.sync(() => {
        const projectAssets = assetsOf(project)
        let removed = 0
        for (const key of keys) {
          if (projectAssets.delete(key)) removed++
          const parts = partitionStates.get(project)?.get(key)
          if (parts !== undefined) {
            removed += parts.size
            partitionStates.get(project)!.delete(key)
          }
        }
        return removed
      })
  }
}

/**
 * The states of one asset's partitions seen as the map of one project's assets, keyed by the asset
 * key: lets `apply` project a partitioned event with the same code as an unpartitioned one.
 */
class PartitionView extends Map<string, StoredAssetState> {
  constructor(
    private readonly states: Map<string, StoredAssetState>,
    private readonly partition: string
  ) {
    super()
  }
  override get(_key: string): StoredAssetState | undefined {
    return this.states.get(this.partition)
  }
  override set(_key: string, value: StoredAssetState): this {
    this.states.set(this.partition, value)
    return this
  }
}

/** A Layer providing a fresh in-memory store. */
export const MemoryStorageLive: Layer.Layer<Storage> = Layer.sync(Storage, makeMemoryStorage)
