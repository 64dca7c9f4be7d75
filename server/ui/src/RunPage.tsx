/**
 * One run: a step timeline and the logs (ctx.log lines and captured stdout/stderr), updated live
 * from the run's event stream (`/runs/:id/stream`, which replays the stored events first, then
 * follows, then sends `end`). Events are folded by sequence number, so a reconnect that replays
 * them changes nothing. Cancel a running run; re-execute a failed one from its failure.
 */
import { useEffect, useMemo, useReducer, useRef, useState } from "react"
import { ApiError, api, runStreamUrl, type Step, type StoredEvent } from "./Api.ts"
import { ErrorBanner } from "./ErrorView.tsx"
import { formatDuration, formatTime } from "./Format.ts"
import { useInstanceEvents } from "./LiveEvents.ts"
import { assetPath, Link, navigate, runPath } from "./Router.tsx"
import { initial, MAX_LOG_LINES, reducer } from "./RunFold.ts"
import { StatusBadge, statusColor } from "./Status.tsx"

/** How many times (every 250 ms) the page asks again for a run it could not find. */
const NOT_FOUND_RETRIES = 20

const Timeline = (props: {
  readonly steps: ReadonlyArray<[string, Step]>
  readonly start: number
  readonly end: number
  readonly onPick: (id: string) => void
  readonly picked: string | null
}) => {
  const span = Math.max(1, props.end - props.start)
  return (
    <div className="timeline" data-testid="timeline">
      {props.steps.map(([id, step]) => {
        const from = step.startedAt === null ? null : (step.startedAt - props.start) / span
        const to = step.startedAt === null ? null : ((step.endedAt ?? props.end) - props.start) / span
        return (
          <div
            key={id}
            className={`timeline-row${props.picked === id ? " picked" : ""}`}
            data-step={id}
            data-status={step.status}
            data-waiting={step.waiting == null ? undefined : "true"}
          >
            <button
              type="button"
              className="link"
              onClick={() => props.onPick(id)}
              title="Show this step's logs"
            >
              {id}
            </button>
            <StatusBadge status={step.status} />
            <span className="timeline-track">
              {from === null || to === null ? null : (
                <span
                  className={`timeline-bar status-${step.status}`}
                  style={{
                    left: `${(from * 100).toFixed(2)}%`,
                    width: `${Math.max(0.5, (to - from) * 100).toFixed(2)}%`,
                    background: statusColor(step.status)
                  }}
                />
              )}
            </span>
            <span className="timeline-duration">
              {step.startedAt === null ? "" : formatDuration((step.endedAt ?? props.end) - step.startedAt)}
              {step.attempts > 1 ? ` · ${step.attempts} attempts` : ""}
            </span>
            {step.waiting == null ? null : <span className="timeline-waiting">{step.waiting}</span>}
            {step.error === null ? null : <span className="timeline-error">{step.error}</span>}
          </div>
        )
      })}
    </div>
  )
}

const useNow = (active: boolean): number => {
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    if (!active) return
    const timer = window.setInterval(() => setNow(Date.now()), 500)
    return () => window.clearInterval(timer)
  }, [active])
  return now
}

