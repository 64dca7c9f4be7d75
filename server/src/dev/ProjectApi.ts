/**
 * What `materia dev` asks of the project's code, wherever it runs: its catalog (specs with
 * statuses), launches, cancellation, re-execution and SQL. ProjectService answers in the process
 * that loaded the project (the code server); the supervisor answers the same over IPC.
 */
import type { AssetDetail, LaunchBody, LoadError, QueryBody, QueryResponse } from "../http/ApiSchemas.ts"
import type { LiveMessage } from "../http/Backend.ts"

/** An asset as its code server sees it: everything but the live `running` status. */
export type CatalogAsset = AssetDetail

/** Every asset of the project, in key order, with the edges of its graph. */
export interface Catalog {
  readonly assets: ReadonlyArray<CatalogAsset>
}

/** The loaded project, or why it could not load. */
export interface ProjectState {
  /** Grows by one with every (re)load: caches keyed by it are dropped on reload. */
  readonly generation: number
  readonly name: string
  readonly root: string
  readonly codeVersion: string
  readonly loadError: LoadError | null
}

export interface Accepted {
  readonly runId: string
  readonly nothingToDo?: boolean
}

export interface ProjectApi {
  readonly state: () => Promise<ProjectState>
  readonly catalog: () => Promise<Catalog>
  readonly launch: (body: LaunchBody) => Promise<Accepted>
  readonly reexecute: (runId: string) => Promise<Accepted>
  /** Cancels a run this code drives and resolves to its final status; `null` when it drives no such run. */
  readonly cancel: (
    runId: string
  ) => Promise<{ runId: string; status: "running" | "succeeded" | "failed" | "canceled" } | null>
  readonly query: (body: QueryBody) => Promise<QueryResponse>
  readonly subscribe: (listener: (message: LiveMessage) => void) => () => void
  readonly close: () => Promise<void>
}
