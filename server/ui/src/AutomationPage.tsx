/**
 * Schedules, sensors and automation conditions: the list (status, next and last tick, Start and
 * Stop buttons, the daemon's state), and one schedule's, sensor's or automated asset's tick
 * history with the runs each tick launched. Both refresh every few seconds and when runs start
 * or end, since the daemon ticks without telling the browser.
 */
import { type ReactNode, useCallback, useEffect, useState } from "react"
import { api, type Daemon, type InstigatorKind, type InstigatorStatus, type Tick } from "./Api.ts"
import { ErrorBanner } from "./ErrorView.tsx"
import { formatDuration, formatTime } from "./Format.ts"
import { useInstanceEvents, useThrottled } from "./LiveEvents.ts"
import { useLoad } from "./Load.ts"
import { assetPath, Link, runPath } from "./Router.tsx"
import { StatusBadge } from "./Status.tsx"

/** How often the pages ask again: ticks happen in the daemon, which sends no live event. */
const REFRESH_MILLIS = 2000

/** The path of the tick history of a schedule, a sensor or an automated asset. */
export const ticksPath = (kind: InstigatorKind, name: string): string =>
  `/automation/${kind}/${encodeURIComponent(name)}`

/** Reloads every REFRESH_MILLIS and soon after a run starts or ends. */
const useLiveReload = (reload: () => void) => {
  const soon = useThrottled(reload, 500)
  useInstanceEvents({
    onRunEvent: (event) => {
      if (event._tag === "RunStarted" || event._tag === "RunFinished") soon()
    }
  })
  useEffect(() => {
    const timer = window.setInterval(reload, REFRESH_MILLIS)
    return () => window.clearInterval(timer)
  }, [reload])
}

const DAEMON_STATUS: Readonly<Record<Daemon["state"], string>> = {
  off: "skipped",
  starting: "pending",
  running: "running",
  waiting: "stale",
  restarting: "stale",
  failed: "failed"
}

const DaemonBanner = (props: { readonly daemon: Daemon | undefined }) => {
  const { daemon } = props
  if (daemon === undefined) return null
  return (
    <p className="daemon" data-daemon-state={daemon.state}>
      <span className={`badge status-${DAEMON_STATUS[daemon.state]}`}>daemon {daemon.state}</span>{" "}
      <span className="muted">
        {daemon.message}
        {daemon.leaseHolder === null ? "" : ` · lease: ${daemon.leaseHolder}`}
      </span>
    </p>
  )
}

const StatusCell = (props: { readonly status: InstigatorStatus; readonly isDefault?: boolean }) => (
  <>
    <StatusBadge status={props.status} />
    {props.isDefault === true ? <span className="muted"> (default)</span> : null}
  </>
)

/** A tick in a cell: its time and status, with its detail as a tooltip. */
const LastTick = (props: { readonly tick: Tick | null }) => {
  const { tick } = props
  if (tick === null) return <span className="muted">never</span>
  return (
    <span title={tick.error ?? tick.skipReason ?? tick.reason ?? ""}>
      {formatTime(tick.tickAt)} <StatusBadge status={tick.status} />
      {tick.runs.length > 0 ? (
        <span className="muted">
          {" "}
          {tick.runs.length} run{tick.runs.length === 1 ? "" : "s"}
        </span>
      ) : null}
    </span>
  )
}

/** Start or Stop, with the server's refusal shown under the table. */
const Toggle = (props: {
  readonly name: string
  readonly status: InstigatorStatus
  readonly set: (name: string, action: "start" | "stop") => Promise<unknown>
  readonly done: () => void
  readonly failed: (error: unknown) => void
}) => {
  const [busy, setBusy] = useState(false)
  const action = props.status === "running" ? "stop" : "start"
  const click = async () => {
    setBusy(true)
    props.failed(undefined)
    try {
      await props.set(props.name, action)
      props.done()
    } catch (error) {
      props.failed(error)
    } finally {
      setBusy(false)
    }
  }
  return (
    <button
      type="button"
      className={action === "start" ? "primary" : ""}
      disabled={busy}
      data-action={action}
      onClick={() => void click()}
    >
      {action === "start" ? "Start" : "Stop"}
    </button>
  )
}

