import { describe, expect, it } from "vitest"
import type { QueuedRun } from "./DaemonStore.ts"
import { launchable, parseTagLimit } from "./RunQueue.ts"

const run = (id: string, tags: Record<string, string> = {}): QueuedRun => ({
  id,
  tickId: "t",
  kind: "schedule",
  name: "s",
  request: { select: "a", tags },
  status: "queued",
  enqueuedAt: 0
})
const ids = (runs: ReadonlyArray<QueuedRun>) => runs.map((r) => r.id)

describe("launchable", () => {
  it("fills free slots in queue order", () => {
    expect(ids(launchable([run("a"), run("b"), run("c")], [run("x")], { maxConcurrentRuns: 3 }))).toEqual([
      "a",
      "b"
    ])
    expect(ids(launchable([run("a")], [run("x"), run("y")], { maxConcurrentRuns: 2 }))).toEqual([])
  })

  it("applies tag limits by value or by key, letting uncovered runs pass", () => {
    const limits = {
      maxConcurrentRuns: 10,
      tagLimits: [
        { key: "team", value: "ml", limit: 1 },
        { key: "gpu", limit: 2 }
      ]
    }
    const queued = [
      run("a", { team: "ml" }),
      run("b", { team: "ml" }),
      run("c", { team: "bi" }),
      run("d", { gpu: "0" }),
      run("e", { gpu: "1" })
    ]
    expect(ids(launchable(queued, [run("x", { gpu: "3" })], limits))).toEqual(["a", "c", "d"])
    expect(ids(launchable(queued, [run("x", { team: "ml" })], limits))).toEqual(["c", "d", "e"])
  })

  it("parses --tag-limit", () => {
    expect(parseTagLimit("team=ml:2")).toEqual({ key: "team", value: "ml", limit: 2 })
    expect(parseTagLimit("gpu:1")).toEqual({ key: "gpu", limit: 1 })
    expect(parseTagLimit("gpu")).toBeUndefined()
    expect(parseTagLimit("gpu:0")).toBeUndefined()
  })
})
