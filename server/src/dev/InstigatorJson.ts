/**
 * The wire shapes of schedules, sensors, automation conditions, freshness policies and their ticks (ApiSchemas.ts)
 * made from the daemon's listings (InstigatorListing.ts): absent values become `null`, a tick
 * carries the runs it queued.
 */
import type { QueuedRun } from "../daemon/DaemonStore.ts"
import type {
  AutomationListing,
  FreshnessListing,
  ScheduleListing,
  SensorListing,
  TickWithRuns
} from "../daemon/InstigatorListing.ts"
import type {
  AutomationInfo,
  FreshnessInfo,
  ScheduleInfo,
  SensorInfo,
  Tick,
  TickRun
} from "../http/ApiSchemas.ts"

const runJson = (run: QueuedRun): TickRun => ({
  id: run.id,
  status: run.status,
  runId: run.runId ?? null,
  select: typeof run.request.select === "string" ? run.request.select : run.request.select.join(","),
  partitions: run.request.partitions ?? null,
  enqueuedAt: run.enqueuedAt,
  launchedAt: run.launchedAt ?? null,
  endedAt: run.endedAt ?? null,
  error: run.error ?? null
})

/** A tick with its runs in the order the tick lists them. */
export const tickJson = ({ tick, runs }: TickWithRuns): Tick => {
  const byId = new Map(runs.map((r) => [r.id, r]))
  return {
    tickId: tick.tickId,
    tickAt: tick.tickAt,
    evaluatedAt: tick.evaluatedAt,
    status: tick.status,
    runs: tick.runIds.flatMap((id) => {
      const run = byId.get(id)
      return run === undefined ? [] : [runJson(run)]
    }),
    skipReason: tick.skipReason ?? null,
    reason: tick.reason ?? null,
    error: tick.error ?? null,
    cursor: tick.cursor ?? null
  }
}

export const scheduleJson = (listing: ScheduleListing): ScheduleInfo => {
  const { definition, state } = listing
  return {
    name: definition.name,
    cron: definition.spec.cron,
    timezone: definition.spec.timezone,
    select: definition.spec.select,
    partitions: definition.spec.partitions,
    tags: definition.spec.tags,
    status: state.status,
    defaultStatus: definition.spec.defaultStatus,
    isDefault: state.status === definition.spec.defaultStatus,
    startedAt: state.startedAt ?? null,
    nextTicks: listing.nextTicks,
    lastTick: listing.lastTick === undefined ? null : tickJson(listing.lastTick)
  }
}

export const sensorJson = (listing: SensorListing): SensorInfo => {
  const { definition, state } = listing
  return {
    name: definition.name,
    intervalMillis: definition.spec.intervalMillis,
    timeoutMillis: definition.spec.timeoutMillis,
    status: state.status,
    defaultStatus: definition.spec.defaultStatus,
    isDefault: state.status === definition.spec.defaultStatus,
    cursor: state.cursor ?? null,
    nextTickAt: listing.nextTickAt ?? null,
    lastTick: listing.lastTick === undefined ? null : tickJson(listing.lastTick)
  }
}

export const automationJson = (listing: AutomationListing): AutomationInfo => ({
  key: listing.key,
  condition: listing.condition,
  status: listing.state.status,
  lastTick: listing.lastTick === undefined ? null : tickJson(listing.lastTick)
})

export const freshnessJson = (listing: FreshnessListing): FreshnessInfo => ({
  key: listing.key,
  maxAgeMillis: listing.maxAgeMillis,
  verdict: listing.verdict ?? null,
  lastTick: listing.lastTick === undefined ? null : tickJson(listing.lastTick)
})