export const RunPage = (props: { readonly runId: string }) => {
  const [state, dispatch] = useReducer(reducer, initial)
  const [loadError, setLoadError] = useState<unknown>()
  const [streamNote, setStreamNote] = useState<string | null>(null)
  const [actionError, setActionError] = useState<unknown>()
  const [picked, setPicked] = useState<string | null>(null)
  const logEnd = useRef<HTMLDivElement>(null)
  useInstanceEvents({
    onRunEvent: (event, seq) => {
      if (event.runId === props.runId) dispatch({ _tag: "event", from: "live", stored: { seq, event } })
    }
  })

  useEffect(() => {
    let alive = true
    let source: EventSource | undefined
    let retry: number | undefined
    /** Loads the run; resolves to the error, if any (shown by the caller). */
    const load = (): Promise<unknown> =>
      api.run(props.runId).then(
        (r) => {
          if (alive) {
            setLoadError(undefined)
            dispatch({ _tag: "loaded", run: r.run, steps: r.steps })
          }
          return undefined
        },
        (error: unknown) => error
      )
    const follow = () => {
      const opened = new EventSource(runStreamUrl(props.runId), { withCredentials: true })
      source = opened
      opened.addEventListener("run-event", (message) => {
        try {
          dispatch({
            _tag: "event",
            from: "log",
            stored: JSON.parse((message as MessageEvent<string>).data) as StoredEvent
          })
          setStreamNote(null)
        } catch (error) {
          setStreamNote(`a live event could not be read: ${String(error)}`)
        }
      })
      opened.addEventListener("end", () => {
        opened.close()
        dispatch({ _tag: "ended" })
        void load().then((error) => {
          if (alive && error !== undefined) setLoadError(error)
        })
      })
      opened.addEventListener("error", () => {
        if (opened.readyState === EventSource.CLOSED)
          setStreamNote("the live event stream closed; reload to follow the run")
        else setStreamNote("the live event stream was interrupted; reconnecting…")
      })
    }
    // A run just launched may not be readable yet: a 404 is retried for a few seconds before it is
    // shown, and the stream (which would fail for good on a 404) opens once the run is found.
    let attempts = 0
    const start = async () => {
      const error = await load()
      if (!alive) return
      if (error === undefined) follow()
      else if (error instanceof ApiError && error.status === 404 && ++attempts < NOT_FOUND_RETRIES)
        retry = window.setTimeout(() => void start(), 250)
      else setLoadError(error)
    }
    void start()
    return () => {
      alive = false
      window.clearTimeout(retry)
      source?.close()
    }
  }, [props.runId])

  const run = state.run?.runId === props.runId ? state.run : undefined
  const now = useNow(run?.status === "running")
  const steps = useMemo(() => [...state.steps], [state.steps])
  const logs = picked === null ? state.logs : state.logs.filter((l) => l.step === picked)

  // biome-ignore lint/correctness/useExhaustiveDependencies: follow the end of the logs as lines arrive
  useEffect(() => {
    logEnd.current?.scrollIntoView({ block: "nearest" })
  }, [logs.length])

  const act = async (action: () => Promise<{ runId: string }>, open: boolean) => {
    setActionError(undefined)
    try {
      const result = await action()
      if (open) navigate(runPath(result.runId))
    } catch (error) {
      setActionError(error)
    }
  }

  if (run === undefined)
    return (
      <div className="page">
        <h1>Run {props.runId}</h1>
        {loadError === undefined ? <p className="muted">Loading…</p> : null}
        <ErrorBanner error={loadError} />
      </div>
    )

  const counts: Record<string, number> = {}
  for (const [, s] of steps) counts[s.status] = (counts[s.status] ?? 0) + 1
  const end = run.endedAt ?? Math.max(now, ...steps.map(([, s]) => s.endedAt ?? 0))

  return (
    <div className="page run-page" data-run-status={run.status}>
      <header className="page-header">
        <h1>Run {run.runId}</h1>
        <StatusBadge status={run.status} />
        {run.status === "running" ? (
          <button type="button" onClick={() => void act(() => api.cancel(run.runId), false)}>
            Cancel
          </button>
        ) : null}
        {run.status === "failed" || run.status === "canceled" ? (
          <button type="button" onClick={() => void act(() => api.reexecute(run.runId), true)}>
            Re-execute from failure
          </button>
        ) : null}
      </header>
      <ErrorBanner error={actionError} />
      <ErrorBanner error={loadError} />
      {streamNote === null || state.ended ? null : <div className="note">{streamNote}</div>}
      <p className="muted">
        Started {formatTime(run.startedAt)} · {run.endedAt === null ? "running for" : "took"}{" "}
        {formatDuration(end - run.startedAt)} · targets{" "}
        {run.targets.map((t) => (
          <Link key={t} to={assetPath(t)} className="tag">
            {t}
          </Link>
        ))}{" "}
        ·{" "}
        {Object.entries(counts)
          .map(([s, n]) => `${n} ${s}`)
          .join(", ")}
      </p>
      <section>
        <h2>Steps</h2>
        {steps.length === 0 ? (
          <p className="muted">No steps: everything selected was fresh.</p>
        ) : (
          <Timeline
            steps={steps}
            start={run.startedAt}
            end={end}
            picked={picked}
            onPick={(id) => setPicked((p) => (p === id ? null : id))}
          />
        )}
      </section>
      <section>
        <h2>
          Logs{picked === null ? "" : ` of ${picked}`}{" "}
          {picked === null ? null : (
            <button type="button" onClick={() => setPicked(null)}>
              Show all
            </button>
          )}
        </h2>
        <div className="logs" data-testid="logs">
          {logs.length === 0 ? <span className="muted">No log lines.</span> : null}
          {state.logs.length === MAX_LOG_LINES ? (
            <div className="muted">
              (the last {MAX_LOG_LINES} lines; earlier ones are in the run's events)
            </div>
          ) : null}
          {logs.map((l) => (
            <div key={`${l.seq}.${l.line ?? 0}`} className={`log-line level-${l.level}`}>
              <span className="log-time">{formatTime(l.at).slice(11)}</span>
              <span className="log-step">{l.step ?? "run"}</span>
              <span className="log-level">{l.level}</span>
              <span className="log-message">{l.message}</span>
            </div>
          ))}
          <div ref={logEnd} />
        </div>
      </section>
    </div>
  )
}
