import { describe, expect, it } from "vitest"
import type { RunEvent } from "./Api.ts"
import { initial, reducer, type State } from "./RunFold.ts"

const fold = (events: ReadonlyArray<RunEvent>): State =>
  events.reduce(
    (state, event, i) => reducer(state, { _tag: "event", from: "log", stored: { seq: i + 1, event } }),
    initial
  )

const base = { runId: "r1" } as const

describe("the run page's fold", () => {
  it("shows why a step waits until its next event, and folds a replayed event once", () => {
    const events: Array<RunEvent> = [
      { ...base, _tag: "RunStarted", at: 0, steps: [{ key: "train" }] },
      { ...base, _tag: "StepStarted", at: 1, key: "train", attempt: 1 },
      {
        ...base,
        _tag: "StepWaiting",
        at: 2,
        key: "train",
        attempt: 1,
        reason: "waiting for a worker of pool gpu"
      }
    ]
    const waiting = fold(events)
    expect(waiting.steps.get("train")).toMatchObject({
      status: "running",
      waiting: "waiting for a worker of pool gpu"
    })
    const replayed = reducer(waiting, { _tag: "event", from: "log", stored: { seq: 3, event: events[2]! } })
    expect(replayed).toBe(waiting)
    const taken = fold([
      ...events,
      {
        ...base,
        _tag: "StepLog",
        at: 3,
        key: "train",
        level: "info",
        message: "a worker of pool gpu took the step"
      }
    ])
    expect(taken.steps.get("train")).toMatchObject({ status: "running", waiting: null })
    expect(taken.logs.map((l) => l.message)).toEqual(["a worker of pool gpu took the step"])
  })
})
