import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { testSpec } from "../testing/TestRuntime.ts"
import { AssetGraph } from "./AssetGraph.ts"
import { changedSinceRefs, resolveSelection, SelectionError } from "./Selection.ts"

// raw → clean → features → model → report; side ← raw
const graph = AssetGraph.make([
  testSpec("raw", [], { group: "ingest", tags: { team: "data" }, definedIn: "/repo/ingest.ts" }),
  testSpec("clean", ["raw"], {
    group: "ingest",
    tags: { team: "data", pii: "yes" },
    definedIn: "/repo/ingest.ts"
  }),
  testSpec("features", ["clean"], { group: "ml", tags: { team: "growth" }, definedIn: "/repo/ml.ts" }),
  testSpec("ml/model", ["features"], { group: "ml", definedIn: "/repo/model.ts" }),
  testSpec("report", ["ml/model"], { definedIn: "/repo/report.ts" }),
  testSpec("side", ["raw"])
])
const select = (s: string | ReadonlyArray<string>) =>
  [...resolveSelection(graph, s)].map((i) => graph.keys[i]).sort()

const changedFiles = new Map<string, ReadonlySet<string>>([
  ["origin/main", new Set(["/repo/ml.ts", "/repo/README.md"])],
  ["HEAD~2", new Set(["/repo/report.ts"])],
  ["release/v1.2-rc^", new Set(["/repo/ingest.ts"])],
  ["feat+x", new Set(["/repo/model.ts"])],
  ["docs-only", new Set(["/repo/README.md"])],
  ["nothing", new Set<string>()]
])
const selectChanged = (s: string | ReadonlyArray<string>) =>
  [...resolveSelection(graph, s, { changedFiles })].map((i) => graph.keys[i]).sort()

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

  it("selects the assets defined in files changed since a ref, with + and depth affixes", () => {
    expect(selectChanged("changed-since:origin/main")).toEqual(["features"])
    expect(selectChanged("changed-since:origin/main+")).toEqual(["features", "ml/model", "report"])
    expect(selectChanged("changed-since:origin/main+1")).toEqual(["features", "ml/model"])
    expect(selectChanged("+changed-since:origin/main")).toEqual(["clean", "features", "raw"])
    expect(selectChanged("1+changed-since:origin/main+1")).toEqual(["clean", "features", "ml/model"])
    expect(selectChanged("2+changed-since:HEAD~2")).toEqual(["features", "ml/model", "report"])
    expect(selectChanged("changed-since:release/v1.2-rc^")).toEqual(["clean", "raw"])
    expect(selectChanged("changed-since:release/v1.2-rc^+1")).toEqual(["clean", "features", "raw", "side"])
  })

  it("reads a + inside a ref as part of it, and a trailing + or +N always as the operator", () => {
    expect(selectChanged("changed-since:feat+x")).toEqual(["ml/model"])
    expect(selectChanged("changed-since:feat+x+")).toEqual(["ml/model", "report"])
    expect(changedSinceRefs("changed-since:feat+x+2")).toEqual(["feat+x"])
    expect(changedSinceRefs("changed-since:main+2")).toEqual(["main"])
    expect(changedSinceRefs("3+changed-since:a/b-c.d~1^2+")).toEqual(["a/b-c.d~1^2"])
  })

  it("unions changed-since terms with other terms; a term that matches nothing selects nothing", () => {
    expect(selectChanged("changed-since:docs-only")).toEqual([])
    expect(selectChanged("changed-since:nothing+")).toEqual([])
    expect(selectChanged(["changed-since:docs-only", "changed-since:nothing"])).toEqual([])
    expect(selectChanged("side, changed-since:HEAD~2")).toEqual(["report", "side"])
    expect(selectChanged(["changed-since:HEAD~2", "changed-since:origin/main"])).toEqual([
      "features",
      "report"
    ])
  })

  it("lists the refs a selection needs, each once", () => {
    expect(changedSinceRefs("raw,+model")).toEqual([])
    expect(
      changedSinceRefs(["changed-since:main+", "raw, 2+changed-since:HEAD~1", "changed-since:main"])
    ).toEqual(["main", "HEAD~1"])
    expect(() => changedSinceRefs("a,,b")).toThrow(SelectionError)
  })

  it("rejects changed-since without the changed files, without a ref, or with an option-like ref", () => {
    expect(() => select("changed-since:origin/main+")).toThrow(SelectionError)
    expect(() => select("changed-since:origin/main+")).toThrow(
      'needs the files changed since git ref "origin/main", and none were given'
    )
    expect(() => selectChanged("changed-since:unknown")).toThrow('git ref "unknown"')
    expect(() => selectChanged("changed-since:")).toThrow("names no git ref")
    expect(() => selectChanged("changed-since:+")).toThrow("names no git ref")
    expect(() => selectChanged("changed-since:main++")).toThrow("cannot end in +")
    expect(() => selectChanged("changed-since:--output=/tmp/x")).toThrow("starts with -")
    expect(() => changedSinceRefs("changed-since:-p")).toThrow("starts with -")
  })

  it("parses every ref back with any affixes (property)", () => {
    const refChar = fc.constantFrom(..."abcXYZ019/~^.-_@{}:+".split(""))
    // a ref: not empty, not starting with -, not ending in + or +digits (those are the operator)
    const ref = fc
      .array(refChar, { minLength: 1, maxLength: 12 })
      .map((cs) => cs.join(""))
      .filter((r) => !r.startsWith("-") && !/\+\d*$/.test(r))
    const depth = fc.option(fc.nat({ max: 99 }), { nil: undefined })
    const affix = fc.option(depth, { nil: null })
    fc.assert(
      fc.property(ref, affix, affix, (r, up, down) => {
        const prefix = up === null ? "" : `${up ?? ""}+`
        const suffix = down === null ? "" : `+${down ?? ""}`
        const text = `${prefix}changed-since:${r}${suffix}`
        expect(changedSinceRefs(text)).toEqual([r])
        const files = new Map([[r, new Set(["/repo/ml.ts"])]])
        const selected = [...resolveSelection(graph, text, { changedFiles: files })].map((i) => graph.keys[i])
        expect(selected).toContain("features")
        expect(selected.includes("clean")).toBe(up !== null && up !== 0)
        expect(selected.includes("ml/model")).toBe(down !== null && down !== 0)
      })
    )
  })
})
