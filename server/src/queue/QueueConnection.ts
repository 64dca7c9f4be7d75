/**
 * How the queue executor reaches Redis: the URL (`--redis` or `MATERIA_REDIS_URL`) with its password
 * redacted in every message, a ping with a timeout on a connection of its own at start-up (BullMQ's
 * connections retry forever, so an unreachable Redis would otherwise hang at the first step), and
 * the names of what Materia keeps there, all under one prefix.
 */
import * as Data from "effect/Data"
import { Redis } from "ioredis"

export const REDIS_URL_ENV = "MATERIA_REDIS_URL"
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"

/** Redis could not be reached, or answered other than PONG. */
export class QueueUnavailable extends Data.TaggedError("QueueUnavailable")<{
  readonly url: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot reach Redis at ${this.url}: ${this.reason}; check that redis-server runs and listens there, the URL (--redis or ${REDIS_URL_ENV}), the password and the firewall`
  }
}

/** The URL with its password (and user) replaced by `***`. */
export const redactRedisUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@")
  }
}

/** A connection for BullMQ (commands wait for a reconnect instead of failing: `maxRetriesPerRequest: null`). */
export const connect = (url: string): Redis => new Redis(url, { maxRetriesPerRequest: null })

/** Checks that Redis answers within `timeoutMillis`, on a connection that gives up instead of retrying. */
export const pingRedis = async (url: string, timeoutMillis = 3000): Promise<void> => {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMillis,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null
  })
  redis.on("error", () => {})
  let timer: NodeJS.Timeout | undefined
  try {
    const answer = await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMillis} ms`)), timeoutMillis)
      })
    ])
    if (answer !== "PONG") throw new Error(`PING answered ${String(answer)}`)
  } catch (error) {
    throw new QueueUnavailable({
      url: redactRedisUrl(url),
      reason: error instanceof Error ? error.message : String(error)
    })
  } finally {
    clearTimeout(timer)
    redis.disconnect()
  }
}

/** The names Materia uses in Redis, under one prefix (tests use a random one). */
export interface QueueNames {
  /** BullMQ's key prefix. */
  readonly prefix: string
  /** The queue of a pool. */
  readonly queue: (pool: string) => string
  /** A live worker's heartbeat record (expires when it stops refreshing it). */
  readonly worker: (id: string) => string
  /** The pattern matching every worker record. */
  readonly workers: string
  /** The pools that ever had a queue (for listings). */
  readonly pools: string
  /** A driving process's heartbeat for a run: a worker skips steps of a run whose driver is gone. */
  readonly driver: (runId: string) => string
  /** The channel drivers publish cancellations of jobs on. */
  readonly cancel: string
}

export const queueNames = (prefix = "materia"): QueueNames => ({
  prefix,
  queue: (pool) => `pool-${pool}`,
  worker: (id) => `${prefix}:worker:${id}`,
  workers: `${prefix}:worker:*`,
  pools: `${prefix}:pools`,
  driver: (runId) => `${prefix}:driver:${runId}`,
  cancel: `${prefix}:cancel`
})
