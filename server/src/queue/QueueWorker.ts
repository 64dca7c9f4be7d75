/**
 * A queue worker (`materia worker --pool gpu`): takes step jobs from the BullMQ queue of each pool
 * it serves and runs each attempt in a child process of its own pool (so a CPU-heavy body cannot
 * starve BullMQ's lock renewal), values through the project's IO managers (S3 or a shared disk). It
 * refuses payloads that do not decode, steps of other code than its own (naming both versions) and
 * steps of runs whose driver is gone. A heartbeat record says it is alive, which pools it serves
 * and what it runs; on close it finishes the steps it runs, then leaves.
 */
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { encodeStepError, type RunEvent } from "@materia/core"
import { type Job, UnrecoverableError, Worker } from "bullmq"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { loadProject } from "../cli/ProjectLoader.ts"
import { makeProcessRunner } from "../worker/ProcessRunner.ts"
import { projectCodeVersion } from "../worker/WorkerProtocol.ts"
import { connect, pingRedis, queueNames } from "./QueueConnection.ts"
import { decodeStepJob, type StepJobDone, type StepJobFailed } from "./StepJob.ts"

export interface QueueWorkerOptions {
  readonly projectFile: string
  /** The project root: the default fs IO manager keeps values under its `.materia/storage`. */
  readonly root: string
  readonly redisUrl: string
  /** Key prefix in Redis (default `materia`). */
  readonly prefix?: string | undefined
  readonly pools: ReadonlyArray<string>
  /** Steps run at once per pool (default 1). */
  readonly concurrency?: number | undefined
  /** How long a job's lock lasts without renewal; a worker silent that long loses its job (default 30 s). */
  readonly lockDurationMillis?: number | undefined
  /** How often stalled jobs are looked for (default 30 s). */
  readonly stalledIntervalMillis?: number | undefined
  /** How often the heartbeat record is refreshed (default 2 s; it expires after 5 of them). */
  readonly heartbeatMillis?: number | undefined
  readonly log?: ((line: string) => void) | undefined
}

/** A worker's heartbeat record. */
export interface WorkerRecord {
  readonly id: string
  readonly host: string
  readonly pid: number
  readonly project: string
  readonly codeVersion: string
  readonly pools: ReadonlyArray<string>
  readonly concurrency: number
  readonly startedAt: number
  readonly at: number
  /** The steps it runs: `runId key[partition] #attempt`. */
  readonly running: ReadonlyArray<string>
  /** Closing: it finishes what it runs and takes no new step. */
  readonly stopping?: boolean | undefined
}

export interface QueueWorker {
  readonly id: string
  readonly codeVersion: string
  /** Finishes the steps it runs (handing back none), then stops. */
  readonly close: () => Promise<void>
}

const refuse = (job: Job, message: string, tag: string): never => {
  const failure: StepJobFailed = {
    v: 1,
    error: { _tag: tag, message, retryable: false },
    events: []
  }
  void job
  throw new UnrecoverableError(JSON.stringify(failure))
}

