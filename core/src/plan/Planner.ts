/**
 * The planner: a pure function from a graph, the selected targets and a snapshot of stored state to
 * the stale steps, in topological order, each with the reasons it runs. No IO, no clock: the same
 * inputs always give the same plan.
 */
import * as Data from "effect/Data"
import type { AssetGraph } from "../graph/AssetGraph.ts"
import { type PartitionPlanInput, planPartitioned } from "./PartitionPlanner.ts"
import { type SkipDecision, type Snapshot, UNOBSERVED_VERSION } from "./Snapshot.ts"

/** Why a step is in the plan. */
export type StaleReason =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "CodeVersionChanged"; readonly from: string; readonly to: string }
  | { readonly _tag: "UpstreamDataChanged"; readonly upstream: ReadonlyArray<string> }
  | { readonly _tag: "UpstreamPlanned"; readonly upstream: ReadonlyArray<string> }
  | { readonly _tag: "Forced" }
  | { readonly _tag: "FailedLastTime" }
  | { readonly _tag: "ReExecution"; readonly runId: string }

/** One line per reason, as `materia plan` prints them. */
export const formatReason = (reason: StaleReason): string => {
  switch (reason._tag) {
    case "Missing":
      return "missing"
    case "CodeVersionChanged":
      return `code version changed (${reason.from.slice(0, 12)} → ${reason.to.slice(0, 12)})`
    case "UpstreamDataChanged":
      return `upstream data changed: ${reason.upstream.join(", ")}`
    case "UpstreamPlanned":
      return `upstream will be re-materialized: ${reason.upstream.join(", ")}`
    case "Forced":
      return "forced"
    case "FailedLastTime":
      return "failed last time"
    case "ReExecution":
      return `re-executed from run ${reason.runId}`
  }
}

/** One asset to materialize. */
export interface PlanStep {
  readonly key: string
  /** The asset's node index in the graph. */
  readonly node: number
  readonly reasons: ReadonlyArray<StaleReason>
  /**
   * Runs only if a planned upstream produces a new data version; otherwise the stored value stays
   * current and the step ends `unchanged`.
   */
  readonly conditional: boolean
  /** Indices (into `Plan.steps`) of the planned steps this one waits for. */
  readonly upstream: ReadonlyArray<number>
  readonly pool: string
  /** A partitioned asset's step: its partition key, or `first...last` for a single-run range. */
  readonly partition?: string | undefined
  /** The partitions the step materializes (one, or the range of a single-run backfill). */
  readonly partitions?: ReadonlyArray<string> | undefined
  /** A single-run backfill step: its body receives `ctx.partitionRange`. */
  readonly singleRange?: boolean | undefined
  /**
   * For each parent (in `graph.parents[node]` order), the upstream partitions the step reads, or
   * null for an unpartitioned parent. Set when the plan involves partitions.
   */
  readonly inputPartitions?: ReadonlyArray<ReadonlyArray<string> | null> | undefined
}

/** How a step is named to people: `key`, or `key[partition]`. */
export const stepLabel = (step: { readonly key: string; readonly partition?: string | undefined }): string =>
  step.partition === undefined ? step.key : `${step.key}[${step.partition}]`

/** The stale-only, topologically ordered steps of a selection. */
export interface Plan {
  readonly steps: ReadonlyArray<PlanStep>
  readonly targets: ReadonlyArray<string>
  /** Fresh assets whose stored values planned steps load as inputs (ordering-only deps excluded). */
  readonly loaded: ReadonlyArray<string>
  /** For partitioned assets: node → partition → index of the step that materializes it. */
  readonly partitionSteps?: ReadonlyMap<number, ReadonlyMap<string, number>> | undefined
}

export interface PlanOptions {
  /** Re-materialize the targets even when fresh. */
  readonly force?: boolean | undefined
  /** `materialize` (default) plans stale upstream too; `load-only` refuses instead. */
  readonly upstream?: "materialize" | "load-only" | undefined
  /**
   * Re-execute exactly the targets, as steps of run `runId`: each runs whatever its state, and
   * upstream is loaded as stored, never planned.
   */
  readonly reexecuteFrom?: string | undefined
  /** Partitions: their keys, mappings and stored state, and the partitions asked for. */
  readonly partitions?: PartitionPlanInput | undefined
}

export type { PartitionPlanInput }

/** `upstream: "load-only"` found stale upstream assets. */
export class StaleUpstream extends Data.TaggedError("StaleUpstream")<{
  readonly stale: ReadonlyArray<{ readonly key: string; readonly reasons: ReadonlyArray<string> }>
}> {
  override get message(): string {
    const lines = this.stale.map((s) => `  ${s.key}: ${s.reasons.join("; ")}`)
    return `upstream assets are stale and upstream is "load-only":\n${lines.join("\n")}\nselect them too, or drop upstream: "load-only"`
  }
}

/**
 * Plans the targets and their stale upstream. Throws `StaleUpstream` when `upstream` is
 * `load-only` and an upstream asset would have to run.
 */
