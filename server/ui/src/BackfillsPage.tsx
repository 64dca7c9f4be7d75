/**
 * Backfills: the list (newest first) with a progress bar per backfill and a form to launch one
 * (a selection over a partition range), and one backfill's page with its progress, its runs and
 * a Cancel button. Both refresh from the live event stream while runs happen.
 */
import { type FormEvent, useState } from "react"
import { api, type Backfill } from "./Api.ts"
import { ErrorBanner } from "./ErrorView.tsx"
import { formatDuration, formatTime } from "./Format.ts"
import { useInstanceEvents, useThrottled } from "./LiveEvents.ts"
import { useLoad } from "./Load.ts"
import { Link, navigate, runPath } from "./Router.tsx"
import { StatusBadge, statusColor } from "./Status.tsx"

/** The path of a backfill's page. */
export const backfillPath = (id: string): string => `/backfills/${encodeURIComponent(id)}`

const SLICES = ["succeeded", "fresh", "failed", "skipped", "canceled", "running"] as const

/** A bar across the backfill's partitions: done (and already fresh), failed, skipped, running. */
const ProgressBar = (props: { readonly progress: Backfill["progress"] }) => {
  const { progress } = props
  const total = Math.max(1, progress.total)
  const done = SLICES.reduce((n, s) => n + progress[s], 0)
  return (
    <div className="progress" title={SLICES.map((s) => `${progress[s]} ${s}`).join(", ")}>
      <div className="progress-bar">
        {SLICES.map((s) =>
          progress[s] === 0 ? null : (
            <span
              key={s}
              style={{ width: `${(progress[s] / total) * 100}%`, background: statusColor(s) }}
              data-slice={s}
            />
          )
        )}
      </div>
      <span className="muted">
        {progress.succeeded + progress.fresh} of {progress.total} done
        {progress.failed > 0 ? `, ${progress.failed} failed` : ""}
        {progress.total > done ? `, ${progress.total - done} to go` : ""}
      </span>
    </div>
  )
}

const useLiveReload = (reload: () => void) => {
  const soon = useThrottled(reload, 1000)
  useInstanceEvents({
    onRunEvent: (event) => {
      if (event._tag === "RunStarted" || event._tag === "RunFinished" || event._tag === "StepSucceeded")
        soon()
    }
  })
}

const LaunchBackfill = () => {
  const [select, setSelect] = useState("")
  const [partitions, setPartitions] = useState("")
  const [onlyStale, setOnlyStale] = useState(true)
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setError(undefined)
    setBusy(true)
    try {
      const { backfillId } = await api.launchBackfill({
        select: select.trim(),
        ...(partitions.trim() === "" ? {} : { partitions: partitions.trim() }),
        onlyStale
      })
      navigate(backfillPath(backfillId))
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="launch-form backfill-form" onSubmit={submit}>
      <label>
        Selection
        <input
          name="select"
          value={select}
          onChange={(e) => setSelect(e.target.value)}
          placeholder="daily_features, +model, group:ml"
          required
        />
      </label>
      <label>
        Partitions
        <input
          name="partitions"
          value={partitions}
          onChange={(e) => setPartitions(e.target.value)}
          placeholder="2026-01-01...2026-01-31, a list a,b; empty: every partition"
        />
      </label>
      <label className="inline">
        <input type="checkbox" checked={onlyStale} onChange={(e) => setOnlyStale(e.target.checked)} /> Only
        stale partitions
      </label>
      <div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Launching…" : "Launch backfill"}
        </button>
      </div>
      <ErrorBanner error={error} />
    </form>
  )
}

export const BackfillsPage = () => {
  const list = useLoad(() => api.backfills(50), [])
  useLiveReload(list.reload)
  const backfills = list.value?.backfills ?? []
  return (
    <div className="page">
      <header className="page-header">
        <h1>Backfills</h1>
      </header>
      <ErrorBanner error={list.error} onRetry={list.reload} />
      {list.value === undefined ? (
        list.error === undefined ? (
          <p className="muted">Loading…</p>
        ) : null
      ) : backfills.length === 0 ? (
        <p className="muted">No backfills yet.</p>
      ) : (
        <table className="list backfills">
          <thead>
            <tr>
              <th>backfill</th>
              <th>status</th>
              <th>selection</th>
              <th>partitions</th>
              <th>progress</th>
              <th>started</th>
            </tr>
          </thead>
          <tbody>
            {backfills.map((b) => (
              <tr key={b.backfillId} data-backfill={b.backfillId}>
                <td>
                  <Link to={backfillPath(b.backfillId)}>{b.backfillId}</Link>
                </td>
                <td>
                  <StatusBadge status={b.status} />
                </td>
                <td>
                  <code>{b.select}</code>
                </td>
                <td>
                  <code>{b.partitions}</code>
                </td>
                <td>
                  <ProgressBar progress={b.progress} />
                </td>
                <td>{formatTime(b.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Launch a backfill</h2>
      <LaunchBackfill />
    </div>
  )
}

export const BackfillPage = (props: { readonly backfillId: string }) => {
  const one = useLoad(() => api.backfill(props.backfillId), [props.backfillId])
  useLiveReload(one.reload)
  const [actionError, setActionError] = useState<unknown>()
  const backfill = one.value?.backfill
  if (backfill === undefined || backfill.backfillId !== props.backfillId)
    return (
      <div className="page">
        <h1>Backfill {props.backfillId}</h1>
        {one.error === undefined ? <p className="muted">Loading…</p> : null}
        <ErrorBanner error={one.error} onRetry={one.reload} />
      </div>
    )
  const cancel = async () => {
    setActionError(undefined)
    try {
      await api.cancelBackfill(backfill.backfillId)
      one.reload()
    } catch (error) {
      setActionError(error)
    }
  }
  return (
    <div className="page backfill-page" data-backfill-status={backfill.status}>
      <header className="page-header">
        <h1>Backfill {backfill.backfillId}</h1>
        <StatusBadge status={backfill.status} />
        {backfill.status === "running" ? (
          <button type="button" onClick={() => void cancel()}>
            Cancel
          </button>
        ) : null}
      </header>
      <ErrorBanner error={actionError} />
      <ErrorBanner error={one.error} onRetry={one.reload} />
      <p className="muted">
        <code>{backfill.select}</code> over <code>{backfill.partitions}</code>
        {backfill.onlyStale ? " (stale partitions only)" : ""} · started {formatTime(backfill.createdAt)}
        {backfill.endedAt === null ? "" : ` · took ${formatDuration(backfill.endedAt - backfill.createdAt)}`}
      </p>
      {backfill.reason === null ? null : <p className="reasons">{backfill.reason}</p>}
      <ProgressBar progress={backfill.progress} />
      <h2>Runs</h2>
      {backfill.runIds.length === 0 ? (
        <p className="muted">No runs yet.</p>
      ) : (
        <ul className="run-ids">
          {backfill.runIds.map((id) => (
            <li key={id}>
              <Link to={runPath(id)}>{id}</Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
