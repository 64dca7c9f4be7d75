/**
 * Bad input to the queue executor, with real `materia` processes: an unreachable Redis (a clear
 * error at start-up naming the URL without its password), a job whose payload does not decode
 * (rejected once, shown as a dead letter by `materia workers`), and a driver whose project code
 * differs from the worker's (refused, naming both versions, not retried).
 */
import { rm } from "node:fs/promises"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { type AnyProject, type MaterializeOptions, materialize, type RunResult } from "@materia/assets"
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { afterEach, describe, expect, it } from "vitest"
import { makeQueueRunner } from "../../../server/src/queue/QueueRunner.ts"
import { freePort, REDIS_URL, startMateria, startWorker, testPrefix } from "./Distributed.ts"
import { fixtureProject, SUITE_TIMEOUT } from "./ExecutorSuite.ts"

const FIXTURE = join(import.meta.dirname, "fixtures/faults.ts")
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

describe("queue executor: bad input", () => {
  it(
    "an unreachable Redis fails worker and workers at start-up, naming the URL with its password redacted",
    async () => {
      const { root } = await fixtureProject(FIXTURE, "no-redis")
      cleanups.push(() => rm(root, { recursive: true, force: true }))
      const url = `redis://:s3cret@127.0.0.1:${await freePort()}`
      for (const args of [
        ["worker", "--pool", "cpu", "--redis", url],
        ["workers", "--redis", url]
      ]) {
        const p = startMateria(root, args)
        const { code } = await p.exited
        expect(code).toBe(1)
        expect(p.output()).toContain(`cannot reach Redis at redis://:***@127.0.0.1:`)
        expect(p.output()).not.toContain("s3cret")
      }
    },
    SUITE_TIMEOUT
  )

  it(
    "a payload that does not decode is rejected once and listed as a dead letter beside the live worker",
    async () => {
      const { root } = await fixtureProject(FIXTURE, "bad-payload")
      cleanups.push(() => rm(root, { recursive: true, force: true }))
      const prefix = testPrefix()
      const worker = await startWorker(root, prefix, ["default"])
      cleanups.push(() => worker.stop("SIGKILL"))
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
      const queue = new Queue("pool-default", { connection: redis, prefix })
      cleanups.push(async () => {
        await queue.close()
        redis.disconnect()
      })
      const job = await queue.add("garbage", { hello: "world" })
      for (let i = 0; i < 600 && (await queue.getJobState(job.id!)) !== "failed"; i++) await sleep(100)
      const failed = await queue.getJob(job.id!)
      expect(failed?.attemptsMade).toBe(1)
      const listing = startMateria(root, ["workers", "--redis", REDIS_URL, "--prefix", prefix, "--json"])
      expect((await listing.exited).code).toBe(0)
      const parsed = JSON.parse(listing.output()) as {
        workers: ReadonlyArray<{ pools: ReadonlyArray<string>; project: string }>
        deadLetters: ReadonlyArray<{ pool: string; name: string; reason: string }>
      }
      expect(parsed.workers).toHaveLength(1)
      expect(parsed.workers[0]).toMatchObject({ pools: ["default"], project: "faults" })
      expect(parsed.deadLetters).toHaveLength(1)
      expect(parsed.deadLetters[0]).toMatchObject({ pool: "default", name: "garbage" })
      expect(parsed.deadLetters[0]!.reason).toMatch(
        /^InvalidPayload: the job's data is not a Materia step attempt/
      )
      const text = startMateria(root, ["workers", "--redis", REDIS_URL, "--prefix", prefix])
      await text.exited
      expect(text.output()).toMatch(
        /Live workers:\n {2}\S+ {2}pools default {2}concurrency 1 {2}project faults/
      )
      expect(text.output()).toMatch(/Dead-letter jobs:\n {2}\[default\] garbage/)
    },
    SUITE_TIMEOUT
  )

  it(
    "a worker refuses a step of other code than its own, naming both versions, and the step is not retried",
    async () => {
      const { root, project } = await fixtureProject(FIXTURE, "stale-code")
      cleanups.push(() => rm(root, { recursive: true, force: true }))
      const prefix = testPrefix()
      const worker = await startWorker(root, prefix, ["default"])
      cleanups.push(() => worker.stop("SIGKILL"))
      const runner = await makeQueueRunner({
        redisUrl: REDIS_URL,
        prefix,
        project: "faults",
        codeVersion: "0123456789abcdef"
      })
      cleanups.push(() => runner.close())
      const result = (await materialize(
        project,
        ["source"] as never,
        {
          root,
          raiseOnError: false,
          output: "off",
          stepRunner: runner
        } as MaterializeOptions<AnyProject>
      )) as RunResult<AnyProject>
      const step = result.step("source")!
      expect(step).toMatchObject({ status: "failed", attempts: 1 })
      // Marked non-retryable: a step with a retry policy fails at once too.
      expect((step.error as { retryable?: boolean }).retryable).toBe(false)
      expect((step.error as Error).message).toMatch(
        /runs code version [0-9a-f]{16} of project "faults", but the run's driver sent code version 0123456789abcdef/
      )
    },
    SUITE_TIMEOUT
  )
})
