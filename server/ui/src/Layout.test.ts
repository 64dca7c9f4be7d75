import { describe, expect, it } from "vitest"
import { orderNodes, shapeKey } from "./Layout.ts"

describe("orderNodes", () => {
  it("lists layer by layer, each ordered to undo crossings", () => {
    // a → d and b → c cross when c comes first.
    const shape = {
      keys: ["c", "d", "a", "b"],
      edges: [
        { from: "a", to: "d" },
        { from: "b", to: "c" }
      ]
    }
    expect(orderNodes(shape)).toEqual(["a", "b", "d", "c"])
  })

  it("puts a node one layer after its deepest parent, and survives a cycle", () => {
    const shape = {
      keys: ["x", "y", "z", "w"],
      edges: [
        { from: "x", to: "y" },
        { from: "y", to: "z" },
        { from: "x", to: "z" },
        { from: "w", to: "w" }
      ]
    }
    expect(orderNodes(shape)).toEqual(["x", "w", "y", "z"])
    expect(orderNodes({ keys: [], edges: [] })).toEqual([])
  })
})

describe("shapeKey", () => {
  it("ignores the order of keys and edges, and changes with them", () => {
    const a = shapeKey({ keys: ["a", "b"], edges: [{ from: "a", to: "b" }] })
    expect(shapeKey({ keys: ["b", "a"], edges: [{ from: "a", to: "b" }] })).toBe(a)
    expect(shapeKey({ keys: ["a", "b"], edges: [] })).not.toBe(a)
  })
})
