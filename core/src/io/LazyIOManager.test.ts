import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { describe, expect, it } from "vitest"
import { IOManagerError } from "./IOManager.ts"
import { lazyIOManager } from "./LazyIOManager.ts"
import { makeMemoryIOManager } from "./MemoryIOManager.ts"

const context = {
  assetKey: "a",
  assetPath: ["a"],
  runId: "r",
  attemptId: "r-1",
  codeVersion: "v1",
  inputVersions: {}
}

describe("lazyIOManager", () => {
  it("makes the manager once, on the first value stored or loaded", async () => {
    let made = 0
    const io = lazyIOManager("memory", async () => {
      made++
      return makeMemoryIOManager()
    })
    expect(made).toBe(0)
    const stored = await Effect.runPromise(io.write(new Uint8Array([1, 2]), context))
    const loaded = await Effect.runPromise(io.load(stored.handle, { assetKey: "a", consumerKey: "b" }))
    expect(loaded).toEqual(new Uint8Array([1, 2]))
    expect(made).toBe(1)
  })

  it("fails with an IOManagerError naming the manager when it cannot be made", async () => {
    const io = lazyIOManager("fs", () => Promise.reject(new Error("module not found")))
    const exit = await Effect.runPromiseExit(
      Stream.runCollect(
        io.loadBatches(
          { ioManager: "fs", location: "x", format: "arrow" },
          { assetKey: "a", consumerKey: "b" }
        )
      )
    )
    expect(exit._tag).toBe("Failure")
    const error = exit._tag === "Failure" ? exit.cause.reasons[0] : undefined
    expect(error?._tag === "Fail" && error.error).toBeInstanceOf(IOManagerError)
    expect(String(error?._tag === "Fail" && (error.error as IOManagerError).message)).toContain(
      'IO manager "fs" could not load asset "a": the IO manager could not be loaded: module not found'
    )
  })
})
