/**
 * The `queue` executor, driver side: each attempt becomes a BullMQ job on its pool's queue in Redis,
 * run by any `materia worker` serving that pool; the driver keeps the run's state, retries, timeouts
 * and commits (the executor seam), so a step is committed once, by the driver, from the job of its
 * current attempt. A job lost with Redis, or whose worker died (its lock expired), fails the attempt
 * with a retryable error: the step's retry policy runs it again as a new attempt at a new location.
 * A step whose pool no live worker serves waits, and its run's log says why.
 */

import type { AnyProject } from "@materia/assets"
import {
  decodeStepError,
  type RunEvent,
  type StepAttempt,
  type StepAttemptResult,
  type StepRunner,
  stepLabel
} from "@materia/core"
import { Queue, QueueEvents } from "bullmq"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { Redis } from "ioredis"
import { projectCodeVersion } from "../worker/WorkerProtocol.ts"
import { connect, pingRedis, type QueueNames, queueNames } from "./QueueConnection.ts"
import { jobIdOf, parseFailure, type StepJob, type StepJobDone } from "./StepJob.ts"

/** The job of an attempt was lost (Redis restarted empty) or its worker died holding it. */
export class WorkerLost extends Data.TaggedError("WorkerLost")<{
  readonly assetKey: string
  readonly reason: string
}> {
  override get message(): string {
    return `the attempt of asset "${this.assetKey}" was lost: ${this.reason}`
  }
}

export interface QueueRunnerOptions {
  readonly redisUrl: string
  readonly prefix?: string | undefined
  /** The project name and code version workers must run. */
  readonly project: string
  readonly codeVersion: string
  /** Steps running at once per pool over every run of every driver (BullMQ global concurrency). */
  readonly pools?: Readonly<Record<string, number>> | undefined
  /** How often jobs are looked at when no event came (lost jobs, missed events); default 1 s. */
  readonly sweepMillis?: number | undefined
  /**
   * How long this driver's heartbeat outlives it (default 15 s): once it has expired, workers refuse
   * the jobs of its runs that are still queued. Refreshed every `sweepMillis`.
   */
  readonly driverTtlMillis?: number | undefined
}

export interface QueueRunner extends StepRunner {
  readonly close: () => Promise<void>
}

interface Pending {
  readonly queue: Queue
  readonly attempt: StepAttempt
  readonly emit: (event: RunEvent) => void
  /** Set once the job is in Redis: only then can the sweep tell it was lost. */
  added: boolean
  /** Set while no live worker served the step's pool when it was queued: the run says it waits. */
  waiting: boolean
  readonly settle: (
    outcome: Effect.Effect<StepAttemptResult, unknown>,
    events: ReadonlyArray<RunEvent>
  ) => void
}

/** Whether any live worker serves `pool` (its heartbeat record lists it). */
export const poolServed = async (redis: Redis, names: QueueNames, pool: string): Promise<boolean> => {
  let cursor = "0"
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", names.workers, "COUNT", 200)
    cursor = next
    if (keys.length > 0)
      for (const raw of await redis.mget(...keys)) {
        if (raw === null) continue
        try {
          const record = JSON.parse(raw) as { pools?: ReadonlyArray<string>; stopping?: boolean }
          if (record.stopping !== true && record.pools?.includes(pool)) return true
        } catch {
          // A record being rewritten: the next one decides.
        }
      }
  } while (cursor !== "0")
  return false
}

