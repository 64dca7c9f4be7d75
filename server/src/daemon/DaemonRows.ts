/**
 * The rows of the daemon's tables as the SQL stores read them (SQLite and PostgreSQL have the same
 * columns), and how each becomes the record the DaemonStore interface returns.
 */
import { RunRequestSchema } from "@materia/assets"
import * as Schema from "effect/Schema"
import type {
  InstigatorKind,
  InstigatorState,
  QueuedRun,
  QueuedRunPatch,
  QueuedRunStatus,
  TickRecord,
  TickStatus
} from "./DaemonStore.ts"

export interface StateRow {
  kind: InstigatorKind
  name: string
  status: "running" | "stopped"
  started_at: number | null
  last_tick_at: number | null
  cursor: string | null
}

export interface TickRow {
  tick_id: string
  kind: InstigatorKind
  name: string
  tick_at: number
  evaluated_at: number
  status: TickStatus
  run_ids: string
  skip_reason: string | null
  reason: string | null
  error: string | null
  cursor: string | null
}

export interface RunRow {
  id: string
  tick_id: string
  kind: InstigatorKind
  name: string
  request: string
  status: QueuedRunStatus
  enqueued_at: number
  launched_at: number | null
  ended_at: number | null
  pid: number | null
  run_id: string | null
  error: string | null
  host: string | null
  lease_owner: string | null
}

const optional = <K extends string, V>(key: K, value: V | null): { [P in K]?: V } =>
  (value === null ? {} : { [key]: value }) as { [P in K]?: V }

export const toState = (r: StateRow): InstigatorState => ({
  kind: r.kind,
  name: r.name,
  status: r.status,
  ...optional("startedAt", r.started_at),
  ...optional("lastTickAt", r.last_tick_at),
  ...optional("cursor", r.cursor)
})

export const toTick = (r: TickRow): TickRecord => ({
  tickId: r.tick_id,
  kind: r.kind,
  name: r.name,
  tickAt: r.tick_at,
  evaluatedAt: r.evaluated_at,
  status: r.status,
  runIds: JSON.parse(r.run_ids) as Array<string>,
  ...optional("skipReason", r.skip_reason),
  ...optional("reason", r.reason),
  ...optional("error", r.error),
  ...optional("cursor", r.cursor)
})

export const decodeRequest = Schema.decodeUnknownSync(Schema.fromJsonString(RunRequestSchema))

export const toRun = (r: RunRow): QueuedRun => ({
  id: r.id,
  tickId: r.tick_id,
  kind: r.kind,
  name: r.name,
  request: decodeRequest(r.request),
  status: r.status,
  enqueuedAt: r.enqueued_at,
  ...optional("launchedAt", r.launched_at),
  ...optional("endedAt", r.ended_at),
  ...optional("pid", r.pid),
  ...optional("runId", r.run_id),
  ...optional("error", r.error),
  ...optional("host", r.host),
  ...optional("leaseOwner", r.lease_owner)
})

/** The column of each field `updateRun` may change. */
export const RUN_COLUMNS: { readonly [K in keyof QueuedRunPatch]-?: string } = {
  status: "status",
  launchedAt: "launched_at",
  endedAt: "ended_at",
  pid: "pid",
  runId: "run_id",
  error: "error",
  host: "host",
  leaseOwner: "lease_owner"
}
