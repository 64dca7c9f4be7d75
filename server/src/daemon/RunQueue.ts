/**
 * The run queue's decision, pure: which queued runs may launch now, in queue order, under a
 * maximum of concurrent runs and per-tag limits. A run blocked by a tag limit does not block the
 * runs behind it that the limit does not cover.
 */
import type { QueuedRun } from "./DaemonStore.ts"

/** At most `limit` runs at once among those tagged `key` (with `value`, when given). */
export interface TagLimit {
  readonly key: string
  readonly value?: string | undefined
  readonly limit: number
}

export interface QueueLimits {
  readonly maxConcurrentRuns: number
  readonly tagLimits?: ReadonlyArray<TagLimit> | undefined
}

const covers = (limit: TagLimit, run: QueuedRun): boolean => {
  const tag = run.request.tags?.[limit.key]
  return tag !== undefined && (limit.value === undefined || tag === limit.value)
}

/** The queued runs to launch now, given the runs already active (launched, not ended). */
export const launchable = (
  queued: ReadonlyArray<QueuedRun>,
  active: ReadonlyArray<QueuedRun>,
  limits: QueueLimits
): ReadonlyArray<QueuedRun> => {
  const tagLimits = limits.tagLimits ?? []
  const inUse = tagLimits.map((l) => active.filter((r) => covers(l, r)).length)
  let running = active.length
  const out: Array<QueuedRun> = []
  for (const run of queued) {
    if (running >= limits.maxConcurrentRuns) break
    const blocked = tagLimits.some((l, i) => covers(l, run) && inUse[i]! >= l.limit)
    if (blocked) continue
    tagLimits.forEach((l, i) => {
      if (covers(l, run)) inUse[i]!++
    })
    running++
    out.push(run)
  }
  return out
}

/** Parses `key=value:limit` or `key:limit` (a CLI `--tag-limit`); undefined when malformed. */
export const parseTagLimit = (text: string): TagLimit | undefined => {
  const m = /^([^=:]+)(?:=([^:]*))?:(\d+)$/.exec(text)
  if (m === null) return undefined
  const limit = Number(m[3])
  if (!Number.isInteger(limit) || limit < 1) return undefined
  return { key: m[1]!, ...(m[2] === undefined ? {} : { value: m[2] }), limit }
}
