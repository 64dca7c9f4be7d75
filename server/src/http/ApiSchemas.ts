/**
 * The wire shapes of the HTTP API v1, as effect Schemas: the server validates every parameter and
 * body with them (unknown keys are refused) and generates `/api/v1/openapi.json` from the same
 * values, so the document cannot drift from what the handlers accept and return.
 */
import * as Schema from "effect/Schema"

/** Any JSON value (metadata, run config, query cells). */
export const Json = Schema.Json

/** `{ error: { code, message } }`: every 4xx/5xx answer. */
export const ApiErrorBody = Schema.Struct({
  error: Schema.Struct({ code: Schema.String, message: Schema.String })
}).annotate({ identifier: "ApiError" })

export const LoadError = Schema.Struct({
  file: Schema.String,
  line: Schema.NullOr(Schema.Finite),
  message: Schema.String
}).annotate({ identifier: "LoadError" })
export type LoadError = typeof LoadError.Type

export const ProjectInfo = Schema.Struct({
  name: Schema.String,
  root: Schema.String,
  codeVersion: Schema.String,
  loadError: Schema.NullOr(LoadError)
}).annotate({ identifier: "ProjectInfo" })
export type ProjectInfo = typeof ProjectInfo.Type

export const AssetStatus = Schema.Literals([
  "fresh",
  "stale",
  "missing",
  "failed",
  "skipped",
  "source",
  "running"
])
export type AssetStatus = typeof AssetStatus.Type

export const LatestMaterialization = Schema.Struct({
  runId: Schema.String,
  at: Schema.Finite,
  dataVersion: Schema.String,
  codeVersion: Schema.String
})

export const PartitionsInfo = Schema.Struct({ kind: Schema.String, description: Schema.String })

const summaryFields = {
  key: Schema.String,
  kind: Schema.Literals(["asset", "source"]),
  group: Schema.String,
  tags: Schema.Record(Schema.String, Schema.String),
  pool: Schema.String,
  description: Schema.NullOr(Schema.String),
  partitions: Schema.NullOr(PartitionsInfo),
  status: AssetStatus,
  reasons: Schema.Array(Schema.String),
  upstream: Schema.Array(Schema.String),
  latest: Schema.NullOr(LatestMaterialization)
}

export const AssetSummary = Schema.Struct(summaryFields).annotate({ identifier: "AssetSummary" })
export type AssetSummary = typeof AssetSummary.Type

export const CheckResult = Schema.Struct({
  check: Schema.String,
  passed: Schema.Boolean,
  severity: Schema.String,
  message: Schema.NullOr(Schema.String),
  at: Schema.Finite,
  runId: Schema.String
})
export type CheckResult = typeof CheckResult.Type

export const AssetDetail = Schema.Struct({
  ...summaryFields,
  downstream: Schema.Array(Schema.String),
  codeVersion: Schema.String,
  checks: Schema.Array(CheckResult),
  latestMetadata: Schema.NullOr(Schema.Record(Schema.String, Json))
}).annotate({ identifier: "AssetDetail" })
export type AssetDetail = typeof AssetDetail.Type

export const AssetList = Schema.Struct({ assets: Schema.Array(AssetSummary) })
export const AssetResponse = Schema.Struct({ asset: AssetDetail })

export const HistoryItem = Schema.Struct({
  runId: Schema.String,
  at: Schema.Finite,
  dataVersion: Schema.String,
  codeVersion: Schema.String,
  metadata: Schema.Record(Schema.String, Json),
  durationMillis: Schema.NullOr(Schema.Finite)
})
export type HistoryItem = typeof HistoryItem.Type
export const HistoryPage = Schema.Struct({
  items: Schema.Array(HistoryItem),
  next: Schema.NullOr(Schema.Finite)
})
export type HistoryPage = typeof HistoryPage.Type

export const PartitionItem = Schema.Struct({
  partition: Schema.String,
  status: Schema.Literals(["materialized", "missing", "failed"]),
  at: Schema.NullOr(Schema.Finite)
})
export const PartitionPage = Schema.Struct({
  items: Schema.Array(PartitionItem),
  next: Schema.NullOr(Schema.String),
  total: Schema.Finite
})
export type PartitionPage = typeof PartitionPage.Type

