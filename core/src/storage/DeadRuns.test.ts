import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { markDeadRuns } from "./DeadRuns.ts"
import { makeMemoryStorage } from "./MemoryStorage.ts"
import type { StorageApi } from "./Storage.ts"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

describe("markDeadRuns", () => {
  it("marks a run whose driver is dead failed, once, even when two monitors saw it running", async () => {
    const storage = makeMemoryStorage()
    await run(
      storage.append("p", [
        {
          _tag: "RunStarted",
          runId: "r1",
          at: 1,
          project: "p",
          targets: ["a"],
          steps: [{ key: "a", reasons: ["missing"] }],
          driver: { host: "h", pid: 42 }
        }
      ])
    )
    const listed = await run(storage.runs("p"))
    // A second monitor works from the listing it read before the first one marked the run.
    const stale: StorageApi = { ...storage, runs: () => Effect.succeed(listed) }
    expect(await run(markDeadRuns(storage, "p", () => false))).toEqual(["r1"])
    expect(await run(markDeadRuns(stale, "p", () => false))).toEqual([])
    const events = await run(storage.events("r1"))
    expect(events.map((e) => e.event._tag)).toEqual(["RunStarted", "RunFinished"])
    expect((await run(storage.runs("p")))[0]?.status).toBe("failed")
  })
})
