import { describe, expect, it } from "vitest"
import { ExecutionState, Status } from "./ExecutionState.ts"

// a → b, a → c, b + c → d
const diamond = [
  { upstream: [], pool: "default" },
  { upstream: [0], pool: "default" },
  { upstream: [0], pool: "default" },
  { upstream: [1, 2], pool: "default" }
]

describe("ExecutionState", () => {
  it("steps a diamond by hand: a step starts as soon as its own inputs are stored", () => {
    const s = new ExecutionState(diamond, { concurrency: 4 })
    expect(s.next()).toBe(0)
    expect(s.next()).toBe(-1)
    s.succeed(0)
    expect(s.next()).toBe(1)
    expect(s.next()).toBe(2)
    expect(s.running).toBe(2)
    s.succeed(2)
    expect(s.next()).toBe(-1) // d still waits for b
    s.succeed(1)
    expect(s.next()).toBe(3)
    s.succeed(3)
    expect(s.done).toBe(true)
    expect([...s.status]).toEqual([Status.Succeeded, Status.Succeeded, Status.Succeeded, Status.Succeeded])
  })

  it("does not wait for a level: a ready step starts while its level-mates run", () => {
    // a → c, b (slow, independent) ; c can start while b runs
    const s = new ExecutionState(
      [
        { upstream: [], pool: "default" },
        { upstream: [], pool: "default" },
        { upstream: [0], pool: "default" }
      ],
      { concurrency: 4 }
    )
    expect([s.next(), s.next()]).toEqual([0, 1])
    s.succeed(0)
    expect(s.next()).toBe(2)
  })

  it("skips only the downstream of a failure; independent branches finish", () => {
    const s = new ExecutionState(
      [...diamond, { upstream: [], pool: "default" }, { upstream: [4], pool: "default" }],
      { concurrency: 4 }
    )
    expect([s.next(), s.next()]).toEqual([0, 4])
    s.succeed(0)
    expect([s.next(), s.next()]).toEqual([1, 2])
    expect(s.fail(1)).toEqual([3])
    expect(s.skippedBy[3]).toBe(1)
    s.succeed(2)
    s.succeed(4)
    expect(s.next()).toBe(5)
    s.succeed(5)
    expect(s.done).toBe(true)
    expect(s.status[3]).toBe(Status.Skipped)
  })

  it("skips transitively and records the root cause", () => {
    const chain = [
      { upstream: [], pool: "p" },
      { upstream: [0], pool: "p" },
      { upstream: [1], pool: "p" }
    ]
    const s = new ExecutionState(chain, { concurrency: 1 })
    expect(s.next()).toBe(0)
    expect(s.skip(0)).toEqual([1, 2])
    expect([...s.skippedBy]).toEqual([-1, 0, 0])
    expect(s.done).toBe(true)
  })

  it("bounds steps by the global limit and by each pool's limit", () => {
    const steps = [
      { upstream: [], pool: "gpu" },
      { upstream: [], pool: "gpu" },
      { upstream: [], pool: "cpu" },
      { upstream: [], pool: "cpu" },
      { upstream: [], pool: "cpu" }
    ]
    const s = new ExecutionState(steps, { concurrency: 3, pools: { gpu: 1 } })
    // gpu is full after one; cpu steps fill the global limit.
    expect([s.next(), s.next(), s.next(), s.next()]).toEqual([0, 2, 3, -1])
    s.succeed(2)
    expect(s.next()).toBe(4) // gpu still full: step 1 waits, a cpu step goes
    s.succeed(0)
    expect(s.next()).toBe(1)
  })

  it("cancels: nothing new starts, waiting steps are canceled, running ones report", () => {
    const s = new ExecutionState(diamond, { concurrency: 4 })
    s.next()
    expect(s.cancel()).toEqual([1, 2, 3])
    expect(s.next()).toBe(-1)
    expect(s.done).toBe(false)
    s.cancelRunning(0)
    expect(s.done).toBe(true)
  })

  it("refuses impossible transitions and limits", () => {
    const s = new ExecutionState(diamond, { concurrency: 1 })
    expect(() => s.succeed(3)).toThrow("not running")
    expect(() => new ExecutionState(diamond, { concurrency: 0 })).toThrow("at least 1")
    expect(() => new ExecutionState(diamond, { concurrency: 1, pools: { default: 0 } })).toThrow("at least 1")
    expect(
      () =>
        new ExecutionState(
          [
            { upstream: [1], pool: "p" },
            { upstream: [], pool: "p" }
          ],
          { concurrency: 1 }
        )
    ).toThrow("not before it")
  })
})
