/**
 * `useInstanceEvents`: the instance's live event stream (`GET /api/v1/events`, Server-Sent Events)
 * for pages that follow every run — the graph's statuses, an asset page, the runs list.
 */
import { useEffect, useRef } from "react"
import { eventsUrl, type RunEvent } from "./Api.ts"

export interface InstanceListener {
  /** `seq`: the event's position in its run's log. */
  readonly onRunEvent?: (event: RunEvent, seq: number) => void
  readonly onProjectReloaded?: () => void
}

/** Calls the listener for each live event while the component is mounted (one EventSource). */
export const useInstanceEvents = (listener: InstanceListener): void => {
  const current = useRef(listener)
  current.current = listener
  useEffect(() => {
    const source = new EventSource(eventsUrl, { withCredentials: true })
    source.addEventListener("run-event", (message) => {
      try {
        const data = JSON.parse((message as MessageEvent<string>).data) as { seq: number; event: RunEvent }
        current.current.onRunEvent?.(data.event, data.seq)
      } catch {
        // A malformed message is ignored; the next one still arrives.
      }
    })
    source.addEventListener("project-reloaded", () => current.current.onProjectReloaded?.())
    return () => source.close()
  }, [])
}

/** Calls `fn` once, `millis` after the last of a burst of calls. */
export const useDebounced = (fn: () => void, millis: number): (() => void) => {
  const latest = useRef(fn)
  latest.current = fn
  const timer = useRef<number | undefined>(undefined)
  useEffect(() => () => window.clearTimeout(timer.current), [])
  const debounced = useRef(() => {
    window.clearTimeout(timer.current)
    timer.current = window.setTimeout(() => latest.current(), millis)
  })
  return debounced.current
}

/** Whether the event ends a step (its status is known from here on). */
export const endsStep = (event: RunEvent): boolean =>
  event.key !== undefined && /^Step(Succeeded|Failed|Skipped|Canceled)$/.test(event._tag)