export const Lineage = Schema.Struct({
  nodes: Schema.Array(Schema.Struct({ key: Schema.String, group: Schema.String, status: AssetStatus })),
  edges: Schema.Array(Schema.Struct({ from: Schema.String, to: Schema.String }))
}).annotate({ identifier: "Lineage" })
export type Lineage = typeof Lineage.Type

export const RunStatus = Schema.Literals(["running", "succeeded", "failed", "canceled"])

export const RunSummary = Schema.Struct({
  runId: Schema.String,
  status: RunStatus,
  startedAt: Schema.Finite,
  endedAt: Schema.NullOr(Schema.Finite),
  targets: Schema.Array(Schema.String)
}).annotate({ identifier: "RunSummary" })
export type RunSummary = typeof RunSummary.Type
export const RunList = Schema.Struct({ runs: Schema.Array(RunSummary), next: Schema.NullOr(Schema.Finite) })
export type RunList = typeof RunList.Type

export const StepSummary = Schema.Struct({
  key: Schema.String,
  partition: Schema.NullOr(Schema.String),
  status: Schema.Literals(["pending", "running", "succeeded", "failed", "skipped", "unchanged", "canceled"]),
  startedAt: Schema.NullOr(Schema.Finite),
  endedAt: Schema.NullOr(Schema.Finite),
  attempts: Schema.Finite,
  error: Schema.NullOr(Schema.String),
  /** Why a running step cannot run yet (`waiting for a worker of pool gpu`); null when it is not waiting. */
  waiting: Schema.NullOr(Schema.String)
})
export type StepSummary = typeof StepSummary.Type
export const RunResponse = Schema.Struct({ run: RunSummary, steps: Schema.Array(StepSummary) })
export type RunResponse = typeof RunResponse.Type

/** A stored run event: `_tag`, `runId`, `at`, and `key` for step events (see core's RunEvent). */
export const StoredRunEvent = Schema.Struct({
  seq: Schema.Finite,
  event: Schema.Record(Schema.String, Json)
}).annotate({ identifier: "StoredRunEvent" })
export const EventPage = Schema.Struct({
  events: Schema.Array(StoredRunEvent),
  next: Schema.NullOr(Schema.Finite)
})

export const Accepted = Schema.Struct({
  runId: Schema.String,
  /** Set when nothing in the selection was stale: no run was recorded. */
  nothingToDo: Schema.optionalKey(Schema.Boolean)
})
export const CancelResponse = Schema.Struct({ runId: Schema.String, status: RunStatus })

export const QueryResponse = Schema.Struct({
  columns: Schema.Array(Schema.Struct({ name: Schema.String, type: Schema.String })),
  rows: Schema.Array(Schema.Array(Json)),
  truncated: Schema.Boolean
}).annotate({ identifier: "QueryResult" })
export type QueryResponse = typeof QueryResponse.Type

export const BackfillSummary = Schema.Struct({
  backfillId: Schema.String,
  /** `dead`: still recorded as running, but its driving process stopped beating. */
  status: Schema.Literals(["queued", "running", "succeeded", "failed", "canceled", "dead"]),
  select: Schema.String,
  partitions: Schema.String,
  onlyStale: Schema.Boolean,
  createdAt: Schema.Finite,
  updatedAt: Schema.Finite,
  endedAt: Schema.NullOr(Schema.Finite),
  runIds: Schema.Array(Schema.String),
  progress: Schema.Struct({
    total: Schema.Finite,
    succeeded: Schema.Finite,
    failed: Schema.Finite,
    skipped: Schema.Finite,
    canceled: Schema.Finite,
    running: Schema.Finite,
    fresh: Schema.Finite
  }),
  reason: Schema.NullOr(Schema.String)
}).annotate({ identifier: "BackfillSummary" })
export type BackfillSummary = typeof BackfillSummary.Type
export const BackfillList = Schema.Struct({ backfills: Schema.Array(BackfillSummary) })
export const BackfillResponse = Schema.Struct({ backfill: BackfillSummary })
export const BackfillAccepted = Schema.Struct({ backfillId: Schema.String })

// ---- schedules, sensors, automation conditions --------------------------------------------------

export const InstigatorStatus = Schema.Literals(["running", "stopped"])

