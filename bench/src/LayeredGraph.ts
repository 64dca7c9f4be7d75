/**
 * The graph shape every benchmark uses: layers of 100 assets, each asset (after the first layer)
 * wired to 2 or 3 parents in the previous layer at positions (i*7 + j*13) % 100. Deterministic, so
 * runs and machines compare; node i sits at layer ⌊i/100⌋, so index order is a topological order.
 */
import { type AssetSpec, noRetry } from "@materia/core"

export const LAYER_WIDTH = 100

export interface LayeredGraph {
  readonly size: number
  readonly keys: ReadonlyArray<string>
  /** Parent node indices of each node (all in the previous layer). */
  readonly parents: ReadonlyArray<ReadonlyArray<number>>
  /** Child node indices of each node (all in the next layer). */
  readonly children: ReadonlyArray<ReadonlyArray<number>>
}

/** `l000012_a07`: zero-padded so that key order is layer order. */
const keyOf = (layer: number, position: number): string =>
  `l${String(layer).padStart(6, "0")}_a${String(position).padStart(2, "0")}`

/** A layered graph of `size` nodes (a multiple of the layer width). */
export const layeredGraph = (size: number): LayeredGraph => {
  if (size % LAYER_WIDTH !== 0)
    throw new RangeError(`size must be a multiple of ${LAYER_WIDTH}, found ${size}`)
  const keys: Array<string> = []
  const parents: Array<Array<number>> = []
  const children: Array<Array<number>> = []
  for (let node = 0; node < size; node++) {
    const layer = Math.floor(node / LAYER_WIDTH)
    const position = node % LAYER_WIDTH
    keys.push(keyOf(layer, position))
    children.push([])
    const own: Array<number> = []
    if (layer > 0) {
      const fanIn = 2 + ((position + layer) % 2)
      // 13 and 26 are not multiples of 100, so the 2 or 3 parents are distinct.
      for (let j = 0; j < fanIn; j++)
        own.push((layer - 1) * LAYER_WIDTH + ((position * 7 + j * 13) % LAYER_WIDTH))
    }
    parents.push(own)
    for (const p of own) children[p]!.push(node)
  }
  return { size, keys, parents, children }
}

/** Edges of the graph. */
export const edgeCount = (graph: LayeredGraph): number =>
  graph.parents.reduce((sum, ps) => sum + ps.length, 0)

/** One plain asset spec per node: user code version, no retry, pool `default`, IO manager `memory`. */
export const layeredSpecs = (graph: LayeredGraph): Array<AssetSpec> =>
  graph.keys.map((key, node) => ({
    key,
    kind: "asset",
    inputs: graph.parents[node]!.map((p, j) => ({ name: `in${j}`, key: graph.keys[p]! })),
    deps: [],
    group: "default",
    tags: {},
    owners: [],
    metadata: {},
    codeVersion: "v1",
    codeVersionSource: "user",
    pool: "default",
    retry: noRetry,
    ioManager: "memory",
    hasConfig: false
  }))

/** The graph as a string-keyed adjacency map: each key's children. */
export const childrenByKey = (graph: LayeredGraph): Map<string, Array<string>> => {
  const map = new Map<string, Array<string>>()
  for (let node = 0; node < graph.size; node++)
    map.set(
      graph.keys[node]!,
      graph.children[node]!.map((c) => graph.keys[c]!)
    )
  return map
}
