/**
 * The messages between `materia dev` and its code server child, over Node's IPC channel (advanced
 * serialization). Requests carry an id; the child answers each once. Run events and the load
 * outcome are sent unasked.
 */
import type { ApiErrorData } from "../http/ApiError.ts"
import type { BackfillBody, LaunchBody, LoadError, QueryBody } from "../http/ApiSchemas.ts"
import type { InstigatorRef, SeqEvent } from "../http/Backend.ts"
import type { Catalog } from "./ProjectApi.ts"
import type { StoreLocation } from "./StoreReader.ts"

export type Request =
  | { readonly method: "catalog"; readonly watermark: number }
  | { readonly method: "extras"; readonly key: string }
  | {
      readonly method: "partitions"
      readonly key: string
      readonly limit: number
      readonly after?: string | undefined
    }
  | { readonly method: "launch"; readonly body: LaunchBody }
  | { readonly method: "reexecute"; readonly runId: string }
  | { readonly method: "cancel"; readonly runId: string }
  | { readonly method: "query"; readonly body: QueryBody }
  | { readonly method: "backfills"; readonly limit: number }
  | { readonly method: "backfill"; readonly backfillId: string }
  | { readonly method: "launchBackfill"; readonly body: BackfillBody }
  | { readonly method: "cancelBackfill"; readonly backfillId: string }
  | { readonly method: "schedules" }
  | { readonly method: "sensors" }
  | { readonly method: "automations" }
  | { readonly method: "freshness" }
  | { readonly method: "ticks"; readonly ref: InstigatorRef; readonly limit: number }
  | {
      readonly method: "setStatus"
      readonly kind: "schedule" | "sensor"
      readonly name: string
      readonly status: "running" | "stopped"
    }

export type ToChild =
  | { readonly type: "request"; readonly id: number; readonly request: Request }
  /** No more requests will come: finish the runs in flight, then exit. */
  | { readonly type: "retire" }

export type FromChild =
  | {
      readonly type: "ready"
      readonly name: string
      readonly root: string
      readonly codeVersion: string
      /** Where the project's metadata is (its storage configuration, else the environment's). */
      readonly storage: StoreLocation
    }
  /** `storage`: what the environment alone names (MATERIA_DATABASE_URL), the configuration unread. */
  | { readonly type: "load-error"; readonly error: LoadError; readonly storage: StoreLocation }
  | { readonly type: "response"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: "response"; readonly id: number; readonly ok: false; readonly error: ApiErrorData }
  | { readonly type: "event"; readonly event: SeqEvent }
  /** A catalog computed ahead of any request (after loading, after runs): kept by the server. */
  | { readonly type: "catalog"; readonly catalog: Catalog }

/** How the child is started: `node --import tsx CodeServer.ts <config file> <options JSON>`. */
export interface CodeServerArgs {
  readonly configFile: string
  readonly queryTimeoutMillis: number
}