/** One run a tick queued for the daemon, from queueing to its end. */
export const TickRun = Schema.Struct({
  /** The queued run's id (the daemon's). */
  id: Schema.String,
  status: Schema.Literals(["queued", "launched", "succeeded", "failed", "lost"]),
  /** The Materia run id, once its process reported it (link to `/runs/:id`). */
  runId: Schema.NullOr(Schema.String),
  select: Schema.String,
  partitions: Schema.NullOr(Schema.Array(Schema.String)),
  enqueuedAt: Schema.Finite,
  launchedAt: Schema.NullOr(Schema.Finite),
  endedAt: Schema.NullOr(Schema.Finite),
  error: Schema.NullOr(Schema.String)
}).annotate({ identifier: "TickRun" })
export type TickRun = typeof TickRun.Type

/** One recorded tick of a schedule, a sensor, an automation condition or a freshness policy. */
export const Tick = Schema.Struct({
  tickId: Schema.String,
  /** Schedules: the scheduled time; sensors and automation conditions: the evaluation time. */
  tickAt: Schema.Finite,
  evaluatedAt: Schema.Finite,
  /**
   * `requested` queued runs, `skipped` queued none (see `skipReason`), `failed` hit `error`;
   * a freshness policy's tick is `fresh` or `overdue` (see `reason`) and queues nothing.
   */
  status: Schema.Literals(["requested", "skipped", "failed", "fresh", "overdue"]),
  runs: Schema.Array(TickRun),
  skipReason: Schema.NullOr(Schema.String),
  /** Why an automation condition decided what it did. */
  reason: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  /** Sensors: the cursor after this tick. */
  cursor: Schema.NullOr(Schema.String)
}).annotate({ identifier: "Tick" })
export type Tick = typeof Tick.Type

export const ScheduleInfo = Schema.Struct({
  name: Schema.String,
  cron: Schema.String,
  timezone: Schema.String,
  select: Schema.Array(Schema.String),
  partitions: Schema.Literals(["closed window", "fixed", "function"]),
  tags: Schema.Record(Schema.String, Schema.String),
  status: InstigatorStatus,
  defaultStatus: InstigatorStatus,
  /** Whether the status is the definition's default (nobody started or stopped it otherwise). */
  isDefault: Schema.Boolean,
  /** When it was last started: it never ticks for earlier times. */
  startedAt: Schema.NullOr(Schema.Finite),
  /** The next scheduled times, soonest first; empty while stopped. */
  nextTicks: Schema.Array(Schema.Finite),
  lastTick: Schema.NullOr(Tick)
}).annotate({ identifier: "ScheduleInfo" })
export type ScheduleInfo = typeof ScheduleInfo.Type

export const SensorInfo = Schema.Struct({
  name: Schema.String,
  intervalMillis: Schema.Finite,
  timeoutMillis: Schema.Finite,
  status: InstigatorStatus,
  defaultStatus: InstigatorStatus,
  isDefault: Schema.Boolean,
  cursor: Schema.NullOr(Schema.String),
  /** When a running sensor is next due; null while stopped. */
  nextTickAt: Schema.NullOr(Schema.Finite),
  lastTick: Schema.NullOr(Tick)
}).annotate({ identifier: "SensorInfo" })
export type SensorInfo = typeof SensorInfo.Type

export const AutomationInfo = Schema.Struct({
  key: Schema.String,
  /** The condition's description, such as `eager()`. */
  condition: Schema.String,
  status: InstigatorStatus,
  /** The last evaluation, with the condition's reason. */
  lastTick: Schema.NullOr(Tick)
}).annotate({ identifier: "AutomationInfo" })
export type AutomationInfo = typeof AutomationInfo.Type

/** An asset's freshness policy and the daemon's last verdict on it. */
export const FreshnessInfo = Schema.Struct({
  key: Schema.String,
  /** The policy's `maxAge`, in milliseconds. */
  maxAgeMillis: Schema.Finite,
  /** The last verdict; null until the daemon evaluated the policy. */
  verdict: Schema.NullOr(Schema.Literals(["fresh", "overdue"])),
  lastTick: Schema.NullOr(Tick)
}).annotate({ identifier: "FreshnessInfo" })
export type FreshnessInfo = typeof FreshnessInfo.Type