/** One listing of the page: its title, a table of `items` (one `row` each), or why there is none. */
const ListSection = <T,>(props: {
  readonly title: string
  readonly empty: string
  readonly items: ReadonlyArray<T> | undefined
  readonly error: unknown
  readonly retry: () => void
  /** The table's class, after `list`. */
  readonly className: string
  readonly columns: ReadonlyArray<string>
  readonly row: (item: T) => ReactNode
}) => (
  <>
    <h2>{props.title}</h2>
    <ErrorBanner error={props.error} onRetry={props.retry} />
    {props.items === undefined ? (
      props.error === undefined ? (
        <p className="muted">Loading…</p>
      ) : null
    ) : props.items.length === 0 ? (
      <p className="muted">{props.empty}</p>
    ) : (
      <table className={`list ${props.className}`}>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c === "" ? "(actions)" : c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>{props.items.map(props.row)}</tbody>
      </table>
    )}
  </>
)

export const AutomationPage = () => {
  const schedules = useLoad(() => api.schedules(), [])
  const sensors = useLoad(() => api.sensors(), [])
  const automations = useLoad(() => api.automations(), [])
  const freshness = useLoad(() => api.freshness(), [])
  const daemon = useLoad(() => api.daemon(), [])
  const [actionError, setActionError] = useState<unknown>()
  const { reload: reloadSchedules } = schedules
  const { reload: reloadSensors } = sensors
  const { reload: reloadAutomations } = automations
  const { reload: reloadFreshness } = freshness
  const { reload: reloadDaemon } = daemon
  const reloadAll = useCallback(() => {
    reloadSchedules()
    reloadSensors()
    reloadAutomations()
    reloadFreshness()
    reloadDaemon()
  }, [reloadSchedules, reloadSensors, reloadAutomations, reloadFreshness, reloadDaemon])
  useLiveReload(reloadAll)
  return (
    <div className="page automation-page">
      <header className="page-header">
        <h1>Automation</h1>
      </header>
      <DaemonBanner daemon={daemon.value} />
      <ErrorBanner error={daemon.error} />
      <ErrorBanner error={actionError} />
      <ListSection
        title="Schedules"
        empty="No schedules: defineProject({ schedules: [schedule(name, { cron, select })] })."
        items={schedules.value?.schedules}
        error={schedules.error}
        retry={schedules.reload}
        className="schedules"
        columns={["schedule", "cron", "selection", "status", "next tick", "last tick", ""]}
        row={(s) => (
          <tr key={s.name} data-schedule={s.name} data-status={s.status}>
            <td>
              <Link to={ticksPath("schedule", s.name)}>{s.name}</Link>
            </td>
            <td>
              <code>{s.cron}</code> <span className="muted">{s.timezone}</span>
            </td>
            <td>
              <code>{s.select.join(", ")}</code>
            </td>
            <td>
              <StatusCell status={s.status} isDefault={s.isDefault} />
            </td>
            <td>{s.nextTicks.length === 0 ? "—" : formatTime(s.nextTicks[0])}</td>
            <td>
              <LastTick tick={s.lastTick} />
            </td>
            <td>
              <Toggle
                name={s.name}
                status={s.status}
                set={api.setScheduleStatus}
                done={schedules.reload}
                failed={setActionError}
              />
            </td>
          </tr>
        )}
      />
      <ListSection
        title="Sensors"
        empty="No sensors: defineProject({ sensors: [sensor(name, { interval, evaluate })] })."
        items={sensors.value?.sensors}
        error={sensors.error}
        retry={sensors.reload}
        className="sensors"
        columns={["sensor", "interval", "status", "cursor", "next tick", "last tick", ""]}
        row={(s) => (
          <tr key={s.name} data-sensor={s.name} data-status={s.status}>
            <td>
              <Link to={ticksPath("sensor", s.name)}>{s.name}</Link>
            </td>
            <td>{formatDuration(s.intervalMillis)}</td>
            <td>
              <StatusCell status={s.status} isDefault={s.isDefault} />
            </td>
            <td>{s.cursor === null ? <span className="muted">—</span> : <code>{s.cursor}</code>}</td>
            <td>{formatTime(s.nextTickAt)}</td>
            <td>
              <LastTick tick={s.lastTick} />
            </td>
            <td>
              <Toggle
                name={s.name}
                status={s.status}
                set={api.setSensorStatus}
                done={sensors.reload}
                failed={setActionError}
              />
            </td>
          </tr>
        )}
      />
      <ListSection
        title="Automation conditions"
        empty="No automation conditions: defineProject({ automations: [automate(assetKey, eager())] })."
        items={automations.value?.automations}
        error={automations.error}
        retry={automations.reload}
        className="automations"
        columns={["asset", "condition", "status", "last evaluation", "reason"]}
        row={(a) => (
          <tr key={a.key} data-automation={a.key}>
            <td>
              <Link to={assetPath(a.key)}>{a.key}</Link>
            </td>
            <td>
              <code>{a.condition}</code>
            </td>
            <td>
              <StatusBadge status={a.status} />
            </td>
            <td>
              <Link to={ticksPath("automation", a.key)}>
                {a.lastTick === null ? "never" : formatTime(a.lastTick.tickAt)}
              </Link>{" "}
              {a.lastTick === null ? null : <StatusBadge status={a.lastTick.status} />}
            </td>
            <td className="muted">{a.lastTick?.error ?? a.lastTick?.reason ?? ""}</td>
          </tr>
        )}
      />
      <ListSection
        title="Freshness policies"
        empty='No freshness policies: asset(key, { freshness: { maxAge: "1 day" } }, body).'
        items={freshness.value?.policies}
        error={freshness.error}
        retry={freshness.reload}
        className="freshness"
        columns={["asset", "max age", "verdict", "last evaluation", "reason"]}
        row={(f) => (
          <tr key={f.key} data-freshness={f.key} data-verdict={f.verdict ?? ""}>
            <td>
              <Link to={assetPath(f.key)}>{f.key}</Link>
            </td>
            <td>{formatDuration(f.maxAgeMillis)}</td>
            <td>
              {f.verdict === null ? <span className="muted">—</span> : <StatusBadge status={f.verdict} />}
            </td>
            <td>
              <Link to={ticksPath("freshness", f.key)}>
                {f.lastTick === null ? "never" : formatTime(f.lastTick.tickAt)}
              </Link>
            </td>
            <td className="muted">{f.lastTick?.error ?? f.lastTick?.reason ?? ""}</td>
          </tr>
        )}
      />
    </div>
  )
}

