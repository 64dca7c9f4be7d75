import { describe, expect, it } from "vitest"
import { testSpec } from "../testing/TestRuntime.ts"
import { AssetGraph } from "./AssetGraph.ts"
import { resolveSelection, SelectionError } from "./Selection.ts"

// raw → clean → features → model → report; side ← raw
const graph = AssetGraph.make([
  testSpec("raw", [], { group: "ingest", tags: { team: "data" } }),
  testSpec("clean", ["raw"], { group: "ingest", tags: { team: "data", pii: "yes" } }),
  testSpec("features", ["clean"], { group: "ml", tags: { team: "growth" } }),
  testSpec("ml/model", ["features"], { group: "ml" }),
  testSpec("report", ["ml/model"]),
  testSpec("side", ["raw"])
])
const select = (s: string | ReadonlyArray<string>) =>
  [...resolveSelection(graph, s)].map((i) => graph.keys[i]).sort()

describe("resolveSelection", () => {
  it("selects one key, a path key and a union", () => {
    expect(select("features")).toEqual(["features"])
    expect(select("ml/model")).toEqual(["ml/model"])
    expect(select("raw, report")).toEqual(["raw", "report"])
    expect(select(["raw", "side"])).toEqual(["raw", "side"])
  })

  it("selects upstream and downstream, whole or to a depth", () => {
    expect(select("+features")).toEqual(["clean", "features", "raw"])
    expect(select("1+features")).toEqual(["clean", "features"])
    expect(select("features+")).toEqual(["features", "ml/model", "report"])
    expect(select("features+1")).toEqual(["features", "ml/model"])
    expect(select("+features+1")).toEqual(["clean", "features", "ml/model", "raw"])
    expect(select("2+report")).toEqual(["features", "ml/model", "report"])
  })

  it("selects groups, tags, globs and everything", () => {
    expect(select("group:ingest")).toEqual(["clean", "raw"])
    expect(select("tag:team=data")).toEqual(["clean", "raw"])
    expect(select("tag:pii")).toEqual(["clean"])
    expect(select("ml/*")).toEqual(["ml/model"])
    expect(select("*")).toHaveLength(6)
  })

  it("rejects a key that matches nothing, naming the nearest keys", () => {
    expect(() => select("featurs")).toThrow(SelectionError)
    expect(() => select("featurs")).toThrow('no asset has key "featurs" (did you mean "features"?)')
    expect(() => select("+modle")).toThrow('did you mean "ml/model"')
  })

  it("rejects empty selections, unknown groups and tags, and garbage", () => {
    expect(() => select("")).toThrow("empty")
    expect(() => select("a,,b")).toThrow("empty term")
    expect(() => select("group:mll")).toThrow('no asset is in group "mll" (did you mean "ml"?)')
    expect(() => select("tag:team=grwoth")).toThrow('did you mean "team=growth"')
    expect(() => select("a++b")).toThrow("cannot parse")
    expect(() => select("nope/*")).toThrow('no asset key matches "nope/*"')
  })
})
