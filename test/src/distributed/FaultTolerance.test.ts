/**
 * Fault tolerance of the queue executor with real processes: `materia worker` processes, a driver
 * process (fixtures/driver.ts), the embedded store on a shared disk, and Redis (the shared one under
 * a fresh prefix, or a private redis-server this test starts and restarts).
 */
import type { ChildProcess } from "node:child_process"
import { existsSync } from "node:fs"
import { rm } from "node:fs/promises"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { openLocalStore } from "@materia/assets"
import type { RunEvent } from "@materia/core"
import { Queue } from "bullmq"
import * as Effect from "effect/Effect"
import { Redis } from "ioredis"
import { afterEach, describe, expect, it } from "vitest"
import { listWorkers } from "../../../server/src/queue/Workers.ts"
import {
  freePort,
  REDIS_URL,
  type StartedProcess,
  startDriver,
  startMateria,
  startRedis,
  startWorker,
  testPrefix
} from "./Distributed.ts"
import { fixtureProject, SUITE_TIMEOUT } from "./ExecutorSuite.ts"

const FIXTURE = join(import.meta.dirname, "fixtures/faults.ts")
/** Short leases so that a dead worker's step is noticed within seconds. */
const FAST_LEASES = ["--lock-duration", "2000", "--stalled-interval", "1000"]

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

const setup = async (prefixName: string) => {
  const { root, file } = await fixtureProject(FIXTURE, prefixName)
  cleanups.push(() => rm(root, { recursive: true, force: true }))
  return { root, file, prefix: testPrefix() }
}
const worker = async (root: string, prefix: string, extra: ReadonlyArray<string> = [], url = REDIS_URL) => {
  const w = await startWorker(root, prefix, ["default"], [...FAST_LEASES, ...extra], url)
  cleanups.push(() => w.stop("SIGKILL"))
  return w
}
/** Waits until a live worker says it runs `key`; returns its pid. */
const workerRunning = async (prefix: string, key: string, url = REDIS_URL): Promise<number> => {
  for (;;) {
    const { workers } = await listWorkers(url, prefix)
    const w = workers.find((r) => r.running.some((s) => s.includes(` ${key}`)))
    if (w !== undefined) return w.pid
    await sleep(100)
  }
}
const eventsOf = async (root: string, runId: string): Promise<ReadonlyArray<RunEvent>> => {
  const store = await openLocalStore(root)
  try {
    return (await Effect.runPromise(store.storage.events(runId))).map((e) => e.event)
  } finally {
    await store.close()
  }
}
const materializations = (events: ReadonlyArray<RunEvent>, key: string) =>
  events.filter(
    (e): e is Extract<RunEvent, { _tag: "Materialization" }> => e._tag === "Materialization" && e.key === key
  )

