/**
 * The in-memory metadata store: the reference implementation of StorageApi, for ephemeral runs and
 * tests. Keeps everything in maps for the life of the process.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { RunEvent } from "../events/RunEvent.ts"
import {
  checkRecordOf,
  type RunRecord,
  Storage,
  type StorageApi,
  type StoredAssetState,
  type StoredEvent
} from "./Storage.ts"

/** Makes an empty in-memory store. */
export const makeMemoryStorage = (): StorageApi => {
  const assets = new Map<string, Map<string, StoredAssetState>>()
  const runs = new Map<string, RunRecord>()
  const events = new Map<string, Array<StoredEvent>>()

  const assetsOf = (project: string) => {
    let m = assets.get(project)
    if (m === undefined) {
      m = new Map()
      assets.set(project, m)
    }
    return m
  }

  const apply = (project: string, event: RunEvent) => {
    let log = events.get(event.runId)
    if (log === undefined) {
      log = []
      events.set(event.runId, log)
    }
    log.push({ seq: log.length + 1, event })
    const projectAssets = assetsOf(project)
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
    append: (project, batch) =>
      Effect.sync(() => {
        for (const event of batch) apply(project, event)
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
        for (const key of keys) if (projectAssets.delete(key)) removed++
        return removed
      })
  }
}

/** A Layer providing a fresh in-memory store. */
export const MemoryStorageLive: Layer.Layer<Storage> = Layer.sync(Storage, makeMemoryStorage)
