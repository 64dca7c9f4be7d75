/** The runs, newest first, paged; a run that starts or ends elsewhere appears without a reload. */
import { useState } from "react"
import { api, type Run } from "./Api.ts"
import { ErrorBanner } from "./ErrorView.tsx"
import { formatDuration, formatTime } from "./Format.ts"
import { useInstanceEvents, useThrottled } from "./LiveEvents.ts"
import { useLoad } from "./Load.ts"
import { assetPath, Link, runPath } from "./Router.tsx"
import { StatusBadge } from "./Status.tsx"

const PAGE = 50

export const RunsPage = () => {
  const first = useLoad(() => api.runs(PAGE), [])
  const [older, setOlder] = useState<{ runs: ReadonlyArray<Run>; next: number | null } | undefined>()
  const [olderError, setOlderError] = useState<unknown>()
  const reloadSoon = useThrottled(first.reload, 300)
  useInstanceEvents({
    onRunEvent: (event) => {
      if (event._tag === "RunStarted" || event._tag === "RunFinished") reloadSoon()
    }
  })

  const firstRuns = first.value?.runs ?? []
  const seen = new Set(firstRuns.map((r) => r.runId))
  const runs = [...firstRuns, ...(older?.runs ?? []).filter((r) => !seen.has(r.runId))]
  const next = older === undefined ? (first.value?.next ?? null) : older.next

  const loadMore = async () => {
    if (next === null) return
    try {
      const page = await api.runs(PAGE, next)
      setOlder((o) => ({ runs: [...(o?.runs ?? []), ...page.runs], next: page.next }))
    } catch (error) {
      setOlderError(error)
    }
  }

  return (
    <div className="page">
      <header className="page-header">
        <h1>Runs</h1>
        <Link to="/launch" className="button primary">
          Launch…
        </Link>
      </header>
      <ErrorBanner error={first.error} onRetry={first.reload} />
      {first.value === undefined ? (
        first.error === undefined ? (
          <p className="muted">Loading…</p>
        ) : null
      ) : runs.length === 0 ? (
        <p className="muted">
          No runs yet. <Link to="/launch">Launch one</Link>.
        </p>
      ) : (
        <table className="list runs">
          <thead>
            <tr>
              <th>run</th>
              <th>status</th>
              <th>targets</th>
              <th>started</th>
              <th>duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.runId} data-run={run.runId}>
                <td>
                  <Link to={runPath(run.runId)}>{run.runId}</Link>
                </td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td className="targets">
                  {run.targets.slice(0, 6).map((t) => (
                    <Link key={t} to={assetPath(t)}>
                      {t}
                    </Link>
                  ))}
                  {run.targets.length > 6 ? (
                    <span className="muted"> +{run.targets.length - 6} more</span>
                  ) : null}
                </td>
                <td>{formatTime(run.startedAt)}</td>
                <td>{run.endedAt === null ? "running" : formatDuration(run.endedAt - run.startedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBanner error={olderError} />
      {next === null ? null : (
        <button type="button" onClick={() => void loadMore()}>
          Older runs
        </button>
      )}
    </div>
  )
}
