/**
 * Planning with partitions: the same staleness rules as for unpartitioned assets, applied to each
 * (asset × partition) slot. Pure, like the planner: the partition keys, the mappings and the stored
 * state of each partition come in through the `PartitionUniverse` and the `PartitionSnapshot`.
 *
 * 1. From the targets (their requested partitions, or all their keys) walk upstream through the
 *    mappings to the slots each needs.
 * 2. In topological order of assets, then key order, decide each needed slot: fresh, or a step
 *    with its reasons. An upstream slot is compared by the version of what the step reads: one
 *    partition's data version, or one hash of all it reads (a month of days).
 * 3. An asset with `singleRunBackfill` gets one step per contiguous range of stale slots (`partitions`).
 */
import type { AssetGraph } from "../graph/AssetGraph.ts"
import { combinedVersion, type PartitionUniverse, rangeLabel } from "../partition/PartitionUniverse.ts"
import {
  formatReason,
  type Plan,
  type PlanOptions,
  type PlanStep,
  type StaleReason,
  StaleUpstream
} from "./Planner.ts"
import { type AssetState, type PartitionSnapshot, type Snapshot, UNOBSERVED_VERSION } from "./Snapshot.ts"

/** What the planner needs to plan partitioned assets. */
export interface PartitionPlanInput {
  readonly universe: PartitionUniverse
  readonly states: PartitionSnapshot
  /** Partitions requested per target node; a partitioned target not listed gets all its keys. */
  readonly requested?: ReadonlyMap<number, ReadonlyArray<string>> | undefined
}

const NO_STATES: ReadonlyMap<string, AssetState> = new Map()
// Shared reasons: most slots of a backfill are missing (or forced), and reasons are never mutated.
const FORCED: StaleReason = { _tag: "Forced" }
const MISSING: ReadonlyArray<StaleReason> = [{ _tag: "Missing" }]
const FORCED_MISSING: ReadonlyArray<StaleReason> = [FORCED, MISSING[0]!]

/** Splits slots (in key order) where a key is missing between two: `a...c` never hides a fresh `b`. */
const contiguousRuns = <T extends { readonly index: number }>(slots: ReadonlyArray<T>): Array<Array<T>> => {
  const runs: Array<Array<T>> = []
  for (const slot of slots) {
    const last = runs[runs.length - 1]
    if (last !== undefined && last[last.length - 1]!.index === slot.index - 1) last.push(slot)
    else runs.push([slot])
  }
  return runs
}

