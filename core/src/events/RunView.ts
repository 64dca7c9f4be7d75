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
  /** The step's partition (or `first...last` range) for a partitioned asset. */
  readonly partition?: string | undefined
  status: StepViewStatus
  attempts: number
  startedAt?: number
  endedAt?: number
  durationMillis?: number
  dataVersion?: string
  error?: ErrorInfo
  skipReason?: string
  /** Why a running step cannot run yet (`waiting for a worker of pool gpu`); gone once it moves on. */
  waiting?: string
  logs: number
}

export interface RunView {
  runId: string
  project: string
  status: RunStatus
  startedAt?: number
  endedAt?: number
  durationMillis?: number
  /** By step label: the asset key, or `key[partition]` for a partitioned asset's step. */
  readonly steps: Map<string, StepView>
}

/** An empty view, before the run's first event. */
export const emptyRunView = (runId: string): RunView => ({
  runId,
  project: "",
  status: "running",
  steps: new Map()
})

const labelOf = (key: string, partition: string | undefined) =>
  partition === undefined ? key : `${key}[${partition}]`

const step = (
  view: RunView,
  event: { readonly key: string; readonly partition?: string | undefined }
): StepView => {
  const label = labelOf(event.key, event.partition)
  let s = view.steps.get(label)
  if (s === undefined) {
    s =
      event.partition === undefined
        ? { key: event.key, status: "pending", attempts: 0, logs: 0 }
        : { key: event.key, partition: event.partition, status: "pending", attempts: 0, logs: 0 }
    view.steps.set(label, s)
  }
  return s
}

/** Applies one event to a view (in place) and returns it. */
export const applyRunEvent = (view: RunView, event: RunEvent): RunView => {
  // Any later event of a waiting step ends its wait.
  if (event._tag !== "StepWaiting" && "key" in event && event.key !== undefined) {
    const s = view.steps.get(labelOf(event.key, "partition" in event ? event.partition : undefined))
    if (s?.waiting !== undefined) delete s.waiting
  }
  switch (event._tag) {
    case "RunStarted":
      view.project = event.project
      view.startedAt = event.at
      view.status = "running"
      for (const s of event.steps) step(view, s)
      break
    case "SourceObserved":
      break
    case "StepStarted": {
      const s = step(view, event)
      s.status = "running"
      s.attempts = event.attempt
      if (s.startedAt === undefined) s.startedAt = event.at
      break
    }
    case "StepWaiting": {
      const s = step(view, event)
      if (s.status === "pending" || s.status === "running") s.waiting = event.reason
      break
    }
    case "StepLog":
      step(view, event).logs++
      break
    case "StepRetrying":
      step(view, event).error = event.error
      break
    case "Materialization": {
      // The value is committed: the step's work is durable even if its end was never recorded
      // (its driver killed before StepSucceeded reached storage). A range step commits one per
      // partition, under its range's label: those leave the view alone.
      const s = view.steps.get(labelOf(event.key, event.partition))
      if (s === undefined) break
      s.dataVersion = event.dataVersion
      s.status = "succeeded"
      break
    }
    case "StepSucceeded": {
      const s = step(view, event)
      s.status = event.outcome === "unchanged" ? "unchanged" : "succeeded"
      s.endedAt = event.at
      s.durationMillis = event.durationMillis
      break
    }
    case "StepFailed": {
      const s = step(view, event)
      s.status = "failed"
      s.error = event.error
      s.endedAt = event.at
      s.durationMillis = event.durationMillis
      break
    }
    case "StepSkipped": {
      const s = step(view, event)
      s.status = "skipped"
      s.skipReason = event.reason
      break
    }
    case "StepCanceled":
      step(view, event).status = "canceled"
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
