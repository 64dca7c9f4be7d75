/**
 * `useInstanceEvents`: the instance's live event stream (`GET /api/v1/events`, Server-Sent Events)
 * for pages that follow every run — the graph's statuses, an asset page, the runs list. One
 * EventSource per tab serves every listener: browsers allow few connections per server over
 * HTTP/1.1, and each stream holds one.
 */
import { useEffect, useRef } from "react"
import { eventsUrl, type RunEvent } from "./Api.ts"

export interface InstanceListener {
  /** `seq`: the event's position in its run's log. */
  readonly onRunEvent?: (event: RunEvent, seq: number) => void
  readonly onProjectReloaded?: () => void
}

const listeners = new Set<{ current: InstanceListener }>()
let source: EventSource | undefined

const open = (): EventSource => {
  const opened = new EventSource(eventsUrl, { withCredentials: true })
  opened.addEventListener("run-event", (message) => {
    let data: { seq: number; event: RunEvent }
    try {
      data = JSON.parse((message as MessageEvent<string>).data) as { seq: number; event: RunEvent }
    } catch {
      return // A malformed message is ignored; the next one still arrives.
    }
    for (const listener of listeners) listener.current.onRunEvent?.(data.event, data.seq)
  })
  opened.addEventListener("project-reloaded", () => {
    for (const listener of listeners) listener.current.onProjectReloaded?.()
  })
  return opened
}

/** Calls the listener for each live event while the component is mounted. */
export const useInstanceEvents = (listener: InstanceListener): void => {
  const current = useRef(listener)
  current.current = listener
  useEffect(() => {
    listeners.add(current)
    source ??= open()
    return () => {
      listeners.delete(current)
      if (listeners.size === 0) {
        source?.close()
        source = undefined
      }
    }
  }, [])
}

/**
 * Calls `fn` at most once per `millis`: the first call schedules it, calls until then join that
 * one. A burst of events (a run of many steps) refreshes a page every `millis`, not per event.
 */
export const useThrottled = (fn: () => void, millis: number): (() => void) => {
  const latest = useRef(fn)
  latest.current = fn
  const timer = useRef<number | undefined>(undefined)
  useEffect(() => () => window.clearTimeout(timer.current), [])
  const throttled = useRef(() => {
    if (timer.current !== undefined) return
    timer.current = window.setTimeout(() => {
      timer.current = undefined
      latest.current()
    }, millis)
  })
  return throttled.current
}

/** Whether the event ends a step (its status is known from here on). */
export const endsStep = (event: RunEvent): boolean =>
  event.key !== undefined && /^Step(Succeeded|Failed|Skipped|Canceled)$/.test(event._tag)
