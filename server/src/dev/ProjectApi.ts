/**
 * What `materia dev` asks of the project's code, wherever it runs: its catalog (specs with
 * statuses), launches, cancellation, re-execution and SQL. ProjectService answers in the process
 * that loaded the project (the code server); the supervisor answers the same over IPC.
 */
import type {
  AssetDetail,
  AssetSummary,
  AutomationInfo,
  BackfillBody,
  BackfillSummary,
  FreshnessInfo,
  LaunchBody,
  LoadError,
  PartitionPage,
  QueryBody,
  QueryResponse,
  ScheduleInfo,
  SensorInfo,
  Tick
} from "../http/ApiSchemas.ts"
import type { InstigatorRef, LiveMessage } from "../http/Backend.ts"
import type { StoreLocation } from "./StoreReader.ts"

/** An asset in the catalog: its summary (without the live `running` status) and its neighbours. */
export interface CatalogAsset extends AssetSummary {
  readonly downstream: ReadonlyArray<string>
  readonly codeVersion: string
}

/**
 * Every asset of the project in key order (`CatalogAsset[]` as JSON), as of store watermark
 * `watermark`, with the JSON of `GET /assets` and `GET /lineage` made once where it was computed
 * (nothing running). All text: it crosses the IPC channel as three strings, parsed only if needed.
 */
export interface Catalog {
  readonly watermark: number
  readonly catalogJson: string
  readonly assetsJson: string
  readonly lineageJson: string
}

/** What the catalog leaves out of one asset's page: its checks and latest metadata. */
export type AssetExtras = Pick<AssetDetail, "checks" | "latestMetadata">

/** The loaded project, or why it could not load. */
export interface ProjectState {
  /** Grows by one with every (re)load: caches keyed by it are dropped on reload. */
  readonly generation: number
  readonly name: string
  /** False while no code has ever loaded: `name` is then the folder's name, a guess. */
  readonly nameKnown: boolean
  readonly root: string
  readonly codeVersion: string
  readonly loadError: LoadError | null
  /**
   * Where the project's metadata is, as its code (or, before it ever loaded, MATERIA_DATABASE_URL)
   * chose it; unset: the embedded SQLite store.
   */
  readonly storage?: StoreLocation | undefined
}

export interface Accepted {
  readonly runId: string
  readonly nothingToDo?: boolean
}

export interface ProjectApi {
  readonly state: () => Promise<ProjectState>
  /** The catalog as of store watermark `watermark` (a cached one when it is that recent). */
  readonly catalog: (watermark: number) => Promise<Catalog>
  readonly extras: (key: string) => Promise<AssetExtras>
  readonly partitions: (
    key: string,
    options: { limit: number; after?: string | undefined }
  ) => Promise<PartitionPage>
  readonly launch: (body: LaunchBody) => Promise<Accepted>
  readonly reexecute: (runId: string) => Promise<Accepted>
  /** Cancels a run this code drives and resolves to its final status; `null` when it drives no such run. */
  readonly cancel: (
    runId: string
  ) => Promise<{ runId: string; status: "running" | "succeeded" | "failed" | "canceled" } | null>
  readonly query: (body: QueryBody) => Promise<QueryResponse>
  readonly backfills: (limit: number) => Promise<ReadonlyArray<BackfillSummary>>
  /** The backfill, or null when this project has none with that id. */
  readonly backfill: (backfillId: string) => Promise<BackfillSummary | null>
  readonly launchBackfill: (body: BackfillBody) => Promise<{ backfillId: string }>
  readonly cancelBackfill: (backfillId: string) => Promise<BackfillSummary | null>
  /** The schedules, sensors and automation conditions with their state in the daemon store. */
  readonly schedules: () => Promise<ReadonlyArray<ScheduleInfo>>
  readonly sensors: () => Promise<ReadonlyArray<SensorInfo>>
  readonly automations: () => Promise<ReadonlyArray<AutomationInfo>>
  readonly freshness: () => Promise<ReadonlyArray<FreshnessInfo>>
  /** Tick history, newest first; a 404 names the known ones when `ref` names none. */
  readonly ticks: (ref: InstigatorRef, limit: number) => Promise<ReadonlyArray<Tick>>
  readonly setScheduleStatus: (name: string, status: "running" | "stopped") => Promise<ScheduleInfo>
  readonly setSensorStatus: (name: string, status: "running" | "stopped") => Promise<SensorInfo>
  readonly subscribe: (listener: (message: LiveMessage) => void) => () => void
  readonly close: () => Promise<void>
}
