import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { AssetGraph } from "../graph/AssetGraph.ts"
import { resolveSelection } from "../graph/Selection.ts"
import { testGraph, testSpec } from "../testing/TestRuntime.ts"
import { formatReason, plan, StaleUpstream } from "./Planner.ts"
import type { AssetState, Snapshot } from "./Snapshot.ts"

const diamond = testGraph({ a: [], b: ["a"], c: ["a"], d: ["b", "c"] })

/** A snapshot in which every asset of `graph` is fresh (version = key@v1). */
const freshSnapshot = (graph: AssetGraph): Map<string, AssetState> =>
  new Map(
    graph.keys.map((key, i) => [
      key,
      {
        lastFailed: false,
        latest: {
          dataVersion: `${key}@v1`,
          codeVersion: graph.specs[i]!.codeVersion,
          inputVersions: Object.fromEntries(
            graph.parents[i]!.map((p) => [graph.keys[p]!, `${graph.keys[p]}@v1`])
          )
        }
      }
    ])
  )

const planOf = (graph: AssetGraph, selection: string, snapshot: Snapshot, force = false) =>
  plan(graph, resolveSelection(graph, selection), snapshot, { force })
const summary = (p: ReturnType<typeof plan>) =>
  p.steps.map((s) => `${s.key}: ${s.reasons.map(formatReason).join("; ")}`)

