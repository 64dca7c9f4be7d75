/**
 * A pool's concurrency limit holds across concurrent runs: two drivers each run one `gpu` step of a
 * project with `pools: { gpu: 1 }`, and the one worker serving gpu could run two at once.
 */
import { rm } from "node:fs/promises"
import { join } from "node:path"
import { openLocalStore } from "@materia/assets"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { REDIS_URL, startDriver, startWorker, testPrefix } from "./Distributed.ts"
import { fixtureProject, SUITE_TIMEOUT } from "./ExecutorSuite.ts"

describe("pools across runs", () => {
  it(
    "two runs' steps of a pool limited to 1 never run at once, though the worker could run 2",
    async () => {
      const { root, file } = await fixtureProject(join(import.meta.dirname, "fixtures/pooled.ts"), "pooled")
      const prefix = testPrefix()
      const worker = await startWorker(root, prefix, ["gpu"], ["--concurrency", "2"])
      try {
        const drivers = ["first", "second"].map((key) =>
          startDriver(root, { projectFile: file, redisUrl: REDIS_URL, prefix, select: [key] })
        )
        const results = await Promise.all(drivers.map((d) => d.result()))
        for (const r of results) expect(r.status).toBe("succeeded")
        const store = await openLocalStore(root)
        const windows = await Effect.runPromise(
          Effect.forEach(results, (r) =>
            Effect.map(store.storage.events(r.runId), (events) => {
              const m = events.find((e) => e.event._tag === "Materialization")!.event as unknown as {
                metadata: { start: number; end: number }
              }
              return m.metadata
            })
          )
        )
        await store.close()
        const [a, b] = windows as [{ start: number; end: number }, { start: number; end: number }]
        expect(a.end <= b.start || b.end <= a.start).toBe(true)
      } finally {
        await worker.stop("SIGKILL")
        await rm(root, { recursive: true, force: true })
      }
    },
    SUITE_TIMEOUT
  )
})
