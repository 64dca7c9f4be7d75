/**
 * The state of the run page as a fold of the run's events: steps in plan order with their status,
 * attempts, waits and errors, and the log lines. Events are folded by sequence number, each once,
 * so a reconnect that replays them changes nothing; live events that arrive early wait for their
 * predecessors.
 */
import type { Run, Step, StepStatus, StoredEvent } from "./Api.ts"

export interface LogLine {
  readonly seq: number
  /** The line's index within its event (a StepOutput event may carry several). */
  readonly line?: number
  readonly at: number
  readonly step: string | null
  readonly level: string
  readonly message: string
}

export interface State {
  readonly run: Run | undefined
  /** Steps in plan order, by step id (`key` or `key[partition]`). */
  readonly steps: ReadonlyMap<string, Step>
  readonly logs: ReadonlyArray<LogLine>
  /** The last event folded (seqs start at 1); events are folded in seq order, each once. */
  readonly lastSeq: number
  /** Live events that arrived ahead of their predecessors, by seq. */
  readonly early: ReadonlyMap<number, StoredEvent>
  readonly ended: boolean
}

export type Action =
  | { readonly _tag: "loaded"; readonly run: Run; readonly steps: ReadonlyArray<Step> }
  /**
   * An event from the run's stream (the stored log, in order: folded at once) or from the
   * instance's live stream (ahead of the stored log while the executor buffers its writes: held
   * until the events before it are folded).
   */
  | { readonly _tag: "event"; readonly stored: StoredEvent; readonly from: "log" | "live" }
  | { readonly _tag: "ended" }

export const stepId = (key: string, partition: string | null | undefined): string =>
  partition == null ? key : `${key}[${partition}]`

export const blankStep = (key: string, partition: string | null): Step => ({
  key,
  partition,
  status: "pending",
  startedAt: null,
  endedAt: null,
  attempts: 0,
  error: null
})

const STEP_ENDS: Readonly<Record<string, StepStatus>> = {
  StepFailed: "failed",
  StepSkipped: "skipped",
  StepCanceled: "canceled"
}

/** The page keeps the last lines of a run's log; the API's paged events hold them all. */
export const MAX_LOG_LINES = 5000

const withLogs = (logs: ReadonlyArray<LogLine>, more: ReadonlyArray<LogLine>): ReadonlyArray<LogLine> => {
  const all = [...logs, ...more]
  return all.length > MAX_LOG_LINES ? all.slice(all.length - MAX_LOG_LINES) : all
}

/** The state with the wait of `event`'s step ended: any later event of a waiting step ends it. */
const endWait = (state: State, event: StoredEvent["event"]): State => {
  if (event._tag === "StepWaiting" || event.key === undefined) return state
  const id = stepId(event.key, event.partition)
  const step = state.steps.get(id)
  if (step?.waiting == null) return state
  return { ...state, steps: new Map(state.steps).set(id, { ...step, waiting: null }) }
}

