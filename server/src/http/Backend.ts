/**
 * What the HTTP app needs from the rest of Materia, as one small interface: reads of the catalog
 * and the run log, launches, cancellation, SQL, and a subscription to live events. `materia dev`
 * implements it with a code server child process (DevBackend); failures are `ApiError`s.
 */
import type {
  AssetDetail,
  AssetSummary,
  AutomationInfo,
  BackfillBody,
  BackfillSummary,
  DaemonInfo,
  FreshnessInfo,
  HistoryPage,
  LaunchBody,
  Lineage,
  PartitionPage,
  ProjectInfo,
  QueryBody,
  QueryResponse,
  RunList,
  RunResponse,
  ScheduleInfo,
  SensorInfo,
  Tick
} from "./ApiSchemas.ts"

/** A run event as stored: its position in the run's log and the event (core's RunEvent, encoded). */
export interface SeqEvent {
  readonly seq: number
  readonly event: { readonly _tag: string; readonly runId: string } & Readonly<Record<string, unknown>>
}

/** A schedule, a sensor, or an asset's automation condition or freshness policy (named by the asset key). */
export interface InstigatorRef {
  readonly kind: "schedule" | "sensor" | "automation" | "freshness"
  readonly name: string
}

/** What the instance stream carries. */
export type LiveMessage =
  | { readonly type: "run-event"; readonly data: SeqEvent }
  | {
      readonly type: "project-reloaded"
      readonly data: { readonly codeVersion: string; readonly loadError: ProjectInfo["loadError"] }
    }

export interface Backend {
  readonly project: () => Promise<ProjectInfo>
  readonly assets: () => Promise<ReadonlyArray<AssetSummary>>
  /** The list as UTF-8 JSON, when the backend keeps it serialized (the fast path of `GET /assets`). */
  readonly assetsJson?: () => Promise<Uint8Array>
  readonly asset: (key: string) => Promise<AssetDetail>
  readonly history: (
    key: string,
    options: { limit: number; before?: number | undefined }
  ) => Promise<HistoryPage>
  readonly partitions: (
    key: string,
    options: { limit: number; after?: string | undefined }
  ) => Promise<PartitionPage>
  readonly lineage: () => Promise<Lineage>
  readonly lineageJson?: () => Promise<Uint8Array>
  readonly runs: (options: { limit: number; before?: number | undefined }) => Promise<RunList>
  readonly run: (runId: string) => Promise<RunResponse>
  readonly events: (
    runId: string,
    options: { after: number; limit: number }
  ) => Promise<{ readonly events: ReadonlyArray<SeqEvent>; readonly next: number | null }>
  readonly launch: (body: LaunchBody) => Promise<{ runId: string; nothingToDo?: boolean }>
  readonly cancel: (runId: string) => Promise<{ runId: string; status: RunResponse["run"]["status"] }>
  readonly reexecute: (runId: string) => Promise<{ runId: string }>
  readonly query: (body: QueryBody) => Promise<QueryResponse>
  readonly backfills: (options: { limit: number }) => Promise<ReadonlyArray<BackfillSummary>>
  readonly backfill: (backfillId: string) => Promise<BackfillSummary>
  readonly launchBackfill: (body: BackfillBody) => Promise<{ backfillId: string }>
  readonly cancelBackfill: (backfillId: string) => Promise<BackfillSummary>
  /** Schedules, sensors and automation conditions with their state (404s name the known ones). */
  readonly schedules: () => Promise<ReadonlyArray<ScheduleInfo>>
  readonly sensors: () => Promise<ReadonlyArray<SensorInfo>>
  readonly automations: () => Promise<ReadonlyArray<AutomationInfo>>
  /** Every asset's freshness policy with the daemon's last verdict. */
  readonly freshness: () => Promise<ReadonlyArray<FreshnessInfo>>
  readonly ticks: (ref: InstigatorRef, options: { limit: number }) => Promise<ReadonlyArray<Tick>>
  readonly setScheduleStatus: (name: string, status: "running" | "stopped") => Promise<ScheduleInfo>
  readonly setSensorStatus: (name: string, status: "running" | "stopped") => Promise<SensorInfo>
  /** The daemon this server supervises, if any, and who holds the store's lease. */
  readonly daemon: () => Promise<DaemonInfo>
  /**
   * The live events seen lately for a run still in flight: events reach listeners before storage
   * (which the executor writes in batches), so a stream opened mid-run needs them.
   */
  readonly recent?: (runId: string) => ReadonlyArray<SeqEvent>
  /** Live messages for every run and reload; returns the unsubscribe function. */
  readonly subscribe: (listener: (message: LiveMessage) => void) => () => void
}
