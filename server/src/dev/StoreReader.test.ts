import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaultSqlitePath, makeSqliteStorage } from "@materia/core/sqlite"
import * as Effect from "effect/Effect"
import { afterEach, describe, expect, it } from "vitest"
import { openStoreReader } from "./StoreReader.ts"

const roots: Array<string> = []
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true })
})

describe("StoreReader (SQLite)", () => {
  it("says why a running step waits, and forgets it once the step moves on", async () => {
    const root = await mkdtemp(join(tmpdir(), "materia-reader-"))
    roots.push(root)
    const storage = await Effect.runPromise(makeSqliteStorage({ path: defaultSqlitePath(root) }))
    const runId = "r1"
    await Effect.runPromise(
      storage.append("p", [
        {
          _tag: "RunStarted",
          runId,
          at: 1,
          project: "p",
          targets: ["train"],
          steps: [{ key: "train", reasons: [] }]
        },
        { _tag: "StepStarted", runId, at: 2, key: "train", attempt: 1 },
        {
          _tag: "StepWaiting",
          runId,
          at: 3,
          key: "train",
          attempt: 1,
          reason: "waiting for a worker of pool gpu"
        }
      ])
    )
    const reader = openStoreReader(root)
    expect((await reader.run(runId)).steps).toEqual([
      expect.objectContaining({
        key: "train",
        status: "running",
        waiting: "waiting for a worker of pool gpu"
      })
    ])
    await Effect.runPromise(
      storage.append("p", [
        {
          _tag: "StepLog",
          runId,
          at: 4,
          key: "train",
          level: "info",
          message: "a worker of pool gpu took the step"
        }
      ])
    )
    expect((await reader.run(runId)).steps[0]?.waiting).toBeNull()
    await reader.close()
    await Effect.runPromise(storage.close)
  })
})