describe("plan", () => {
  it("plans everything missing, upstream first, ties by key", () => {
    const p = planOf(diamond, "d", new Map())
    expect(summary(p)).toEqual(["a: missing", "b: missing", "c: missing", "d: missing"])
    expect(p.steps.map((s) => s.upstream)).toEqual([[], [0], [0], [1, 2]])
    expect(p.targets).toEqual(["d"])
  })

  it("plans nothing when everything is fresh, and loads nothing", () => {
    const p = planOf(diamond, "d", freshSnapshot(diamond))
    expect(p.steps).toEqual([])
  })

  it("plans a code change and, conditionally, its downstream", () => {
    const snapshot = freshSnapshot(diamond)
    const b = snapshot.get("b")!
    snapshot.set("b", { ...b, latest: { ...b.latest!, codeVersion: "old" } })
    const p = planOf(diamond, "d", snapshot)
    expect(summary(p)).toEqual([
      "b: code version changed (old → v1)",
      "d: upstream will be re-materialized: b"
    ])
    expect(p.steps.map((s) => s.conditional)).toEqual([false, true])
    expect(p.loaded).toEqual(["a", "c"])
  })

  it("plans a step whose upstream data changed since it was made", () => {
    const snapshot = freshSnapshot(diamond)
    const c = snapshot.get("c")!
    snapshot.set("c", { ...c, latest: { ...c.latest!, dataVersion: "c@v2" } })
    expect(summary(planOf(diamond, "d", snapshot))).toEqual(["d: upstream data changed: c"])
  })

  it("plans a step that failed last time, and forced targets", () => {
    const snapshot = freshSnapshot(diamond)
    snapshot.set("a", { ...snapshot.get("a")!, lastFailed: true })
    expect(summary(planOf(diamond, "a", snapshot))).toEqual(["a: failed last time"])
    expect(summary(planOf(diamond, "b", freshSnapshot(diamond), true))).toEqual(["b: forced"])
  })

  it("does not plan selected upstream that is fresh; it is loaded", () => {
    const snapshot = freshSnapshot(diamond)
    snapshot.delete("d")
    const p = planOf(diamond, "+d", snapshot)
    expect(summary(p)).toEqual(["d: missing"])
    expect(p.loaded).toEqual(["b", "c"])
  })

  it("never plans source assets; a changed observation makes downstream stale", () => {
    const graph = AssetGraph.make([testSpec("raw", [], { kind: "source" }), testSpec("clean", ["raw"])])
    const snapshot = freshSnapshot(graph)
    snapshot.set("raw", {
      lastFailed: false,
      latest: { dataVersion: "etag-2", codeVersion: "", inputVersions: {} }
    })
    expect(summary(planOf(graph, "clean", snapshot))).toEqual(["clean: upstream data changed: raw"])
    expect(planOf(graph, "raw", snapshot).steps).toEqual([])
  })

  it("refuses stale upstream when upstream is load-only", () => {
    const snapshot = freshSnapshot(diamond)
    snapshot.delete("a")
    expect(() => plan(diamond, resolveSelection(diamond, "d"), snapshot, { upstream: "load-only" })).toThrow(
      StaleUpstream
    )
    expect(() => plan(diamond, resolveSelection(diamond, "d"), snapshot, { upstream: "load-only" })).toThrow(
      "a: missing"
    )
  })

  it("re-executes exactly the given steps, loading the rest as stored", () => {
    const snapshot = freshSnapshot(diamond)
    snapshot.delete("a") // even a missing upstream is not planned: it is loaded as stored
    const p = plan(diamond, [diamond.indexOf("b"), diamond.indexOf("d")], snapshot, {
      reexecuteFrom: "run-1"
    })
    expect(summary(p)).toEqual(["b: re-executed from run run-1", "d: re-executed from run run-1"])
    expect(p.steps[1]!.upstream).toEqual([0])
    expect(p.loaded).toEqual(["a", "c"])
  })

  it("does not plan a skipped branch again until what it saw changes, nor what needs its value", () => {
    // evaluate → deploy → notify; deploy skipped having seen evaluate@v1.
    const graph = testGraph({ evaluate: [], deploy: ["evaluate"], notify: ["deploy"] })
    const snapshot = freshSnapshot(graph)
    const decision = { codeVersion: "v1", inputVersions: { evaluate: "evaluate@v1" } }
    snapshot.set("deploy", { lastFailed: false, skipped: decision })
    snapshot.delete("notify")
    expect(planOf(graph, "+notify", snapshot).steps).toEqual([])
    // A new evaluation: deploy decides again, and notify may follow.
    const e = snapshot.get("evaluate")!
    snapshot.set("evaluate", { ...e, latest: { ...e.latest!, dataVersion: "evaluate@v2" } })
    expect(summary(planOf(graph, "+notify", snapshot))).toEqual(["deploy: missing", "notify: missing"])
    // A code change of deploy, or --force, also re-plans it.
    snapshot.set("evaluate", e)
    snapshot.set("deploy", { lastFailed: false, skipped: { ...decision, codeVersion: "v0" } })
    expect(summary(planOf(graph, "deploy", snapshot))).toEqual(["deploy: missing"])
    snapshot.set("deploy", { lastFailed: false, skipped: decision })
    expect(summary(planOf(graph, "deploy", snapshot, true))).toEqual(["deploy: forced; missing"])
  })

  it("is pure: the same inputs give the same plan", () => {
    const snapshot = freshSnapshot(diamond)
    snapshot.delete("b")
    expect(planOf(diamond, "*", snapshot)).toEqual(planOf(diamond, "*", snapshot))
  })

  it("covers exactly the stale upstream closure of +key, in an order that respects every edge", () => {
    const arbitrary = fc.integer({ min: 1, max: 30 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: n * 3 }),
        state: fc.array(fc.constantFrom("fresh", "missing", "code", "failed", "input"), {
          minLength: n,
          maxLength: n
        }),
        target: fc.nat(n - 1)
      })
    )
    fc.assert(
      fc.property(arbitrary, ({ n, edges, state, target }) => {
        const spec: Record<string, Array<string>> = {}
        for (let i = 0; i < n; i++) spec[`k${String(i).padStart(2, "0")}`] = []
        const keyOf = (i: number) => `k${String(i).padStart(2, "0")}`
        for (const [x, y] of edges)
          if (x < y && !spec[keyOf(y)]!.includes(keyOf(x))) spec[keyOf(y)]!.push(keyOf(x))
        const graph = testGraph(spec)
        const snapshot = freshSnapshot(graph)
        graph.keys.forEach((key, i) => {
          const s = state[i]!
          const entry = snapshot.get(key)!
          if (s === "missing") snapshot.delete(key)
          else if (s === "code")
            snapshot.set(key, { ...entry, latest: { ...entry.latest!, codeVersion: "old" } })
          else if (s === "failed") snapshot.set(key, { ...entry, lastFailed: true })
          else if (s === "input" && graph.parents[i]!.length > 0)
            snapshot.set(key, { ...entry, latest: { ...entry.latest!, inputVersions: {} } })
        })
        const targetKey = keyOf(target)
        const p = planOf(graph, `+${targetKey}`, snapshot)
        // The reference: a node of the closure is stale if its own state is, or any parent is.
        const closure = new Set([graph.indexOf(targetKey), ...graph.upstreamOf([graph.indexOf(targetKey)])])
        const stale = new Map<number, boolean>()
        const isStale = (i: number): boolean => {
          const known = stale.get(i)
          if (known !== undefined) return known
          const own = state[i] !== "fresh" && !(state[i] === "input" && graph.parents[i]!.length === 0)
          const result = own || graph.parents[i]!.some(isStale)
          stale.set(i, result)
          return result
        }
        const expected = [...closure]
          .filter(isStale)
          .map((i) => graph.keys[i]!)
          .sort()
        expect(p.steps.map((s) => s.key).sort()).toEqual(expected)
        const position = new Map(p.steps.map((s, i) => [s.node, i]))
        for (const step of p.steps)
          for (const parent of graph.parents[step.node]!)
            if (position.has(parent)) expect(position.get(parent)!).toBeLessThan(position.get(step.node)!)
      }),
      { numRuns: 300 }
    )
  })
})
