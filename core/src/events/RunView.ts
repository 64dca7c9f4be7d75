/**
 * The status of a run as a fold over its events. Applying events one at a time gives the same view
 * as applying them all at once, so stores, the UI and reporters can each keep one incrementally.
 */
import type { ErrorInfo, RunEvent, RunStatus } from "./RunEvent.ts"

export type StepViewStatus =
  | "pending"
  | "running"
  | "succeeded"
  | "unchanged"
  | "failed"
  | "skipped"
  | "canceled"

export interface StepView {
  readonly key: string
  status: StepViewStatus
  attempts: number
  startedAt?: number
  endedAt?: number
  durationMillis?: number
  dataVersion?: string
  error?: ErrorInfo
  skipReason?: string
  logs: number
}

export interface RunView {
  runId: string
  project: string
  status: RunStatus
  startedAt?: number
  endedAt?: number
  durationMillis?: number
  readonly steps: Map<string, StepView>
}

/** An empty view, before the run's first event. */
export const emptyRunView = (runId: string): RunView => ({
  runId,
  project: "",
  status: "running",
  steps: new Map()
})

const step = (view: RunView, key: string): StepView => {
  let s = view.steps.get(key)
  if (s === undefined) {
    s = { key, status: "pending", attempts: 0, logs: 0 }
    view.steps.set(key, s)
  }
  return s
}

/** Applies one event to a view (in place) and returns it. */
export const applyRunEvent = (view: RunView, event: RunEvent): RunView => {
  switch (event._tag) {
    case "RunStarted":
      view.project = event.project
      view.startedAt = event.at
      view.status = "running"
      for (const s of event.steps) step(view, s.key)
      break
    case "SourceObserved":
      break
    case "StepStarted": {
      const s = step(view, event.key)
      s.status = "running"
      s.attempts = event.attempt
      if (s.startedAt === undefined) s.startedAt = event.at
      break
    }
    case "StepLog":
      step(view, event.key).logs++
      break
    case "StepRetrying":
      step(view, event.key).error = event.error
      break
    case "Materialization": {
      // The value is committed: the step's work is durable even if its end was never recorded
      // (its driver killed before StepSucceeded reached storage).
      const s = step(view, event.key)
      s.dataVersion = event.dataVersion
      s.status = "succeeded"
      break
    }
    case "StepSucceeded": {
      const s = step(view, event.key)
      s.status = event.outcome === "unchanged" ? "unchanged" : "succeeded"
      s.endedAt = event.at
      s.durationMillis = event.durationMillis
      break
    }
    case "StepFailed": {
      const s = step(view, event.key)
      s.status = "failed"
      s.error = event.error
      s.endedAt = event.at
      s.durationMillis = event.durationMillis
      break
    }
    case "StepSkipped": {
      const s = step(view, event.key)
      s.status = "skipped"
      s.skipReason = event.reason
      break
    }
    case "StepCanceled":
      step(view, event.key).status = "canceled"
      break
    case "RunFinished":
      view.status = event.status
      view.endedAt = event.at
      view.durationMillis = event.durationMillis
      break
  }
  return view
}

/** Folds a whole event list into a view. */
export const foldRunEvents = (runId: string, events: Iterable<RunEvent>): RunView => {
  const view = emptyRunView(runId)
  for (const event of events) applyRunEvent(view, event)
  return view
}
