import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fastHash128 } from "./FastHash.ts"

describe("fastHash128", () => {
  it("is stable, 32 hex characters, and different for near-identical strings", () => {
    expect(fastHash128("model\0v1\0features=abc")).toBe(fastHash128("model\0v1\0features=abc"))
    expect(fastHash128("")).toMatch(/^[0-9a-f]{32}$/)
    expect(fastHash128("ab")).not.toBe(fastHash128("ba"))
    expect(fastHash128("a\0b")).not.toBe(fastHash128("a\0c"))
  })

  it("gives the values it always gave: stored data versions stay valid across releases", () => {
    expect(fastHash128("")).toBe("ab3e7c0ba7530fb7c2254a91246362e5")
    expect(fastHash128("model\0v1\0features=abc")).toBe("b438905511cbf50543df82c730552088")
  })

  it("does not collide on many distinct short strings", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200_000; i++) seen.add(fastHash128(`asset_${i}\0v1\0in=${i * 7}`))
    expect(seen.size).toBe(200_000)
    fc.assert(fc.property(fc.string(), fc.string(), (x, y) => x === y || fastHash128(x) !== fastHash128(y)))
  })
})
