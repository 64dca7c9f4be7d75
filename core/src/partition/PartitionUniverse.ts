/**
 * The partitions of one graph at one moment: each node's definition, its keys (time windows closed
 * before `now`, dynamic keys as stored) and the mapping of each edge, computed once and cached.
 * The planner and the executor of one run share it, so both see the same keys.
 */
import type { AssetGraph } from "../graph/AssetGraph.ts"
import type { PartitionMappingSpec } from "../graph/AssetSpec.ts"
import { fastHash128 } from "../io/FastHash.ts"
import { type ResolvedMapping, resolveMapping } from "./PartitionMapping.ts"
import {
  type PartitionOptions,
  type PartitionsDefinition,
  partitionsFromSpec
} from "./PartitionsDefinition.ts"

export interface PartitionUniverse {
  readonly options: PartitionOptions
  /** Whether any node is partitioned. */
  readonly any: boolean
  readonly definitionOf: (node: number) => PartitionsDefinition | undefined
  /** Every key of a partitioned node, in order (empty for an unpartitioned one). */
  readonly keysOf: (node: number) => ReadonlyArray<string>
  /** Whether `key` is one of the node's keys. */
  readonly hasKey: (node: number, key: string) => boolean
  /**
   * How partitions of `node` depend on those of its parent `parent` (both partitioned), over every
   * input and dependency that reads it.
   */
  readonly mapping: (node: number, parent: number) => ResolvedMapping
  /** The mapping of one input of `node` (its own `mapping`, or the default). */
  readonly inputMapping: (
    node: number,
    parent: number,
    mapping: PartitionMappingSpec | undefined
  ) => ResolvedMapping
}

/** The union of several mappings of one parent, in the parent's key order. */
const unionOf = (
  mappings: ReadonlyArray<ResolvedMapping>,
  parentKeys: ReadonlyArray<string>
): ResolvedMapping => {
  const order = new Map(parentKeys.map((k, i) => [k, i]))
  return {
    kind: mappings[0]!.kind,
    upstreamOf: (key) => {
      const all = new Set<string>()
      for (const m of mappings) for (const k of m.upstreamOf(key)) all.add(k)
      return [...all].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0))
    }
  }
}

/** Builds the universe; definitions are parsed now, keys and mappings on first use. */
export const makePartitionUniverse = (graph: AssetGraph, options: PartitionOptions): PartitionUniverse => {
  const n = graph.size
  const definitions = new Array<PartitionsDefinition | undefined>(n)
  let any = false
  for (let i = 0; i < n; i++) {
    const spec = graph.specs[i]!.partitions
    if (spec !== undefined) {
      definitions[i] = partitionsFromSpec(spec)
      any = true
    }
  }
  const keys = new Array<ReadonlyArray<string> | undefined>(n)
  const mappings = new Map<number, ResolvedMapping>()
  const byInput = new Map<string, ResolvedMapping>()
  const mappingFor = (node: number, parent: number, mapping: PartitionMappingSpec | undefined) => {
    const id = `${node}:${parent}:${JSON.stringify(mapping ?? null)}`
    let m = byInput.get(id)
    if (m === undefined) {
      m = resolveMapping(
        { downstream: graph.keys[node]!, upstream: graph.keys[parent]! },
        definitions[node]!,
        definitions[parent]!,
        keysOf(parent),
        mapping
      )
      byInput.set(id, m)
    }
    return m
  }
  const keysOf = (node: number): ReadonlyArray<string> => {
    const definition = definitions[node]
    if (definition === undefined) return []
    keys[node] ??= definition.keys(options)
    return keys[node]
  }
  const keySets = new Array<ReadonlySet<string> | undefined>(n)
  return {
    options,
    any,
    definitionOf: (node) => definitions[node],
    keysOf,
    hasKey: (node, key) => {
      keySets[node] ??= new Set(keysOf(node))
      return keySets[node].has(key)
    },
    mapping: (node, parent) => {
      const id = node * n + parent
      let m = mappings.get(id)
      if (m === undefined) {
        const spec = graph.specs[node]!
        const parentKey = graph.keys[parent]!
        // Every way the node reads the parent (two inputs may map it differently): their union.
        const specs = spec.inputs.filter((i) => i.key === parentKey).map((i) => i.mapping)
        if (specs.length === 0) specs.push(undefined)
        const unique = [
          ...new Map(specs.map((mapping) => [JSON.stringify(mapping ?? null), mapping])).values()
        ]
        const resolved = unique.map((mapping) => mappingFor(node, parent, mapping))
        m = resolved.length === 1 ? resolved[0]! : unionOf(resolved, keysOf(parent))
        mappings.set(id, m)
      }
      return m
    },
    inputMapping: (node, parent, mapping) => mappingFor(node, parent, mapping)
  }
}

/**
 * The version an input slot stands for: one upstream partition's data version, or, when a step
 * reads several (a month of days, all partitions), one hash of all of theirs in key order.
 */
export const combinedVersion = (
  keys: ReadonlyArray<string>,
  versionOf: (partition: string) => string
): string => {
  if (keys.length === 1) return versionOf(keys[0]!)
  let text = `${keys.length}`
  for (const k of keys) text += `\n${k}=${versionOf(k)}`
  return `partitions:${fastHash128(text)}`
}

/** The label of a step over several partitions (a single-run backfill): `first...last`. */
export const rangeLabel = (keys: ReadonlyArray<string>): string =>
  keys.length === 1 ? keys[0]! : `${keys[0]!}...${keys[keys.length - 1]!}`
