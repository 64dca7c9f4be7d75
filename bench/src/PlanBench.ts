/**
 * Benchmark 1, planning: `AssetGraph.make`, then a full selection (`*`) and `plan()` with an empty
 * snapshot, on layered graphs of 10,000 and 100,000 assets, against a bare string-keyed Kahn sort of
 * the same graph. Runs in the calling process.
 */
import { AssetGraph, type AssetSpec, plan, resolveSelection } from "@materia/core"
import { kahnByKey } from "./Floors.ts"
import { childrenByKey, edgeCount, layeredGraph, layeredSpecs } from "./LayeredGraph.ts"
import {
  count,
  type Figure,
  figure,
  type Goal,
  micros,
  ms,
  pairedRatio,
  RUNS,
  type Section,
  sampleRounds,
  times,
  WARMUP_ROUNDS
} from "./Measure.ts"

const SIZES = [10_000, 100_000] as const
const PLAN_GOAL = 3
/**
 * Linear growth: the plan's per-asset time from 10k to 100k may grow at most 1.5× as much as the
 * floor's. The floor is linear, so its growth is the machine's (caches, GC); quadratic work would
 * grow about 10×.
 */
const GROWTH_GOAL = 1.5

interface SizeResult {
  readonly size: number
  readonly edges: number
  readonly make: Figure
  readonly selection: Figure
  readonly planOnly: Figure
  /** Selection + plan, timed as one figure: the one held to the goal. */
  readonly selectAndPlan: Figure
  readonly floor: Figure
  /** Per-round ratios over the floor (see pairedRatio). */
  readonly planOverFloor: Figure
  readonly makeOverFloor: Figure
}

const measureSize = (size: number): SizeResult => {
  const shape = layeredGraph(size)
  const specs: ReadonlyArray<AssetSpec> = layeredSpecs(shape)
  const adjacency = childrenByKey(shape)

  let graph = AssetGraph.make(specs)
  let selected = resolveSelection(graph, "*")
  let ordered = 0
  let steps = 0
  const samples = sampleRounds(RUNS, {
    floor: () => {
      ordered = kahnByKey(adjacency).length
    },
    make: () => {
      graph = AssetGraph.make(specs)
    },
    selectAndPlan: () => {
      steps = plan(graph, resolveSelection(graph, "*"), new Map()).steps.length
    },
    selection: () => {
      selected = resolveSelection(graph, "*")
    },
    planOnly: () => {
      plan(graph, selected, new Map())
    }
  })
  if (ordered !== size) throw new Error(`the floor ordered ${ordered} of ${size} keys`)
  if (steps !== size) throw new Error(`the plan has ${steps} steps, expected ${size}`)
  const floor = figure(samples.floor)
  const make = figure(samples.make)
  const selectAndPlan = figure(samples.selectAndPlan)
  const selection = figure(samples.selection)
  const planOnly = figure(samples.planOnly)
  return {
    size,
    edges: edgeCount(shape),
    make,
    selection,
    planOnly,
    selectAndPlan,
    floor,
    planOverFloor: pairedRatio(samples.selectAndPlan, samples.floor),
    makeOverFloor: pairedRatio(samples.make, samples.floor)
  }
}

const both = (f: Figure) => `${ms(f.wall)} / ${ms(f.cpu)}`
const ratio = (r: Figure) => `${times(r.wall)} / ${times(r.cpu)}`

/** Runs the planning benchmark. */
export const planBench = (): Section => {
  const results = SIZES.map(measureSize)
  const small = results[0]!
  const large = results[results.length - 1]!
  const perAsset = (millis: number, size: number) => (millis * 1000) / size
  const growth = (pick: (r: SizeResult) => Figure) =>
    perAsset(pick(large).wall, large.size) / perAsset(pick(small).wall, small.size)

  const rows = results.map((r) => [
    count(r.size),
    count(r.edges),
    both(r.make),
    both(r.selection),
    both(r.planOnly),
    both(r.selectAndPlan),
    both(r.floor),
    ratio(r.planOverFloor),
    ratio(r.makeOverFloor)
  ])
  const figures = [
    ["AssetGraph.make", (r: SizeResult) => r.make],
    ["selection + plan()", (r: SizeResult) => r.selectAndPlan],
    ["plan() alone", (r: SizeResult) => r.planOnly],
    ["Kahn floor", (r: SizeResult) => r.floor]
  ] as const
  const growthRows = figures.map(([name, pick]) => [
    name,
    micros(perAsset(pick(small).wall, small.size)),
    micros(perAsset(pick(large).wall, large.size)),
    times(growth(pick))
  ])

  const planRatio = large.planOverFloor.wall
  const planGrowth = growth((r) => r.selectAndPlan)
  const floorGrowth = growth((r) => r.floor)
  const goals: Array<Goal> = [
    {
      name: `plan (selection * + plan()) of ${count(large.size)} assets vs the Kahn floor`,
      target: `≤ ${PLAN_GOAL}×`,
      actual:
        `${ms(large.selectAndPlan.wall)} ms vs ${ms(large.floor.wall)} ms, ratio ${times(planRatio)} ` +
        `(CPU time: ${times(large.planOverFloor.cpu)})`,
      met: planRatio <= PLAN_GOAL
    },
    {
      name: `linear growth of plan: per-asset time at ${count(large.size)} over ${count(small.size)}`,
      target: `≤ ${GROWTH_GOAL} × the floor's growth`,
      actual: `${times(planGrowth)} vs the floor's ${times(floorGrowth)} = ${(planGrowth / floorGrowth).toFixed(2)} × the floor's growth`,
      met: planGrowth <= GROWTH_GOAL * floorGrowth
    }
  ]
  return {
    title: "1. Planning a layered graph",
    summary:
      `Layers of 100 assets, each with 2–3 parents in the previous layer; full selection \`*\` through ` +
      `\`resolveSelection\`, \`plan()\` with an empty snapshot (every step \`missing\`). Each cell is ` +
      `wall ms / CPU ms, medians of ${RUNS} rounds (each round runs every figure once, after a full GC) ` +
      `after ${WARMUP_ROUNDS} warm-up rounds; ratios (wall / CPU) are medians of the per-round ratios. Floor: Kahn's ` +
      `algorithm over a \`Map<string, string[]>\` of children with a plain queue (indegrees computed inside ` +
      `the timing, the adjacency map built before it, as the AssetGraph is built before planning).`,
    tables: [
      {
        header: [
          "assets",
          "edges",
          "AssetGraph.make",
          "resolveSelection(*)",
          "plan()",
          "selection + plan",
          "Kahn floor",
          "plan / floor",
          "make / floor"
        ],
        rows
      },
      {
        caption: "Per-asset wall time (µs) and its growth from 10k to 100k (1.00× = linear):",
        header: ["figure", `µs/asset @ ${count(small.size)}`, `µs/asset @ ${count(large.size)}`, "growth"],
        rows: growthRows
      }
    ],
    goals,
    notes: [
      "AssetGraph.make (sorting, validation, indexing and its own topological order) is reported apart and held to no goal.",
      "CPU time counts every thread of the process, garbage-collector helpers included, so it can exceed wall time."
    ]
  }
}
