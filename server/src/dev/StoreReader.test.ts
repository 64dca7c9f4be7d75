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

describe("StoreReader watermark (SQLite)", () => {
  it("changes with every event, and when a partitioned asset is wiped (no event)", async () => {
    const root = await mkdtemp(join(tmpdir(), "materia-reader-"))
    roots.push(root)
    const storage = await Effect.runPromise(makeSqliteStorage({ path: defaultSqlitePath(root) }))
    const reader = openStoreReader(root)
    const materialized = (key: string, partition: string) =>
      ({
        _tag: "Materialization",
        runId: "r1",
        at: 2,
        key,
        partition,
        attempt: 1,
        dataVersion: `${key}-${partition}`,
        codeVersion: "v1",
        inputVersions: {},
        handle: null,
        metadata: {},
        durationMillis: 1
      }) as const
    const empty = await reader.watermark()
    await Effect.runPromise(
      storage.append("p", [
        { _tag: "RunStarted", runId: "r1", at: 1, project: "p", targets: ["daily"], steps: [] },
        materialized("daily", "2026-01-01"),
        materialized("daily", "2026-01-02"),
        materialized("hourly", "2026-01-01T00")
      ])
    )
    const recorded = await reader.watermark()
    expect(recorded).not.toBe(empty)
    expect(await Effect.runPromise(storage.wipe("p", ["daily"]))).toBe(2)
    const wiped = await reader.watermark()
    expect(wiped).not.toBe(recorded)
    await reader.close()
    await Effect.runPromise(storage.close)
  })
})