describe("queue executor fault tolerance (real processes)", () => {
  it(
    "a worker killed with SIGKILL mid-step: the step runs again on another worker, one materialization is recorded",
    async () => {
      const { root, file, prefix } = await setup("sigkill-worker")
      const workers = [await worker(root, prefix), await worker(root, prefix)]
      const driver = startDriver(root, { projectFile: file, redisUrl: REDIS_URL, prefix, select: ["after"] })
      cleanups.push(() => driver.stop("SIGKILL"))
      const victimPid = await workerRunning(prefix, "victim")
      const killed = workers.find((w) => w.child.pid === victimPid)!
      killed.child.kill("SIGKILL")
      const result = await driver.result()
      expect(result.status).toBe("succeeded")
      const victim = result.steps.find((s) => s.key === "victim")!
      // The crash used up attempt 1: the retry policy ran attempt 2 elsewhere.
      expect(victim).toMatchObject({ status: "succeeded", attempts: 2 })
      const events = await eventsOf(root, result.runId)
      const made = materializations(events, "victim")
      expect(made).toHaveLength(1)
      expect(made[0]!.attempt).toBe(2)
      expect(made[0]!.metadata.worker).not.toBe(victimPid)
      expect(
        events.some((e) => e._tag === "StepRetrying" && e.key === "victim" && e.error.tag === "WorkerLost")
      ).toBe(true)
    },
    SUITE_TIMEOUT
  )

  it(
    "the driver killed with SIGKILL: the run is marked failed as dead, and --from-failure finishes only what is missing",
    async () => {
      const { root, file, prefix } = await setup("sigkill-driver")
      await worker(root, prefix)
      const driver = startDriver(root, { projectFile: file, redisUrl: REDIS_URL, prefix, select: ["after"] })
      cleanups.push(() => driver.stop("SIGKILL"))
      await driver.printed(/STARTED victim 1/)
      const runId = /RUN (\S+)/.exec(driver.output())![1]!
      await driver.stop("SIGKILL")
      // Any command of the project marks the dead run; this one also re-runs what it left undone.
      const resumed = await startMateria(root, ["materialize", "--from-failure", runId]).exited
      expect(resumed.code).toBe(0)
      const dead = await eventsOf(root, runId)
      const finished = dead.find((e) => e._tag === "RunFinished")
      expect(finished).toMatchObject({ status: "failed" })
      expect((finished as { reason?: string }).reason).toMatch(/died before it finished/)
      // The dead run committed nothing for the step it was running.
      expect(materializations(dead, "victim")).toHaveLength(0)
      const store = await openLocalStore(root)
      const runs = await Effect.runPromise(store.storage.runs("faults"))
      const state = await Effect.runPromise(store.storage.snapshot("faults"))
      await store.close()
      const latest = runs.find((r) => r.runId !== runId)!
      expect(latest.status).toBe("succeeded")
      const again = await eventsOf(root, latest.runId)
      expect(materializations(again, "victim")).toHaveLength(1)
      expect(materializations(again, "after")).toHaveLength(1)
      expect(materializations(again, "source")).toHaveLength(0)
      expect(state.get("after")?.latest?.runId).toBe(latest.runId)
    },
    SUITE_TIMEOUT
  )

  it(
    "the driver killed with SIGKILL: its queued jobs are refused once its heartbeat expires, never run",
    async () => {
      const { root, file } = await fixtureProject(
        join(import.meta.dirname, "fixtures/parallel.ts"),
        "dead-driver-queue"
      )
      cleanups.push(() => rm(root, { recursive: true, force: true }))
      const prefix = testPrefix()
      await worker(root, prefix)
      const driver = startDriver(root, {
        projectFile: file,
        redisUrl: REDIS_URL,
        prefix,
        select: ["alpha", "beta"],
        driverTtlMillis: 1500
      })
      cleanups.push(() => driver.stop("SIGKILL"))
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
      const queue = new Queue("pool-default", { connection: redis, prefix })
      cleanups.push(async () => {
        await queue.close()
        redis.disconnect()
      })
      // One job runs on the only worker, the other waits for it.
      while ((await queue.getActiveCount()) < 1 || (await queue.getWaitingCount()) < 1) await sleep(50)
      await driver.stop("SIGKILL")
      while ((await queue.getFailedCount()) < 1) await sleep(100)
      const [refused] = await queue.getFailed()
      expect(refused!.failedReason).toMatch(
        /DriverGone.*the process driving run \S+ is gone \(no heartbeat\); the step was not run/
      )
      const ran = ["alpha", "beta"].filter((key) => existsSync(join(root, `ran-${key}`)))
      expect(ran).toHaveLength(1)
      expect(refused!.name).not.toBe(ran[0])
    },
    SUITE_TIMEOUT
  )

  it(
    "Redis restarted (empty) during a run: workers and driver reconnect, the lost job runs again, the run completes",
    async () => {
      const { root, file, prefix } = await setup("redis-restart")
      const port = await freePort()
      const url = `redis://127.0.0.1:${port}`
      let redis: ChildProcess = await startRedis(port)
      cleanups.push(async () => redis.kill("SIGKILL"))
      await worker(root, prefix, [], url)
      await worker(root, prefix, [], url)
      const driver = startDriver(root, { projectFile: file, redisUrl: url, prefix, select: ["after"] })
      cleanups.push(() => driver.stop("SIGKILL"))
      await driver.printed(/LOG victim attempt 1/)
      redis.kill("SIGKILL")
      await new Promise((r) => redis.once("exit", r))
      redis = await startRedis(port)
      const result = await driver.result()
      expect(result.status).toBe("succeeded")
      expect(result.steps.find((s) => s.key === "victim")!.attempts).toBeGreaterThanOrEqual(2)
      expect(materializations(await eventsOf(root, result.runId), "victim")).toHaveLength(1)
    },
    SUITE_TIMEOUT
  )

  it(
    "SIGTERM: a worker finishes the step it runs and exits 0; a step with no live worker of its pool waits and says so",
    async () => {
      const { root, file, prefix } = await setup("sigterm")
      const first = await worker(root, prefix)
      const driver = startDriver(root, { projectFile: file, redisUrl: REDIS_URL, prefix, select: ["after"] })
      cleanups.push(() => driver.stop("SIGKILL"))
      await workerRunning(prefix, "victim")
      const stopped = await first.stop("SIGTERM")
      expect(stopped.code).toBe(0)
      expect(first.output()).toMatch(/stopped/)
      // The run says why the step does not run (a StepWaiting event, folded into the step's view).
      await driver.printed(/WAITING after waiting for a worker of pool default/)
      await worker(root, prefix)
      await driver.printed(/LOG a worker of pool default took the step/)
      const result = await driver.result()
      expect(result.status).toBe("succeeded")
      expect(result.steps.find((s) => s.key === "victim")).toMatchObject({ status: "succeeded", attempts: 1 })
    },
    SUITE_TIMEOUT
  )
})

export type { StartedProcess }