export const ScheduleList = Schema.Struct({ schedules: Schema.Array(ScheduleInfo) })
export const ScheduleResponse = Schema.Struct({ schedule: ScheduleInfo })
export const SensorList = Schema.Struct({ sensors: Schema.Array(SensorInfo) })
export const SensorResponse = Schema.Struct({ sensor: SensorInfo })
export const AutomationList = Schema.Struct({ automations: Schema.Array(AutomationInfo) })
export const FreshnessList = Schema.Struct({ policies: Schema.Array(FreshnessInfo) })
export const TickList = Schema.Struct({ ticks: Schema.Array(Tick) })
export type TickList = typeof TickList.Type

/** The daemon `materia dev` supervises (`off` with `--no-daemon`, or when none is supervised). */
export const DaemonInfo = Schema.Struct({
  /** `failed`: it could not load the project; it starts again when the project's files change. */
  state: Schema.Literals(["off", "starting", "running", "waiting", "restarting", "failed"]),
  /** The daemon child's process id, while it runs. */
  pid: Schema.NullOr(Schema.Finite),
  /** Who holds the store's lease: this daemon's id while `running`, another daemon's while `waiting`. */
  leaseHolder: Schema.NullOr(Schema.String),
  /** What the state means, in a sentence (why it is off, what it waits for, why it restarts). */
  message: Schema.String
}).annotate({ identifier: "DaemonInfo" })
export type DaemonInfo = typeof DaemonInfo.Type

// ---- requests ---------------------------------------------------------------------------------

/** An integer in a query string, within bounds. */
const intParam = (minimum: number, maximum: number) =>
  Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum, maximum }))

/** Asset keys and run ids as path segments: printable, bounded. */
export const KeyParam = Schema.Struct({
  key: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))
})
export const RunIdParam = Schema.Struct({
  id: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.:-]{1,128}$/))
})

export const HistoryQuery = Schema.Struct({
  limit: Schema.optionalKey(intParam(1, 500)),
  before: Schema.optionalKey(Schema.NumberFromString.check(Schema.isFinite()))
})
export const PartitionsQuery = Schema.Struct({
  limit: Schema.optionalKey(intParam(1, 1000)),
  after: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(512)))
})
export const RunsQuery = Schema.Struct({
  limit: Schema.optionalKey(intParam(1, 500)),
  before: Schema.optionalKey(Schema.NumberFromString.check(Schema.isFinite()))
})
export const EventsQuery = Schema.Struct({
  after: Schema.optionalKey(intParam(0, Number.MAX_SAFE_INTEGER)),
  limit: Schema.optionalKey(intParam(1, 5000))
})
export const EmptyQuery = Schema.Struct({})
export const AuthQuery = Schema.Struct({ token: Schema.String.check(Schema.isMaxLength(512)) })

export const LaunchBody = Schema.Struct({
  select: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4096)),
  partitions: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(4096))),
  force: Schema.optionalKey(Schema.Boolean),
  config: Schema.optionalKey(Schema.Record(Schema.String, Json))
}).annotate({ identifier: "LaunchRequest" })
export type LaunchBody = typeof LaunchBody.Type

export const BackfillIdParam = Schema.Struct({
  id: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.:-]{1,128}$/))
})
export const BackfillsQuery = Schema.Struct({ limit: Schema.optionalKey(intParam(1, 500)) })
export const BackfillBody = Schema.Struct({
  select: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4096)),
  partitions: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4096))),
  onlyStale: Schema.optionalKey(Schema.Boolean)
}).annotate({ identifier: "BackfillRequest" })
export type BackfillBody = typeof BackfillBody.Type

export const ReexecuteBody = Schema.Struct({ fromFailure: Schema.Literal(true) }).annotate({
  identifier: "ReexecuteRequest"
})

export const QueryBody = Schema.Struct({
  sql: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100_000)),
  limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 })))
}).annotate({ identifier: "QueryRequest" })
export type QueryBody = typeof QueryBody.Type

/** A schedule's or sensor's name as a path segment. */
export const NameParam = Schema.Struct({
  name: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.-]{1,256}$/))
})
export const TicksQuery = Schema.Struct({ limit: Schema.optionalKey(intParam(1, 500)) })
