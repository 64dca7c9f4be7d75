/**
 * The shell of the UI: the top bar (project name, code version, a load error of the project) and the
 * page for the current path — `/` graph, `/asset/<key>`, `/runs`, `/runs/<id>`, `/backfills`,
 * `/backfills/<id>`, `/automation`, `/automation/<schedule|sensor|automation>/<name>`, `/launch`.
 */
import { type ReactNode, useState } from "react"
import { api } from "./Api.ts"
import { AssetPage } from "./AssetPage.tsx"
import { AutomationPage, TicksPage } from "./AutomationPage.tsx"
import { BackfillPage, BackfillsPage } from "./BackfillsPage.tsx"
import { ErrorBanner, ErrorBoundary } from "./ErrorView.tsx"
import { GraphPage } from "./GraphPage.tsx"
import { LaunchPage } from "./LaunchPage.tsx"
import { useInstanceEvents } from "./LiveEvents.ts"
import { useLoad } from "./Load.ts"
import { Link, useLocation } from "./Router.tsx"
import { RunPage } from "./RunPage.tsx"
import { RunsPage } from "./RunsPage.tsx"

const decode = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

const route = (path: string, search: URLSearchParams): { page: ReactNode; section: string } => {
  if (path === "/" || path === "") return { page: <GraphPage />, section: "graph" }
  if (path === "/runs" || path === "/runs/") return { page: <RunsPage />, section: "runs" }
  if (path === "/backfills" || path === "/backfills/")
    return { page: <BackfillsPage />, section: "backfills" }
  const backfill = /^\/backfills\/([^/]+)$/.exec(path)
  if (backfill !== null) {
    const id = decode(backfill[1]!)
    return { page: <BackfillPage key={id} backfillId={id} />, section: "backfills" }
  }
  if (path === "/automation" || path === "/automation/")
    return { page: <AutomationPage />, section: "automation" }
  const ticks = /^\/automation\/(schedule|sensor|automation|freshness)\/(.+)$/.exec(path)
  if (ticks !== null) {
    const kind = ticks[1] as "schedule" | "sensor" | "automation" | "freshness"
    const name = decode(ticks[2]!)
    return { page: <TicksPage key={`${kind}:${name}`} kind={kind} name={name} />, section: "automation" }
  }
  if (path === "/launch")
    return { page: <LaunchPage select={search.get("select") ?? ""} />, section: "launch" }
  const asset = /^\/asset\/(.+)$/.exec(path)
  if (asset !== null) {
    const key = decode(asset[1]!)
    return { page: <AssetPage key={key} assetKey={key} />, section: "graph" }
  }
  const run = /^\/runs\/([^/]+)$/.exec(path)
  if (run !== null) {
    const id = decode(run[1]!)
    return { page: <RunPage key={id} runId={id} />, section: "runs" }
  }
  return {
    page: (
      <div className="page">
        <h1>Not found</h1>
        <p>
          No page at <code>{path}</code>. Go to the <Link to="/">asset graph</Link>.
        </p>
      </div>
    ),
    section: ""
  }
}

export const App = () => {
  const location = useLocation()
  const project = useLoad(() => api.project(), [])
  const [reloaded, setReloaded] = useState(0)
  useInstanceEvents({
    onProjectReloaded: () => {
      setReloaded((n) => n + 1)
      project.reload()
    }
  })
  const { page, section } = route(location.path, location.search)
  const loadError = project.value?.loadError ?? null
  const nav = (to: string, name: string, label: string) => (
    <Link to={to} className={section === name ? "active" : ""}>
      {label}
    </Link>
  )
  return (
    <div className="app">
      <nav className="topbar">
        <Link to="/" className="brand">
          Materia
        </Link>
        <span className="project" title={project.value?.root}>
          {project.value?.name ?? ""}
        </span>
        {nav("/", "graph", "Assets")}
        {nav("/runs", "runs", "Runs")}
        {nav("/backfills", "backfills", "Backfills")}
        {nav("/automation", "automation", "Automation")}
        {nav("/launch", "launch", "Launch")}
        <span className="spacer" />
        {project.value === undefined ? null : (
          <span className="muted code-version" title="code version of the loaded project">
            code {project.value.codeVersion.slice(0, 10)}
            {reloaded > 0 ? " (reloaded)" : ""}
          </span>
        )}
      </nav>
      {loadError === null ? null : (
        <ErrorBanner
          error={
            new Error(
              `the project failed to load: ${loadError.file}${loadError.line === null ? "" : `:${loadError.line}`}: ${loadError.message}`
            )
          }
        />
      )}
      <ErrorBanner error={project.error} onRetry={project.reload} />
      <main>
        <ErrorBoundary resetKey={location.path}>{page}</ErrorBoundary>
      </main>
    </div>
  )
}
