/** Status colors and badges shared by the graph, the asset page and the run pages. */
import type { AssetStatus, RunStatus, StepStatus } from "./Api.ts"

/** One color per status; the CSS classes `status-<name>` use the same. */
export const STATUS_COLORS: Readonly<Record<string, string>> = {
  fresh: "#2e9d57",
  succeeded: "#2e9d57",
  materialized: "#2e9d57",
  unchanged: "#6bb38a",
  stale: "#d4a017",
  missing: "#9aa0a6",
  pending: "#9aa0a6",
  failed: "#d0413d",
  canceled: "#8a5a9e",
  dead: "#7a1f1d",
  skipped: "#b0b5ba",
  source: "#5b7fb8",
  running: "#2f7fe0"
}

export const statusColor = (status: string): string => STATUS_COLORS[status] ?? "#9aa0a6"

export const StatusBadge = (props: { readonly status: AssetStatus | RunStatus | StepStatus | string }) => (
  <span className={`badge status-${props.status}`} data-status={props.status}>
    {props.status}
  </span>
)
