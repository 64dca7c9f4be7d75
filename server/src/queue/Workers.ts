/**
 * What `materia workers` shows: the live workers (their heartbeat records: pools, concurrency, what
 * they run) and the dead-letter jobs (failed jobs of each pool's queue: undecodable payloads, steps
 * refused for another code version, attempts that failed), newest first.
 */
import { Queue } from "bullmq"
import { connect, pingRedis, queueNames } from "./QueueConnection.ts"
import type { WorkerRecord } from "./QueueWorker.ts"

export interface DeadLetter {
  readonly pool: string
  readonly jobId: string
  readonly name: string
  readonly reason: string
  readonly at: number
}

export interface WorkersListing {
  readonly workers: ReadonlyArray<WorkerRecord>
  readonly deadLetters: ReadonlyArray<DeadLetter>
}

/** A failure reason in one line: ours is JSON with the error's message. */
const reasonText = (reason: string | undefined): string => {
  if (reason === undefined) return ""
  try {
    const parsed = JSON.parse(reason) as { error?: { _tag?: string; message?: string } }
    if (parsed.error?.message !== undefined) return `${parsed.error._tag ?? "Error"}: ${parsed.error.message}`
  } catch {
    // BullMQ's own reasons are plain text.
  }
  return reason
}

/** Lists live workers and up to `limit` dead-letter jobs per pool. */
export const listWorkers = async (
  redisUrl: string,
  prefix?: string | undefined,
  limit = 20
): Promise<WorkersListing> => {
  await pingRedis(redisUrl)
  const names = queueNames(prefix)
  const redis = connect(redisUrl)
  redis.on("error", () => {})
  try {
    const workers: Array<WorkerRecord> = []
    let cursor = "0"
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", names.workers, "COUNT", 200)
      cursor = next
      if (keys.length > 0)
        for (const raw of await redis.mget(...keys))
          if (raw !== null) workers.push(JSON.parse(raw) as WorkerRecord)
    } while (cursor !== "0")
    workers.sort((a, b) => a.id.localeCompare(b.id))
    const pools = (await redis.smembers(names.pools)).sort()
    const deadLetters: Array<DeadLetter> = []
    for (const pool of pools) {
      const queue = new Queue(names.queue(pool), { connection: redis, prefix: names.prefix })
      for (const job of await queue.getFailed(0, limit - 1))
        deadLetters.push({
          pool,
          jobId: job.id ?? "",
          name: job.name,
          reason: reasonText(job.failedReason),
          at: job.finishedOn ?? job.timestamp
        })
      await queue.close()
    }
    deadLetters.sort((a, b) => b.at - a.at)
    return { workers, deadLetters }
  } finally {
    redis.disconnect()
  }
}
