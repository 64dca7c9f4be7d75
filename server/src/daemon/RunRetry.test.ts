/**
 * Run-level retries: a failed run is queued again as a re-execution from failure until the policy's
 * attempts are used up, once per failure (the retry tick's id), leaving the schedule's state alone.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { makeMemoryDaemonStore, type QueuedRun } from "./DaemonStore.ts"
import { materializeArgs, readOutcome } from "./RunLauncher.ts"
import { ATTEMPT_TAG, queueRetry, retryOf } from "./RunRetry.ts"

const run = (tags?: Record<string, string>): QueuedRun => ({
  id: "q1",
  tickId: "schedule:nightly@1",
  kind: "schedule",
  name: "nightly",
  request: { select: "report", ...(tags === undefined ? {} : { tags }) },
  status: "launched",
  enqueuedAt: 1
})

describe("run retries", () => {
  let n = 0
  const newId = () => `retry-${++n}`

  it("retries a failed run from failure until the attempts are used up", () => {
    const failed = { status: "failed", runId: "materia-run-1" }
    expect(retryOf(run(), failed, undefined, 10, newId)).toBeUndefined()
    expect(retryOf(run(), { status: "succeeded", runId: "r" }, { attempts: 3 }, 10, newId)).toBeUndefined()
    const first = retryOf(run(), failed, { attempts: 3 }, 10, newId)!
    expect(first.run.request).toEqual({
      select: "report",
      fromFailure: "materia-run-1",
      tags: { [ATTEMPT_TAG]: "2" }
    })
    expect(first.tick.tickId).toBe("retry:q1")
    expect(materializeArgs(first.run.request, "/p/materia.config.ts")).toEqual([
      "materialize",
      "--from-failure",
      "materia-run-1",
      "--json",
      "--project",
      "/p/materia.config.ts"
    ])
    const second = retryOf(run({ [ATTEMPT_TAG]: "2" }), failed, { attempts: 3 }, 10, newId)!
    expect(second.run.request.tags?.[ATTEMPT_TAG]).toBe("3")
    expect(retryOf(run({ [ATTEMPT_TAG]: "3" }), failed, { attempts: 3 }, 10, newId)).toBeUndefined()
  })

  it("queues a retry once, and keeps the schedule's state", async () => {
    const store = makeMemoryDaemonStore()
    await Effect.runPromise(
      store.setState({ kind: "schedule", name: "nightly", status: "running", lastTickAt: 5, startedAt: 1 })
    )
    const retry = retryOf(run(), { status: "failed", runId: "m1" }, { attempts: 2 }, 10, newId)!
    expect((await Effect.runPromise(queueRetry(store, retry))).committed).toBe(true)
    expect((await Effect.runPromise(queueRetry(store, retry))).committed).toBe(false)
    const queued = await Effect.runPromise(store.runs({ status: ["queued"] }))
    expect(queued.map((r) => r.request.fromFailure)).toEqual(["m1"])
    expect(await Effect.runPromise(store.state("schedule", "nightly"))).toEqual({
      kind: "schedule",
      name: "nightly",
      status: "running",
      lastTickAt: 5,
      startedAt: 1
    })
  })
})

describe("queued backfills in the daemon", () => {
  it("launch `materia backfill resume <id>` and read the backfill's status from its JSON", async () => {
    expect(materializeArgs({ select: "bf-1", backfillId: "bf-1" }, "/p/materia.config.ts")).toEqual([
      "backfill",
      "resume",
      "bf-1",
      "--json",
      "--project",
      "/p/materia.config.ts"
    ])
    const dir = mkdtempSync(join(tmpdir(), "materia-outcome-"))
    try {
      writeFileSync(join(dir, "q1.json"), JSON.stringify({ backfill: { status: "succeeded" }, steps: [] }))
      expect(readOutcome(dir, "q1", 0)).toEqual({ status: "succeeded" })
      writeFileSync(
        join(dir, "q2.json"),
        JSON.stringify({ backfill: { status: "failed" }, steps: [{ key: "daily", error: "boom" }] })
      )
      expect(readOutcome(dir, "q2", 1)).toEqual({ status: "failed", error: "daily: boom" })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
