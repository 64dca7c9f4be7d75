import { describe, expect, it } from "vitest"
import { testSpec } from "../testing/TestRuntime.ts"
import { AssetGraph } from "./AssetGraph.ts"
import { assetsDefinedIn } from "./ChangedSince.ts"

const graph = AssetGraph.make([
  testSpec("raw", [], { definedIn: "/repo/ingest.ts" }),
  testSpec("clean", ["raw"], { definedIn: "/repo/ingest.ts" }),
  testSpec("features", ["clean"], { definedIn: "/repo/ml/features.ts" }),
  testSpec("model", ["features"], { definedIn: "/repo/ml/model.ts" }),
  testSpec("legacy", [])
])
const keys = (files: ReadonlyArray<string>) =>
  assetsDefinedIn(graph, new Set(files)).map((i) => graph.keys[i])

describe("assetsDefinedIn", () => {
  it("selects every asset defined in a changed file, in index order", () => {
    expect(keys(["/repo/ingest.ts"])).toEqual(["clean", "raw"])
    expect(keys(["/repo/ml/model.ts", "/repo/ingest.ts"])).toEqual(["clean", "model", "raw"])
  })

  it("selects nothing for files that define no asset, and never an asset without definedIn", () => {
    expect(keys([])).toEqual([])
    expect(keys(["/repo/README.md", "/repo/ml"])).toEqual([])
    expect(keys(["/elsewhere/ingest.ts", "ingest.ts"])).toEqual([])
  })
})