export const planPartitioned = (
  graph: AssetGraph,
  isTarget: Uint8Array,
  inClosure: Uint8Array,
  snapshot: Snapshot,
  input: PartitionPlanInput,
  options: PlanOptions
): Plan => {
  const { universe, states } = input
  const n = graph.size
  const order = graph.topologicalOrder
  const partitioned = (node: number) => universe.definitionOf(node) !== undefined

  // 1. The slots each node must be fresh for: a set of keys, or a flag for an unpartitioned node.
  const needKeys = new Array<Set<string> | undefined>(n)
  const needFlag = new Uint8Array(n)
  // What was asked of each partitioned target: `force` re-makes these, not the upstream they need.
  const requestedKeys = new Map<number, ReadonlySet<string>>()
  const needOf = (node: number): Set<string> => {
    let set = needKeys[node]
    if (set === undefined) {
      set = new Set()
      needKeys[node] = set
    }
    return set
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k]!
    if (!inClosure[node]) continue
    if (isTarget[node]) {
      if (partitioned(node)) {
        const requested = input.requested?.get(node) ?? universe.keysOf(node)
        const set = needOf(node)
        for (const key of requested) set.add(key)
        requestedKeys.set(node, new Set(requested))
      } else needFlag[node] = 1
    }
    const mine = needKeys[node]
    const needed = partitioned(node) ? mine !== undefined && mine.size > 0 : needFlag[node] === 1
    if (!needed) continue
    for (const parent of graph.parents[node]!) {
      if (!partitioned(parent)) {
        needFlag[parent] = 1
        continue
      }
      const set = needOf(parent)
      if (!partitioned(node)) for (const key of universe.keysOf(parent)) set.add(key)
      else {
        const mapping = universe.mapping(node, parent)
        for (const key of mine!) for (const up of mapping.upstreamOf(key)) set.add(up)
      }
    }
  }

  // 2. Decide every needed slot, in topological order.
  const steps: Array<PlanStep> = []
  const stale: Array<{ key: string; reasons: ReadonlyArray<string> }> = []
  const stepOfNode = new Int32Array(n).fill(-1)
  const stepOfPartition = new Map<number, Map<string, number>>()
  const skippedSlots = new Map<number, Set<string>>()
  const skippedNode = new Uint8Array(n)
  const needsValue = new Uint8Array(n)
  const force = options.force === true

  const stateOf = (node: number, partition: string | undefined): AssetState | undefined =>
    partition === undefined
      ? snapshot.get(graph.keys[node]!)
      : (states.get(graph.keys[node]!) ?? NO_STATES).get(partition)
  const stepOf = (node: number, partition: string | undefined): number =>
    partition === undefined ? stepOfNode[node]! : (stepOfPartition.get(node)?.get(partition) ?? -1)
  const currentVersion = (node: number, partition: string | undefined): string =>
    stateOf(node, partition)?.latest?.dataVersion ?? UNOBSERVED_VERSION
  // The slot being decided, as a one-key array: its step's `partitions`, and what an identity
  // mapping reads upstream (one array per slot instead of one per slot and parent).
  let own: ReadonlyArray<string> = []
  /** The upstream partitions a slot reads of a parent; null when the parent is unpartitioned. */
  const upstreamKeys = (node: number, partition: string | undefined, parent: number) => {
    if (!partitioned(parent)) return null
    if (partition === undefined) return universe.keysOf(parent)
    const mapping = universe.mapping(node, parent)
    if (mapping.kind === "identity" && own[0] === partition && universe.hasKey(parent, partition)) return own
    return mapping.upstreamOf(partition)
  }
  let anySkipped = false
  const isSkipped = (node: number, partition: string | undefined) =>
    anySkipped &&
    (partition === undefined ? skippedNode[node] === 1 : skippedSlots.get(node)?.has(partition) === true)

  interface Decision {
    readonly reasons: ReadonlyArray<StaleReason>
    readonly conditional: boolean
    readonly upstream: ReadonlyArray<number>
    readonly inputs: ReadonlyArray<ReadonlyArray<string> | null>
  }

  /** Undefined: fresh (or a standing skip); otherwise why the slot runs and what it waits for. */
  const decide = (node: number, partition: string | undefined): Decision | "skip" | undefined => {
    const spec = graph.specs[node]!
    const parents = graph.parents[node]!
    const inputs: Array<ReadonlyArray<string> | null> = []
    let upstream: Array<number> = []
    let changed: Array<string> | undefined
    let planned: Array<string> | undefined
    const state = stateOf(node, partition)
    const latest = state?.latest
    // Versions are compared only against something recorded: a missing slot needs none.
    const compare = latest !== undefined || state?.skipped !== undefined
    let skipStands =
      state?.skipped !== undefined && state.skipped.codeVersion === spec.codeVersion && !state.lastFailed
    let lacksSkipped = false
    for (let j = 0; j < parents.length; j++) {
      const parent = parents[j]!
      const parentKey = graph.keys[parent]!
      const keys = upstreamKeys(node, partition, parent)
      inputs.push(keys)
      let anyPlanned = false
      if (keys === null) {
        const s = stepOf(parent, undefined)
        if (s >= 0) {
          upstream.push(s)
          anyPlanned = true
        }
        if (isSkipped(parent, undefined) && stateOf(parent, undefined)?.latest === undefined)
          lacksSkipped = true
      } else
        for (const k of keys) {
          const s = stepOf(parent, k)
          if (s >= 0) {
            upstream.push(s)
            anyPlanned = true
          }
          if (isSkipped(parent, k) && stateOf(parent, k)?.latest === undefined) lacksSkipped = true
        }
      if (anyPlanned) {
        planned = planned === undefined ? [parentKey] : [...planned, parentKey]
        skipStands = false
      } else if (compare) {
        const version =
          keys === null
            ? currentVersion(parent, undefined)
            : combinedVersion(keys, (k) => currentVersion(parent, k))
        if (latest !== undefined && latest.inputVersions[parentKey] !== version)
          changed = changed === undefined ? [parentKey] : [...changed, parentKey]
        if (state?.skipped !== undefined && state.skipped.inputVersions[parentKey] !== version)
          skipStands = false
      }
    }
    if (upstream.length > 1) upstream = [...new Set(upstream)].sort((a, b) => a - b)
    if (options.reexecuteFrom !== undefined)
      return {
        reasons: [{ _tag: "ReExecution", runId: options.reexecuteFrom }],
        conditional: false,
        upstream,
        inputs
      }
    const forced =
      force &&
      isTarget[node] === 1 &&
      (partition === undefined || requestedKeys.get(node)?.has(partition) === true)
    const valueInputs = spec.inputs.length > 0
    if (!forced && !state?.lastFailed && (skipStands || (valueInputs && lacksSkipped))) return "skip"
    const reasons: Array<StaleReason> = []
    let conditional = false
    if (latest === undefined && changed === undefined && planned === undefined)
      return { reasons: forced ? FORCED_MISSING : MISSING, conditional: false, upstream, inputs }
    if (forced) reasons.push(FORCED)
    if (latest === undefined) reasons.push(MISSING[0]!)
    else {
      if (latest.codeVersion !== spec.codeVersion)
        reasons.push({ _tag: "CodeVersionChanged", from: latest.codeVersion, to: spec.codeVersion })
      if (state!.lastFailed) reasons.push({ _tag: "FailedLastTime" })
      if (changed !== undefined) reasons.push({ _tag: "UpstreamDataChanged", upstream: changed })
      if (planned !== undefined) {
        conditional = reasons.length === 0
        reasons.push({ _tag: "UpstreamPlanned", upstream: planned })
      }
    }
    if (reasons.length === 0) return undefined
    return { reasons, conditional, upstream, inputs }
  }

  // For each node, (parent, position among its parents) of each value input: found once.
  const inputPositions = new Map<number, ReadonlyArray<readonly [number, number]>>()
  const positionsOf = (node: number) => {
    let positions = inputPositions.get(node)
    if (positions === undefined) {
      const parents = graph.parents[node]!
      positions = graph.specs[node]!.inputs.map((input) => {
        const parent = graph.indexOf(input.key)
        return [parent, parents.indexOf(parent)] as const
      })
      inputPositions.set(node, positions)
    }
    return positions
  }
  const markLoaded = (node: number, decision: Decision) => {
    for (const [parent, j] of positionsOf(node)) {
      if (needsValue[parent]) continue
      const keys = decision.inputs[j]
      const plannedAll =
        keys === null
          ? stepOf(parent, undefined) >= 0
          : keys.length > 0 && keys.every((k) => stepOf(parent, k) >= 0)
      if (!plannedAll) needsValue[parent] = 1
    }
  }

  for (let k = 0; k < order.length; k++) {
    const node = order[k]!
    if (!inClosure[node]) continue
    const spec = graph.specs[node]!
    if (spec.kind === "source") continue
    if (options.reexecuteFrom !== undefined && !isTarget[node]) continue
    if (!partitioned(node)) {
      if (!needFlag[node]) continue
      const decision = decide(node, undefined)
      if (decision === "skip") {
        skippedNode[node] = 1
        anySkipped = true
        continue
      }
      if (decision === undefined) continue
      if (!isTarget[node] && options.upstream === "load-only") {
        stale.push({ key: spec.key, reasons: decision.reasons.map(formatReason) })
        continue
      }
      markLoaded(node, decision)
      stepOfNode[node] = steps.length
      steps.push({
        key: spec.key,
        node,
        reasons: decision.reasons,
        conditional: decision.conditional,
        upstream: decision.upstream,
        pool: spec.pool,
        inputPartitions: decision.inputs
      })
      continue
    }
    const needed = needKeys[node]
    if (needed === undefined || needed.size === 0) continue
    const byPartition = new Map<string, number>()
    stepOfPartition.set(node, byPartition)
    const single = spec.singleRunBackfill === true
    const range: Array<{ partition: string; index: number; decision: Decision }> = []
    const nodeKeys = universe.keysOf(node)
    for (let index = 0; index < nodeKeys.length; index++) {
      const partition = nodeKeys[index]!
      if (!needed.has(partition)) continue
      own = [partition]
      const decision = decide(node, partition)
      if (decision === "skip") {
        const set = skippedSlots.get(node) ?? new Set<string>()
        skippedSlots.set(node, set)
        set.add(partition)
        anySkipped = true
        continue
      }
      if (decision === undefined) continue
      if (!isTarget[node] && options.upstream === "load-only") {
        stale.push({ key: `${spec.key}[${partition}]`, reasons: decision.reasons.map(formatReason) })
        continue
      }
      if (single) {
        range.push({ partition, index, decision })
        continue
      }
      markLoaded(node, decision)
      byPartition.set(partition, steps.length)
      steps.push({
        key: spec.key,
        node,
        partition,
        partitions: own,
        reasons: decision.reasons,
        conditional: decision.conditional,
        upstream: decision.upstream,
        pool: spec.pool,
        inputPartitions: decision.inputs
      })
    }
    // One step per contiguous run of stale partitions: it waits for everything any of them waits for.
    for (const run of contiguousRuns(range)) {
      const keys = run.map((r) => r.partition)
      const upstream = new Set<number>()
      const inputs = graph.parents[node]!.map((parent): ReadonlyArray<string> | null => {
        if (!partitioned(parent)) return null
        const all = new Set<string>()
        for (const r of run) for (const up of upstreamKeys(node, r.partition, parent)!) all.add(up)
        return universe.keysOf(parent).filter((key) => all.has(key))
      })
      for (const r of run) for (const s of r.decision.upstream) upstream.add(s)
      const decision: Decision = {
        reasons: run[0]!.decision.reasons,
        conditional: run.every((r) => r.decision.conditional),
        upstream: [...upstream].sort((a, b) => a - b),
        inputs
      }
      markLoaded(node, decision)
      for (const key of keys) byPartition.set(key, steps.length)
      steps.push({
        key: spec.key,
        node,
        partition: rangeLabel(keys),
        partitions: keys,
        singleRange: true,
        reasons: decision.reasons,
        conditional: decision.conditional,
        upstream: decision.upstream,
        pool: spec.pool,
        inputPartitions: inputs
      })
    }
  }
  if (stale.length > 0) throw new StaleUpstream({ stale })

  const loaded: Array<string> = []
  for (let i = 0; i < n; i++)
    if (needsValue[i] && graph.specs[i]!.kind === "asset") loaded.push(graph.keys[i]!)
  const targets: Array<string> = []
  for (let i = 0; i < n; i++) if (isTarget[i]) targets.push(graph.keys[i]!)
  return { steps, targets, loaded, partitionSteps: stepOfPartition }
}