const foldEvent = (previous: State, { seq, event }: StoredEvent): State => {
  if (seq <= previous.lastSeq) return previous
  const state = endWait(previous, event)
  const next = { ...state, lastSeq: seq }
  const id = event.key === undefined ? null : stepId(event.key, event.partition)
  const update = (patch: (step: Step) => Step): State => {
    if (id === null || event.key === undefined) return next
    const steps = new Map(state.steps)
    steps.set(id, patch(steps.get(id) ?? blankStep(event.key, event.partition ?? null)))
    return { ...next, steps }
  }
  switch (event._tag) {
    case "RunStarted": {
      const steps = new Map(state.steps)
      for (const s of event.steps ?? [])
        if (!steps.has(stepId(s.key, s.partition)))
          steps.set(stepId(s.key, s.partition), blankStep(s.key, s.partition ?? null))
      return { ...next, steps }
    }
    case "StepStarted":
      return update((s) => ({
        ...s,
        status: "running",
        startedAt: s.startedAt ?? event.at,
        endedAt: null,
        attempts: Math.max(s.attempts, event.attempt ?? s.attempts + 1)
      }))
    case "StepWaiting":
      return update((s) => ({ ...s, waiting: event.reason ?? "waiting" }))
    case "StepRetrying":
      return {
        ...update((s) => ({ ...s, error: event.error?.message ?? s.error })),
        logs: withLogs(state.logs, [
          { seq, at: event.at, step: id, level: "warn", message: `retrying: ${event.error?.message ?? ""}` }
        ])
      }
    case "StepSucceeded":
      return update((s) => ({
        ...s,
        status: event.outcome === "unchanged" ? "unchanged" : "succeeded",
        endedAt: event.at
      }))
    case "StepFailed":
    case "StepSkipped":
    case "StepCanceled": {
      const message = event.error?.message ?? event.reason ?? null
      const updated = update((s) => ({
        ...s,
        status: STEP_ENDS[event._tag]!,
        endedAt: event.at,
        error: message ?? s.error
      }))
      return message === null || event._tag === "StepCanceled"
        ? updated
        : {
            ...updated,
            logs: withLogs(state.logs, [
              { seq, at: event.at, step: id, level: event._tag === "StepFailed" ? "error" : "info", message }
            ])
          }
    }
    case "StepLog":
    case "StepOutput": {
      const lines = event.lines ?? [event.message ?? event.text ?? ""]
      const level = event.stream ?? event.level ?? "info"
      return {
        ...next,
        logs: withLogs(
          state.logs,
          lines.map((message, line) => ({ seq, line, at: event.at, step: id, level, message }))
        )
      }
    }
    case "CheckEvaluated":
      return {
        ...next,
        logs: withLogs(state.logs, [
          {
            seq,
            at: event.at,
            step: id,
            level: event.passed === true ? "info" : "error",
            message: `check ${event.check ?? ""} ${event.passed === true ? "passed" : "failed"}${event.message === undefined ? "" : `: ${event.message}`}`
          }
        ])
      }
    case "RunFinished":
      return state.run === undefined
        ? next
        : {
            ...next,
            run: {
              ...state.run,
              status: (event.status as Run["status"] | undefined) ?? state.run.status,
              endedAt: event.at
            },
            logs:
              event.reason === undefined
                ? state.logs
                : withLogs(state.logs, [
                    { seq, at: event.at, step: null, level: "warn", message: event.reason }
                  ])
          }
    default:
      return next
  }
}

export const reducer = (state: State, action: Action): State => {
  switch (action._tag) {
    case "loaded": {
      // The snapshot wins for steps it knows; events already folded stay (they are newer or equal).
      const steps = new Map<string, Step>()
      for (const s of action.steps) steps.set(stepId(s.key, s.partition), s)
      for (const [id, s] of state.steps) if (!steps.has(id) || s.status !== "pending") steps.set(id, s)
      const run =
        state.run !== undefined && state.run.status !== "running" && action.run.status === "running"
          ? state.run
          : action.run
      return { ...state, run, steps }
    }
    case "event": {
      const { seq } = action.stored
      if (seq <= state.lastSeq) return state
      if (action.from === "live" && seq > state.lastSeq + 1) {
        const early = new Map(state.early)
        early.set(seq, action.stored)
        return { ...state, early }
      }
      let next = foldEvent(state, action.stored)
      // Fold the held live events that now follow on.
      for (
        let following = next.early.get(next.lastSeq + 1);
        following !== undefined;
        following = next.early.get(next.lastSeq + 1)
      )
        next = foldEvent(next, following)
      if (next.early.size > 0) {
        const early = new Map([...next.early].filter(([s]) => s > next.lastSeq))
        next = { ...next, early }
      }
      return next
    }
    case "ended":
      return { ...state, ended: true }
  }
}

export const initial: State = {
  run: undefined,
  steps: new Map(),
  logs: [],
  lastSeq: 0,
  early: new Map(),
  ended: false
}
