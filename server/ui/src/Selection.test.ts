import { describe, expect, it } from "vitest"
import { evaluateSelection, type SelectableAsset } from "./Selection.ts"

// a → b → c → d, and x → c; `ml/model` after d.
const assets: ReadonlyArray<SelectableAsset> = [
  { key: "a", group: "ingest", tags: { team: "growth" }, upstream: [] },
  { key: "b", group: "ingest", tags: {}, upstream: ["a"] },
  { key: "x", group: "ingest", tags: { pii: "" }, upstream: [] },
  { key: "c", group: "ml", tags: {}, upstream: ["b", "x"] },
  { key: "d", group: "ml", tags: {}, upstream: ["c"] },
  { key: "ml/model", group: "ml", tags: { team: "ml" }, upstream: ["d"] }
]

const keys = (selection: string) => {
  const result = evaluateSelection(selection, assets)
  if (!result.ok) throw new Error(result.error)
  return [...result.keys].sort()
}

describe("evaluateSelection", () => {
  it("selects everything for an empty selection or *", () => {
    expect(keys("")).toHaveLength(6)
    expect(keys(" * ")).toHaveLength(6)
  })

  it("follows upstream and downstream, all levels or N", () => {
    expect(keys("c")).toEqual(["c"])
    expect(keys("+c")).toEqual(["a", "b", "c", "x"])
    expect(keys("1+c")).toEqual(["b", "c", "x"])
    expect(keys("b+")).toEqual(["b", "c", "d", "ml/model"])
    expect(keys("b+1")).toEqual(["b", "c"])
    expect(keys("1+c+1")).toEqual(["b", "c", "d", "x"])
  })

  it("selects by group, tag value, tag presence and glob; unions terms", () => {
    expect(keys("group:ml")).toEqual(["c", "d", "ml/model"])
    expect(keys("tag:team=growth")).toEqual(["a"])
    expect(keys("tag:pii")).toEqual(["x"])
    expect(keys("ml/*")).toEqual(["ml/model"])
    expect(keys("a, x")).toEqual(["a", "x"])
  })

  it("walks through keys an earlier term already selected", () => {
    expect(keys("b,+d")).toEqual(["a", "b", "c", "d", "x"])
  })

  it("names what matches nothing or cannot be parsed", () => {
    expect(evaluateSelection("nope", assets)).toEqual({ ok: false, error: '"nope" matches no asset' })
    expect(evaluateSelection("group:none", assets)).toEqual({
      ok: false,
      error: '"group:none" matches no asset'
    })
    const bad = evaluateSelection("a+b+", assets)
    expect(bad.ok).toBe(false)
  })
})