/** Starts a worker; fails at once (naming the URL) when Redis does not answer. */
export const startQueueWorker = async (options: QueueWorkerOptions): Promise<QueueWorker> => {
  await pingRedis(options.redisUrl)
  const names = queueNames(options.prefix)
  const { project } = await loadProject(options.projectFile)
  const codeVersion = projectCodeVersion(project)
  const concurrency = options.concurrency ?? 1
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`
  const log = options.log ?? (() => {})
  const runner = makeProcessRunner({
    projectFile: options.projectFile,
    values: { root: options.root },
    codeVersion,
    pools: Object.fromEntries(options.pools.map((p) => [p, concurrency]))
  })
  // Children start now: a project that does not load fails the worker at start-up, not its first step.
  try {
    await Promise.all(options.pools.map((pool) => runner.start(pool)))
  } catch (error) {
    await runner.close()
    throw error
  }
  const connection = connect(options.redisUrl)
  connection.on("error", () => {})
  const running = new Map<string, string>()
  const startedAt = Date.now()
  let stopping = false

  const processor = async (job: Job, _token?: string, signal?: AbortSignal): Promise<StepJobDone> => {
    const decoded = decodeStepJob(job.data)
    if (typeof decoded === "string") return refuse(job, decoded, "InvalidPayload")
    if (decoded.project !== project.name || decoded.codeVersion !== codeVersion)
      return refuse(
        job,
        `worker ${id} runs code version ${codeVersion} of project "${project.name}", but the run's driver sent code version ${decoded.codeVersion} of project "${decoded.project}"; restart the worker with the driver's code`,
        "CodeVersionMismatch"
      )
    const attempt = decoded.attempt
    if ((await connection.exists(names.driver(attempt.runId))) === 0)
      return refuse(
        job,
        `the process driving run ${attempt.runId} is gone (no heartbeat); the step was not run`,
        "DriverGone"
      )
    const label = `${attempt.runId} ${attempt.step.key}${attempt.step.partition === undefined ? "" : `[${attempt.step.partition}]`} #${attempt.attempt}`
    running.set(job.id ?? label, label)
    log(`running ${label}`)
    const events: Array<RunEvent> = []
    try {
      const exit = await Effect.runPromiseExit(
        runner.run(attempt, (event) => {
          // Logs go out live (the driver shows them as they come); the rest with the outcome.
          if (event._tag === "StepLog") job.updateProgress(event as unknown as object).catch(() => {})
          else events.push(event)
        }),
        signal === undefined ? undefined : { signal }
      )
      if (Exit.isSuccess(exit)) return { v: 1, result: exit.value, events }
      const error = Cause.hasInterruptsOnly(exit.cause)
        ? { _tag: "Interrupted", message: "the attempt was canceled", retryable: false }
        : encodeStepError(Cause.squash(exit.cause))
      const failure: StepJobFailed = { v: 1, error, events }
      throw new UnrecoverableError(JSON.stringify(failure))
    } finally {
      running.delete(job.id ?? label)
    }
  }

  const workers = options.pools.map(
    (pool) =>
      new Worker(names.queue(pool), processor, {
        connection,
        prefix: names.prefix,
        concurrency,
        lockDuration: options.lockDurationMillis ?? 30_000,
        stalledInterval: options.stalledIntervalMillis ?? 30_000,
        // A job whose worker died fails (the driver retries it as a new attempt, at a new location).
        maxStalledCount: 0
      })
  )
  for (const w of workers) w.on("error", (error) => log(`queue error: ${error.message}`))

  const subscriber = connection.duplicate()
  subscriber.on("error", () => {})
  await subscriber.subscribe(names.cancel)
  subscriber.on("message", (_channel: string, jobId: string) => {
    for (const w of workers) w.cancelJob(jobId, "canceled by the driver")
  })

  const heartbeat = options.heartbeatMillis ?? 2000
  const beat = async () => {
    const record: WorkerRecord = {
      id,
      host: hostname(),
      pid: process.pid,
      project: project.name,
      codeVersion,
      pools: options.pools,
      concurrency,
      startedAt,
      at: Date.now(),
      running: [...running.values()],
      ...(stopping ? { stopping } : {})
    }
    await connection
      .multi()
      .set(names.worker(id), JSON.stringify(record), "PX", heartbeat * 5)
      .sadd(names.pools, ...options.pools)
      .exec()
  }
  await beat()
  const timer = setInterval(() => {
    beat().catch(() => {})
  }, heartbeat)

  return {
    id,
    codeVersion,
    close: async () => {
      stopping = true
      await beat().catch(() => {})
      await Promise.all(workers.map((w) => w.close()))
      clearInterval(timer)
      await runner.close()
      await connection.del(names.worker(id)).catch(() => 0)
      subscriber.disconnect()
      connection.disconnect()
    }
  }
}
