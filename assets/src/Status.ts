/**
 * The status of every asset of a project, as `materia assets` and the catalog show it: fresh,
 * stale (with the reasons), missing, failed, or a source (observed), beside its latest
 * materialization. Computed by planning everything against the store, without running anything.
 */
import {
  formatReason,
  type PlanStep,
  type StaleUpstream,
  type StorageError,
  type StoredAssetState
} from "@materia/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { type ObserveError, prepareRun } from "./Launch.ts"
import type { PartitionRequestError } from "./PartitionRequest.ts"
import type { AnyProject } from "./Project.ts"
import type { MaterializeStore } from "./Store.ts"

export type AssetStatus = "fresh" | "stale" | "missing" | "failed" | "skipped" | "source"

export interface AssetStatusRow {
  readonly key: string
  readonly kind: "asset" | "source"
  readonly group: string
  readonly status: AssetStatus
  /** Why a stale, missing or failed asset would run. */
  readonly reasons: ReadonlyArray<string>
  readonly latest?:
    | {
        readonly runId: string
        readonly at: number
        readonly dataVersion: string
        readonly codeVersion: string
      }
    | undefined
  /** Against the asset's freshness policy: `overdue` when its latest value is older than allowed. */
  readonly freshness?: "ok" | "overdue" | undefined
  /** A partitioned asset: how many partitions it has now, and how many are materialized, failed, stale. */
  readonly partitions?:
    | {
        readonly total: number
        readonly materialized: number
        readonly failed: number
        readonly stale: number
      }
    | undefined
  /** The latest result of each of its checks. */
  readonly checks: ReadonlyArray<{
    readonly check: string
    readonly passed: boolean
    readonly severity: string
    readonly message?: string | undefined
  }>
}

/** Every asset's status, in key order. */
export const assetStatuses = (
  project: AnyProject,
  store: MaterializeStore
): Effect.Effect<
  ReadonlyArray<AssetStatusRow>,
  StaleUpstream | ObserveError | StorageError | PartitionRequestError
> =>
  Effect.gen(function* () {
    const graph = project.graph
    const all = new Set(graph.keys.map((_, i) => i))
    const { plan, snapshot, partitions, partitionSnapshot } = yield* prepareRun(project, store, all, {})
    const planned = new Map<string, PlanStep>()
    const stalePartitions = new Map<string, number>()
    for (const s of plan.steps) {
      if (!planned.has(s.key)) planned.set(s.key, s)
      if (s.partitions !== undefined)
        stalePartitions.set(s.key, (stalePartitions.get(s.key) ?? 0) + s.partitions.length)
    }
    const now = yield* Clock.currentTimeMillis
    return graph.specs.map((spec, node): AssetStatusRow => {
      if (spec.partitions !== undefined && partitions !== undefined) {
        const states = partitionSnapshot?.get(spec.key) ?? new Map()
        const total = partitions.keysOf(node).length
        let materialized = 0
        let failed = 0
        let newest: StoredAssetState["latest"]
        for (const state of states.values()) {
          if (state.latest !== undefined) {
            materialized++
            if (newest === undefined || state.latest.at > newest.at) newest = state.latest
          }
          if (state.lastFailed) failed++
        }
        const stale = stalePartitions.get(spec.key) ?? 0
        const step = planned.get(spec.key)
        return {
          key: spec.key,
          kind: spec.kind,
          group: spec.group,
          status: failed > 0 ? "failed" : materialized === 0 ? "missing" : stale > 0 ? "stale" : "fresh",
          reasons:
            step === undefined
              ? []
              : [
                  `${stale} of ${total} partitions: ${step.reasons.map(formatReason).join("; ")} (${step.partition} first)`
                ],
          partitions: { total, materialized, failed, stale },
          latest:
            newest === undefined
              ? undefined
              : {
                  runId: newest.runId,
                  at: newest.at,
                  dataVersion: newest.dataVersion,
                  codeVersion: newest.codeVersion
                },
          checks: (snapshot.get(spec.key)?.checks ?? []).map((c) => ({
            check: c.check,
            passed: c.passed,
            severity: c.severity,
            message: c.message
          }))
        }
      }
      const state = snapshot.get(spec.key)
      const latest = state?.latest
      const step = planned.get(spec.key)
      const status: AssetStatus =
        spec.kind === "source"
          ? "source"
          : step === undefined && state?.skipped !== undefined
            ? "skipped"
            : latest === undefined
              ? "missing"
              : state?.lastFailed
                ? "failed"
                : step !== undefined
                  ? "stale"
                  : "fresh"
      const maxAge = spec.freshnessMillis
      return {
        freshness:
          maxAge === undefined
            ? undefined
            : latest !== undefined && now - latest.at <= maxAge
              ? "ok"
              : "overdue",
        checks: (state?.checks ?? []).map((c) => ({
          check: c.check,
          passed: c.passed,
          severity: c.severity,
          message: c.message
        })),
        key: spec.key,
        kind: spec.kind,
        group: spec.group,
        status,
        reasons: step?.reasons.map(formatReason) ?? [],
        latest:
          latest === undefined
            ? undefined
            : {
                runId: latest.runId,
                at: latest.at,
                dataVersion: latest.dataVersion,
                codeVersion: latest.codeVersion
              }
      }
    })
  })
