/**
 * The validated asset graph: specs indexed in key order, parent and child adjacency, and one
 * deterministic topological order (Kahn's algorithm, ties broken by key). Built once per project;
 * selection and planning read it, never the definitions.
 */
import type { AssetSpec } from "./AssetSpec.ts"
import { DependencyCycle, DuplicateAssetKey, UnknownDependency } from "./GraphErrors.ts"
import { MinHeap } from "./MinHeap.ts"
import { didYouMean } from "./Suggest.ts"

export class AssetGraph {
  /** Keys in sorted order; a node's index is its position here. */
  readonly keys: ReadonlyArray<string>
  readonly specs: ReadonlyArray<AssetSpec>
  /** Upstream node indices of each node (value inputs and ordering-only deps), sorted, unique. */
  readonly parents: ReadonlyArray<ReadonlyArray<number>>
  /** Downstream node indices of each node, sorted. */
  readonly children: ReadonlyArray<ReadonlyArray<number>>
  /** Every node index in topological order; ties broken by key. */
  readonly topologicalOrder: Int32Array
  /** Position of each node in `topologicalOrder`. */
  readonly rank: Int32Array
  private readonly indexByKey: Map<string, number>

  private constructor(
    keys: ReadonlyArray<string>,
    specs: ReadonlyArray<AssetSpec>,
    indexByKey: Map<string, number>,
    parents: ReadonlyArray<ReadonlyArray<number>>,
    children: ReadonlyArray<ReadonlyArray<number>>,
    topologicalOrder: Int32Array
  ) {
    this.keys = keys
    this.specs = specs
    this.indexByKey = indexByKey
    this.parents = parents
    this.children = children
    this.topologicalOrder = topologicalOrder
    const rank = new Int32Array(keys.length)
    for (let i = 0; i < topologicalOrder.length; i++) rank[topologicalOrder[i]!] = i
    this.rank = rank
  }

  /**
   * Validates and indexes the specs. Throws `DuplicateAssetKey`, `UnknownDependency` (with the
   * nearest known keys) or `DependencyCycle` (with the whole path).
   */
  static make(specs: Iterable<AssetSpec>): AssetGraph {
    const sorted = [...specs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const n = sorted.length
    const keys = new Array<string>(n)
    const indexByKey = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      const key = sorted[i]!.key
      if (indexByKey.has(key)) throw new DuplicateAssetKey({ key })
      keys[i] = key
      indexByKey.set(key, i)
    }
    const parents = new Array<Array<number>>(n)
    const childLists = new Array<Array<number>>(n)
    for (let i = 0; i < n; i++) childLists[i] = []
    for (let i = 0; i < n; i++) {
      const spec = sorted[i]!
      const upstream: Array<number> = []
      const add = (dependency: string) => {
        const p = indexByKey.get(dependency)
        if (p === undefined)
          throw new UnknownDependency({ key: spec.key, dependency, suggestion: didYouMean(dependency, keys) })
        if (p === i) throw new DependencyCycle({ path: [spec.key, spec.key] })
        upstream.push(p)
      }
      for (const input of spec.inputs) add(input.key)
      for (const dep of spec.deps) add(dep)
      upstream.sort((a, b) => a - b)
      const unique = upstream.filter((p, k) => k === 0 || upstream[k - 1] !== p)
      parents[i] = unique
      for (const p of unique) childLists[p]!.push(i)
    }
    const topologicalOrder = kahn(parents, childLists)
    if (topologicalOrder.length < n)
      throw new DependencyCycle({ path: findCycle(parents, topologicalOrder, keys) })
    return new AssetGraph(keys, sorted, indexByKey, parents, childLists, topologicalOrder)
  }

  get size(): number {
    return this.keys.length
  }

  /** The node index of a key, or -1. */
  indexOf(key: string): number {
    return this.indexByKey.get(key) ?? -1
  }

  has(key: string): boolean {
    return this.indexByKey.has(key)
  }

  /** The spec of a key; throws for an unknown key (callers validate selections first). */
  spec(key: string): AssetSpec {
    const i = this.indexByKey.get(key)
    if (i === undefined) throw new Error(`unknown asset key "${key}"${didYouMean(key, this.keys)}`)
    return this.specs[i]!
  }

  /** Every upstream node of `roots` within `depth` hops (roots excluded unless reached again). */
  upstreamOf(roots: Iterable<number>, depth = Number.POSITIVE_INFINITY): Set<number> {
    return walk(roots, this.parents, depth)
  }

  /** Every downstream node of `roots` within `depth` hops. */
  downstreamOf(roots: Iterable<number>, depth = Number.POSITIVE_INFINITY): Set<number> {
    return walk(roots, this.children, depth)
  }
}

/** Kahn's algorithm with a min-heap, so ties are broken by index (= key order). */
const kahn = (
  parents: ReadonlyArray<ReadonlyArray<number>>,
  children: ReadonlyArray<ReadonlyArray<number>>
): Int32Array => {
  const n = parents.length
  const indegree = new Int32Array(n)
  const heap = new MinHeap(n)
  for (let i = 0; i < n; i++) {
    indegree[i] = parents[i]!.length
    if (indegree[i] === 0) heap.push(i)
  }
  const order = new Int32Array(n)
  let count = 0
  while (heap.size > 0) {
    const node = heap.pop()
    order[count++] = node
    for (const child of children[node]!) if (--indegree[child] === 0) heap.push(child)
  }
  return count === n ? order : order.subarray(0, count)
}

/** A cycle among the nodes Kahn could not order, as keys in dependency direction, closed. */
const findCycle = (
  parents: ReadonlyArray<ReadonlyArray<number>>,
  ordered: Int32Array,
  keys: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const done = new Uint8Array(parents.length)
  for (const i of ordered) done[i] = 1
  let start = 0
  while (done[start]) start++
  // Every unordered node has an unordered parent; walking parents must revisit a node.
  const seenAt = new Map<number, number>()
  const walkBack: Array<number> = []
  let node = start
  while (!seenAt.has(node)) {
    seenAt.set(node, walkBack.length)
    walkBack.push(node)
    node = parents[node]!.find((p) => !done[p])!
  }
  const cycle = walkBack.slice(seenAt.get(node)!).reverse()
  // Start the printed path at the smallest key for a stable message.
  let smallest = 0
  for (let k = 1; k < cycle.length; k++) if (cycle[k]! < cycle[smallest]!) smallest = k
  const rotated = [...cycle.slice(smallest), ...cycle.slice(0, smallest)]
  return [...rotated, rotated[0]!].map((i) => keys[i]!)
}

const walk = (
  roots: Iterable<number>,
  edges: ReadonlyArray<ReadonlyArray<number>>,
  depth: number
): Set<number> => {
  const seen = new Set<number>()
  let frontier = [...roots]
  for (let level = 0; level < depth && frontier.length > 0; level++) {
    const next: Array<number> = []
    for (const node of frontier)
      for (const neighbour of edges[node]!)
        if (!seen.has(neighbour)) {
          seen.add(neighbour)
          next.push(neighbour)
        }
    frontier = next
  }
  return seen
}
