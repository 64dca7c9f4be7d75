import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import type { MaterializationEvent, RunEvent } from "../events/RunEvent.ts"
import { makeMemoryStorage } from "../storage/MemoryStorage.ts"
import { type StorageApi, StorageError } from "../storage/Storage.ts"
import { makeEventBuffer } from "./EventBuffer.ts"

const materialization = (key: string): MaterializationEvent => ({
  _tag: "Materialization",
  runId: "r",
  at: 0,
  key,
  attempt: 1,
  dataVersion: `${key}-v`,
  codeVersion: "c",
  inputVersions: {},
  handle: null,
  metadata: {},
  durationMillis: 0
})

const recording = (reject: (batch: ReadonlyArray<RunEvent>) => boolean) => {
  const inner = makeMemoryStorage()
  const batches: Array<Array<string>> = []
  const storage: StorageApi = {
    ...inner,
    append: (project, events) => {
      batches.push(events.map((e) => ("key" in e ? `${e._tag}:${e.key}` : e._tag)))
      return reject(events)
        ? Effect.fail(new StorageError({ reason: "Unavailable", message: "rejected", retryable: false }))
        : inner.append(project, events)
    }
  }
  return { storage, batches, inner }
}

describe("EventBuffer", () => {
  it("shares one storage append among steps that commit together", async () => {
    const { storage, batches } = recording(() => false)
    const seen: Array<string> = []
    const buffer = makeEventBuffer(storage, "p", [(e) => seen.push(e._tag)])
    buffer.emit({ _tag: "StepStarted", runId: "r", at: 0, key: "a", attempt: 1 })
    await Effect.runPromise(
      Effect.forEach(["a", "b", "c", "d"], (k) => buffer.commit(materialization(k)), {
        concurrency: "unbounded"
      })
    )
    expect(batches).toEqual([
      ["StepStarted:a", "Materialization:a", "Materialization:b", "Materialization:c", "Materialization:d"]
    ])
    expect(seen).toHaveLength(5)
  })

  it("fails only the committer whose materialization storage rejects, keeping other events", async () => {
    const { storage, inner } = recording((batch) =>
      batch.some((e) => e._tag === "Materialization" && e.key === "bad")
    )
    const buffer = makeEventBuffer(storage, "p", [])
    buffer.emit({ _tag: "StepStarted", runId: "r", at: 0, key: "good", attempt: 1 })
    const exits = await Effect.runPromise(
      Effect.forEach(["good", "bad"], (k) => Effect.exit(buffer.commit(materialization(k))), {
        concurrency: "unbounded"
      })
    )
    expect(exits.map((e) => e._tag)).toEqual(["Success", "Failure"])
    const events = await Effect.runPromise(inner.events("r"))
    expect(events.map((e) => ("key" in e.event ? `${e.event._tag}:${e.event.key}` : e.event._tag))).toEqual([
      "StepStarted:good",
      "Materialization:good"
    ])
  })

  it("keeps events of a failed flush for the next one", async () => {
    let fail = true
    const { storage, inner } = recording(() => fail)
    const buffer = makeEventBuffer(storage, "p", [])
    buffer.emit({ _tag: "StepStarted", runId: "r", at: 0, key: "a", attempt: 1 })
    expect((await Effect.runPromiseExit(buffer.flush))._tag).toBe("Failure")
    fail = false
    await Effect.runPromise(buffer.flush)
    expect(await Effect.runPromise(inner.events("r"))).toHaveLength(1)
  })
})
