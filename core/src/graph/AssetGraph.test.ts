import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { testGraph, testSpec } from "../testing/TestRuntime.ts"
import { AssetGraph } from "./AssetGraph.ts"
import { assetKeySegments, assetKeyToString, InvalidAssetKey } from "./AssetKey.ts"
import { DependencyCycle, DuplicateAssetKey, UnknownDependency } from "./GraphErrors.ts"

describe("AssetGraph", () => {
  it("indexes keys in sorted order with parent and child lists", () => {
    const g = testGraph({ d: ["b", "c"], b: ["a"], c: ["a"], a: [] })
    expect(g.keys).toEqual(["a", "b", "c", "d"])
    expect(g.parents[g.indexOf("d")]!.map((i) => g.keys[i])).toEqual(["b", "c"])
    expect(g.children[g.indexOf("a")]!.map((i) => g.keys[i])).toEqual(["b", "c"])
    expect([...g.topologicalOrder].map((i) => g.keys[i])).toEqual(["a", "b", "c", "d"])
  })

  it("breaks topological ties by key", () => {
    const g = testGraph({ zeta: [], alpha: [], mid: ["zeta"], beta: ["alpha"] })
    expect([...g.topologicalOrder].map((i) => g.keys[i])).toEqual(["alpha", "beta", "zeta", "mid"])
  })

  it("rejects duplicate keys", () => {
    expect(() => AssetGraph.make([testSpec("a"), testSpec("a")])).toThrow(DuplicateAssetKey)
    expect(() => AssetGraph.make([testSpec("a"), testSpec("a")])).toThrow('duplicate asset key "a"')
  })

  it("rejects an unknown dependency and suggests the nearest key", () => {
    const make = () => testGraph({ features: [], model: ["featurs"] })
    expect(make).toThrow(UnknownDependency)
    expect(make).toThrow('unknown dependency "featurs" of asset "model" (did you mean "features"?)')
  })

  it("rejects a cycle and prints the whole path", () => {
    const make = () => testGraph({ a: ["c"], b: ["a"], c: ["b"], d: [] })
    expect(make).toThrow(DependencyCycle)
    expect(make).toThrow("dependency cycle: a → b → c → a")
    expect(() => testGraph({ a: ["a"] })).toThrow("dependency cycle: a → a")
  })

  it("finds a cycle hanging below an acyclic part", () => {
    try {
      testGraph({ root: [], x: ["root", "z"], y: ["x"], z: ["y"], w: ["z"] })
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(DependencyCycle)
      expect((e as DependencyCycle).path).toEqual(["x", "y", "z", "x"])
    }
  })

  it("orders every edge parent-first in random DAGs", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 40 })
          .chain((n) =>
            fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: n * 3 }))
          ),
        ([n, pairs]) => {
          const edges: Record<string, Array<string>> = {}
          for (let i = 0; i < n; i++) edges[`n${i}`] = []
          // Edges only from a lower to a higher number: always acyclic.
          for (const [x, y] of pairs)
            if (x < y && !edges[`n${y}`]!.includes(`n${x}`)) edges[`n${y}`]!.push(`n${x}`)
          const g = testGraph(edges)
          for (let node = 0; node < g.size; node++)
            for (const p of g.parents[node]!) expect(g.rank[p]!).toBeLessThan(g.rank[node]!)
          expect(new Set(g.topologicalOrder).size).toBe(n)
        }
      )
    )
  })
})

describe("asset keys", () => {
  it("joins path keys with /", () => {
    expect(assetKeyToString("orders")).toBe("orders")
    expect(assetKeyToString(["ml", "model"])).toBe("ml/model")
    expect(assetKeySegments("ml/model")).toEqual(["ml", "model"])
  })

  it.each([
    ["", "empty"],
    ["   ", "whitespace"],
    ["a/b", "path separator"],
    ["a\\b", "path separator"],
    ["..", '".."'],
    ["x..y", '".."'],
    [".hidden", "must start with"],
    ["a b", "must start with"]
  ])("rejects %j (%s)", (key, reason) => {
    expect(() => assetKeyToString(key)).toThrow(InvalidAssetKey)
    expect(() => assetKeyToString(key)).toThrow(reason)
  })

  it("rejects unsafe path segments and empty paths", () => {
    expect(() => assetKeyToString(["ml", ".."])).toThrow('".."')
    expect(() => assetKeyToString(["ml", ""])).toThrow("empty")
    expect(() => assetKeyToString([] as unknown as [string])).toThrow("at least one segment")
    expect(() => assetKeySegments("ml/../etc")).toThrow(InvalidAssetKey)
  })
})
