import { describe, expect, it } from "vitest"
import type { RunEvent } from "./RunEvent.ts"
import { foldRunEvents } from "./RunView.ts"

const base = { runId: "r1" } as const

describe("RunView", () => {
  it("shows why a started step waits, until the step's next event", () => {
    const events: Array<RunEvent> = [
      {
        ...base,
        _tag: "RunStarted",
        at: 0,
        project: "p",
        targets: ["train"],
        steps: [{ key: "train", reasons: [] }]
      },
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
    const waiting = foldRunEvents("r1", events).steps.get("train")!
    expect(waiting.status).toBe("running")
    expect(waiting.waiting).toBe("waiting for a worker of pool gpu")
    const taken = foldRunEvents("r1", [
      ...events,
      {
        ...base,
        _tag: "StepLog",
        at: 3,
        key: "train",
        level: "info",
        message: "a worker of pool gpu took the step"
      }
    ]).steps.get("train")!
    expect(taken.waiting).toBeUndefined()
    expect(taken.status).toBe("running")
  })

  it("keeps waits of partitioned steps apart, and ignores a wait for a step that already ended", () => {
    const view = foldRunEvents("r1", [
      { ...base, _tag: "StepStarted", at: 1, key: "a", partition: "eu", attempt: 1 },
      { ...base, _tag: "StepStarted", at: 1, key: "a", partition: "us", attempt: 1 },
      { ...base, _tag: "StepWaiting", at: 2, key: "a", partition: "eu", attempt: 1, reason: "no worker" },
      {
        ...base,
        _tag: "StepFailed",
        at: 3,
        key: "b",
        attempt: 1,
        durationMillis: 1,
        error: { tag: "E", message: "m" }
      },
      { ...base, _tag: "StepWaiting", at: 4, key: "b", attempt: 1, reason: "late" }
    ])
    expect(view.steps.get("a[eu]")?.waiting).toBe("no worker")
    expect(view.steps.get("a[us]")?.waiting).toBeUndefined()
    expect(view.steps.get("b")?.waiting).toBeUndefined()
  })
})