const KIND_LABEL: Readonly<Record<InstigatorKind, string>> = {
  schedule: "Schedule",
  sensor: "Sensor",
  automation: "Automation of",
  freshness: "Freshness of"
}

/** The runs of a tick: links to their runs once launched, else their queue status. */
const TickRuns = (props: { readonly tick: Tick }) => (
  <ul className="tick-runs">
    {props.tick.runs.map((r) => (
      <li key={r.id} title={r.error ?? ""}>
        {r.runId === null ? <code>{r.id.slice(0, 8)}</code> : <Link to={runPath(r.runId)}>{r.runId}</Link>}{" "}
        <StatusBadge status={r.status} />
        {r.partitions === null ? null : <span className="muted"> {r.partitions.join(", ")}</span>}
      </li>
    ))}
  </ul>
)

/** One schedule's, sensor's or automated asset's ticks, newest first, with Start/Stop. */
export const TicksPage = (props: { readonly kind: InstigatorKind; readonly name: string }) => {
  const { kind, name } = props
  const ticks = useLoad(() => api.ticks(kind, name, 100), [kind, name])
  const summary = useLoad(async () => {
    if (kind === "schedule") {
      const found = (await api.schedules()).schedules.find((s) => s.name === name)
      return found === undefined
        ? undefined
        : {
            status: found.status,
            toggle: found.status,
            detail: `${found.cron} (${found.timezone}) · ${found.select.join(", ")}`
          }
    }
    if (kind === "sensor") {
      const found = (await api.sensors()).sensors.find((s) => s.name === name)
      return found === undefined
        ? undefined
        : {
            status: found.status,
            toggle: found.status,
            detail: `every ${formatDuration(found.intervalMillis)}`
          }
    }
    if (kind === "freshness") {
      const found = (await api.freshness()).policies.find((f) => f.key === name)
      return found === undefined
        ? undefined
        : {
            status: found.verdict ?? "not evaluated",
            detail: `max age ${formatDuration(found.maxAgeMillis)}`
          }
    }
    const found = (await api.automations()).automations.find((a) => a.key === name)
    return found === undefined ? undefined : { status: found.status, detail: found.condition }
  }, [kind, name])
  const [actionError, setActionError] = useState<unknown>()
  const { reload: reloadTicks } = ticks
  const { reload: reloadSummary } = summary
  const reloadAll = useCallback(() => {
    reloadTicks()
    reloadSummary()
  }, [reloadTicks, reloadSummary])
  useLiveReload(reloadAll)
  const status = summary.value?.status
  const list = ticks.value?.ticks ?? []
  return (
    <div className="page ticks-page" data-kind={kind} data-name={name} data-status={status ?? ""}>
      <header className="page-header">
        <h1>
          {KIND_LABEL[kind]} {name}
        </h1>
        {status === undefined ? null : <StatusBadge status={status} />}
        {summary.value?.toggle === undefined ? null : (
          <Toggle
            name={name}
            status={summary.value.toggle}
            set={kind === "schedule" ? api.setScheduleStatus : api.setSensorStatus}
            done={reloadAll}
            failed={setActionError}
          />
        )}
      </header>
      <p className="muted">
        <Link to="/automation">All schedules and sensors</Link>
        {summary.value === undefined ? "" : ` · ${summary.value.detail}`}
      </p>
      <ErrorBanner error={actionError} />
      <ErrorBanner error={summary.error} />
      <ErrorBanner error={ticks.error} onRetry={ticks.reload} />
      {ticks.value === undefined ? (
        ticks.error === undefined ? (
          <p className="muted">Loading…</p>
        ) : null
      ) : list.length === 0 ? (
        <p className="muted">No ticks yet{status === "stopped" ? ": it is stopped" : ""}.</p>
      ) : (
        <table className="list ticks">
          <thead>
            <tr>
              <th>tick</th>
              <th>evaluated</th>
              <th>status</th>
              <th>runs</th>
              <th>detail</th>
            </tr>
          </thead>
          <tbody>
            {list.map((t) => (
              <tr key={t.tickId} data-tick={t.tickId} data-status={t.status}>
                <td>{formatTime(t.tickAt)}</td>
                <td>{formatTime(t.evaluatedAt)}</td>
                <td>
                  <StatusBadge status={t.status} />
                </td>
                <td>{t.runs.length === 0 ? <span className="muted">—</span> : <TickRuns tick={t} />}</td>
                <td className={t.error === null ? "muted" : "tick-error"}>
                  {t.error ?? t.skipReason ?? t.reason ?? ""}
                  {t.cursor === null ? null : (
                    <span className="muted">
                      {" "}
                      cursor <code>{t.cursor}</code>
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