/** Connects (failing at once, naming the URL, when Redis does not answer) and returns the runner. */
export const makeQueueRunner = async (options: QueueRunnerOptions): Promise<QueueRunner> => {
  await pingRedis(options.redisUrl)
  const names = queueNames(options.prefix)
  const connection = connect(options.redisUrl)
  connection.on("error", () => {})
  const queues = new Map<string, { queue: Queue; events: QueueEvents; ready: Promise<void> }>()
  const pending = new Map<string, Pending>()
  const drivers = new Set<string>()
  const served = new Map<string, { at: number; served: boolean }>()
  const driverTtl = options.driverTtlMillis ?? 15_000

  const finish = (jobId: string, done: StepJobDone | undefined, reason: string | undefined) => {
    const p = pending.get(jobId)
    if (p === undefined) return
    pending.delete(jobId)
    const key = p.attempt.step.key
    if (done !== undefined) return p.settle(Effect.succeed(done.result), done.events)
    const failure = parseFailure(reason)
    if (failure !== undefined) return p.settle(Effect.fail(decodeStepError(failure.error)), failure.events)
    p.settle(
      Effect.fail(
        new WorkerLost({ assetKey: key, reason: `its job failed: ${reason ?? "no reason given"}` })
      ),
      []
    )
  }
  const parseDone = (value: unknown): StepJobDone | undefined => {
    const v = typeof value === "string" ? (JSON.parse(value) as unknown) : value
    return typeof v === "object" && v !== null && (v as { v?: unknown }).v === 1
      ? (v as StepJobDone)
      : undefined
  }

  const queueOf = (pool: string) => {
    let entry = queues.get(pool)
    if (entry === undefined) {
      const name = names.queue(pool)
      const queue = new Queue(name, { connection, prefix: names.prefix })
      const events = new QueueEvents(name, { connection: connect(options.redisUrl), prefix: names.prefix })
      queue.on("error", () => {})
      events.on("error", () => {})
      events.on("completed", ({ jobId, returnvalue }) => {
        if (pending.has(jobId)) finish(jobId, parseDone(returnvalue), undefined)
      })
      events.on("progress", ({ jobId, data }) => {
        const p = pending.get(jobId)
        if (p !== undefined && typeof data === "object" && (data as { _tag?: unknown })._tag === "StepLog")
          p.emit(data as unknown as RunEvent)
      })
      // A waiting step's job taken by a worker: the wait is over, and the run's log says so.
      events.on("active", ({ jobId }) => {
        const p = pending.get(jobId)
        if (p === undefined || !p.waiting) return
        p.waiting = false
        p.emit({
          _tag: "StepLog",
          runId: p.attempt.runId,
          at: Date.now(),
          key: p.attempt.step.key,
          ...(p.attempt.step.partition === undefined ? {} : { partition: p.attempt.step.partition }),
          level: "info",
          message: `a worker of pool ${p.attempt.step.pool} took the step`
        })
      })
      events.on("failed", ({ jobId, failedReason }) => {
        if (pending.has(jobId)) finish(jobId, undefined, failedReason)
      })
      const limit = options.pools?.[pool]
      const ready = Promise.all([
        events.waitUntilReady(),
        limit === undefined ? undefined : queue.setGlobalConcurrency(limit),
        connection.sadd(names.pools, pool)
      ]).then(() => {})
      entry = { queue, events, ready }
      queues.set(pool, entry)
    }
    return entry
  }

  // Each run's driver heartbeat (workers skip steps of a run whose driver is gone), and the sweep
  // that settles jobs whose events were missed and notices jobs lost with Redis.
  const sweep = async () => {
    for (const runId of drivers)
      await connection.set(names.driver(runId), String(process.pid), "PX", driverTtl)
    for (const [jobId, p] of [...pending]) {
      if (!p.added) continue
      const state = await p.queue.getJobState(jobId)
      if (state === "completed") {
        const job = await p.queue.getJob(jobId)
        finish(jobId, parseDone(job?.returnvalue), undefined)
      } else if (state === "failed") {
        const job = await p.queue.getJob(jobId)
        finish(jobId, undefined, job?.failedReason)
      } else if (state === "unknown")
        finish(jobId, undefined, "the job is no longer in Redis (was Redis restarted without persistence?)")
    }
  }
  let sweeping = false
  const timer = setInterval(() => {
    if (sweeping) return
    sweeping = true
    sweep()
      .catch(() => {})
      .finally(() => {
        sweeping = false
      })
  }, options.sweepMillis ?? 1000)

  const waitingNotice = async (pool: string): Promise<boolean> => {
    const known = served.get(pool)
    if (known !== undefined && Date.now() - known.at < 1000) return known.served
    const now = await poolServed(connection, names, pool)
    served.set(pool, { at: Date.now(), served: now })
    return now
  }

  const run = (attempt: StepAttempt, emit: (event: RunEvent) => void) =>
    Effect.callback<StepAttemptResult, unknown>((resume) => {
      const pool = attempt.step.pool
      const { queue, ready } = queueOf(pool)
      const jobId = jobIdOf(attempt)
      let settled = false
      const settle = (
        outcome: Effect.Effect<StepAttemptResult, unknown>,
        events: ReadonlyArray<RunEvent>
      ) => {
        if (settled) return
        settled = true
        for (const event of events) emit(event)
        resume(outcome)
      }
      const entry: Pending = { queue, attempt, emit, added: false, waiting: false, settle }
      pending.set(jobId, entry)
      const start = async () => {
        if (!drivers.has(attempt.runId)) {
          drivers.add(attempt.runId)
          await connection.set(names.driver(attempt.runId), String(process.pid), "PX", driverTtl)
        }
        await ready
        if (!(await waitingNotice(pool))) {
          entry.waiting = true
          emit({
            _tag: "StepWaiting",
            runId: attempt.runId,
            at: Date.now(),
            key: attempt.step.key,
            ...(attempt.step.partition === undefined ? {} : { partition: attempt.step.partition }),
            attempt: attempt.attempt,
            reason: `waiting for a worker of pool ${pool} (no live worker serves it; start one with materia worker --pool ${pool})`
          })
        }
        const data: StepJob = { v: 1, project: options.project, codeVersion: options.codeVersion, attempt }
        await queue.add(stepLabel(attempt.step), data, {
          jobId,
          removeOnComplete: { age: 3600 },
          removeOnFail: { age: 7 * 24 * 3600 }
        })
        entry.added = true
      }
      start().catch((error: unknown) => {
        pending.delete(jobId)
        settle(Effect.fail(error), [])
      })
      // Interrupted (a timeout, a cancel): the job is removed if still waiting, else its worker told to stop.
      return Effect.promise(async () => {
        settled = true
        pending.delete(jobId)
        await connection.publish(names.cancel, jobId).catch(() => 0)
        await queue.remove(jobId).catch(() => 0)
      })
    })

  return {
    run,
    close: async () => {
      clearInterval(timer)
      for (const runId of drivers) await connection.del(names.driver(runId)).catch(() => 0)
      for (const { queue, events } of queues.values()) {
        await events.close().catch(() => {})
        await queue.close().catch(() => {})
      }
      connection.disconnect()
    }
  }
}

/**
 * The queue executor for `project`: workers must run its code version, and its pool limits
 * (`defineProject({ pools: { gpu: 1 } })`) hold across every run of every driver on this Redis.
 */
export const queueExecutor = (
  project: AnyProject,
  options: Omit<QueueRunnerOptions, "project" | "codeVersion">
): Promise<QueueRunner> =>
  makeQueueRunner({
    ...options,
    project: project.name,
    codeVersion: projectCodeVersion(project),
    pools: { ...project.pools, ...options.pools }
  })