export const plan = (
  graph: AssetGraph,
  targets: Iterable<number>,
  snapshot: Snapshot,
  options: PlanOptions = {}
): Plan => {
  const n = graph.size
  const isTarget = new Uint8Array(n)
  const inClosure = new Uint8Array(n)
  const stack: Array<number> = []
  for (const t of targets) {
    if (isTarget[t]) continue
    isTarget[t] = 1
    inClosure[t] = 1
    stack.push(t)
  }
  while (stack.length > 0) {
    const node = stack.pop()!
    for (const p of graph.parents[node]!)
      if (!inClosure[p]) {
        inClosure[p] = 1
        stack.push(p)
      }
  }
  const partitions = options.partitions
  if (partitions?.universe.any)
    for (let i = 0; i < n; i++)
      if (inClosure[i] && partitions.universe.definitionOf(i) !== undefined)
        return planPartitioned(graph, isTarget, inClosure, snapshot, partitions, options)

  const stepOfNode = new Int32Array(n).fill(-1)
  const needsValue = new Uint8Array(n)
  const steps: Array<PlanStep> = []
  const stale: Array<{ key: string; reasons: ReadonlyArray<string> }> = []
  const force = options.force === true
  const order = graph.topologicalOrder
  const skipped = new Uint8Array(n)
  const currentVersion = (p: number) =>
    snapshot.get(graph.keys[p]!)?.latest?.dataVersion ?? UNOBSERVED_VERSION
  const skipStands = (
    codeVersion: string,
    decision: SkipDecision | undefined,
    parents: ReadonlyArray<number>
  ) => {
    if (decision === undefined || decision.codeVersion !== codeVersion) return false
    for (const p of parents)
      if (stepOfNode[p]! >= 0 || decision.inputVersions[graph.keys[p]!] !== currentVersion(p)) return false
    return true
  }
  let anySkipped = false
  const lacksSkippedInput = (inputs: ReadonlyArray<{ readonly key: string }>) =>
    anySkipped &&
    inputs.some((input) => {
      const p = graph.indexOf(input.key)
      return skipped[p] === 1 && snapshot.get(input.key)?.latest === undefined
    })
  const addStep = (node: number, reasons: ReadonlyArray<StaleReason>, conditional: boolean) => {
    const spec = graph.specs[node]!
    const upstream: Array<number> = []
    for (const p of graph.parents[node]!) {
      const s = stepOfNode[p]!
      if (s >= 0) upstream.push(s)
    }
    for (const input of spec.inputs) {
      const p = graph.indexOf(input.key)
      if (stepOfNode[p]! < 0) needsValue[p] = 1
    }
    stepOfNode[node] = steps.length
    steps.push({ key: spec.key, node, reasons, conditional, upstream, pool: spec.pool })
  }

  for (let k = 0; k < order.length; k++) {
    const node = order[k]!
    if (!inClosure[node]) continue
    const spec = graph.specs[node]!
    if (spec.kind === "source") continue
    const parents = graph.parents[node]!
    if (options.reexecuteFrom !== undefined) {
      if (!isTarget[node]) continue
      addStep(node, [{ _tag: "ReExecution", runId: options.reexecuteFrom }], false)
      continue
    }
    const state = snapshot.get(spec.key)
    const latest = state?.latest
    const forced = force && isTarget[node] === 1
    // A body that chose to skip is not planned again while it would see the same versions; nor is
    // a step that needs the value such a step never produced.
    if (
      !forced &&
      !state?.lastFailed &&
      (skipStands(spec.codeVersion, state?.skipped, parents) || lacksSkippedInput(spec.inputs))
    ) {
      skipped[node] = 1
      anySkipped = true
      continue
    }
    const reasons: Array<StaleReason> = []
    let conditional = false
    if (forced) reasons.push({ _tag: "Forced" })
    if (latest === undefined) reasons.push({ _tag: "Missing" })
    else {
      if (latest.codeVersion !== spec.codeVersion)
        reasons.push({ _tag: "CodeVersionChanged", from: latest.codeVersion, to: spec.codeVersion })
      if (state!.lastFailed) reasons.push({ _tag: "FailedLastTime" })
      const changed: Array<string> = []
      const planned: Array<string> = []
      for (const p of parents) {
        const parentKey = graph.keys[p]!
        if (stepOfNode[p]! >= 0) planned.push(parentKey)
        else {
          const current = snapshot.get(parentKey)?.latest?.dataVersion ?? UNOBSERVED_VERSION
          if (latest.inputVersions[parentKey] !== current) changed.push(parentKey)
        }
      }
      if (changed.length > 0) reasons.push({ _tag: "UpstreamDataChanged", upstream: changed })
      if (planned.length > 0) {
        conditional = reasons.length === 0
        reasons.push({ _tag: "UpstreamPlanned", upstream: planned })
      }
    }
    if (reasons.length === 0) continue
    if (!isTarget[node] && options.upstream === "load-only") {
      stale.push({ key: spec.key, reasons: reasons.map(formatReason) })
      continue
    }
    addStep(node, reasons, conditional)
  }
  if (stale.length > 0) throw new StaleUpstream({ stale })

  const loaded: Array<string> = []
  for (let i = 0; i < n; i++)
    if (needsValue[i] && graph.specs[i]!.kind === "asset") loaded.push(graph.keys[i]!)
  const targetKeys: Array<string> = []
  for (let i = 0; i < n; i++) if (isTarget[i]) targetKeys.push(graph.keys[i]!)
  return { steps, targets: targetKeys, loaded }
}
