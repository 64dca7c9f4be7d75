/**
 * The IO manager interface: stores asset values at new, immutable, attempt-scoped locations and
 * loads them back. A value becomes an asset's current value only when its materialization is
 * committed in storage (promotion is a pointer flip), so a write never replaces anything.
 * Several IO managers can serve one project; each asset names the one that stores it.
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type { JsonValue } from "../graph/AssetSpec.ts"

/** Where a stored value lives: enough for its IO manager to load or delete it. */
export const ValueHandle = Schema.Struct({
  ioManager: Schema.String,
  location: Schema.String,
  format: Schema.String
})
export type ValueHandle = typeof ValueHandle.Type

/** What an IO manager knows when it writes a step's output. */
export interface OutputContext {
  readonly assetKey: string
  /** Key path segments of the asset (`["ml", "model"]`): folder or object-key parts. */
  readonly assetPath: ReadonlyArray<string>
  readonly runId: string
  /** Unique per attempt: the last segment of every location. */
  readonly attemptId: string
  readonly codeVersion: string
  /** Data versions of every upstream, by key: the logical version derives from them. */
  readonly inputVersions: Readonly<Record<string, string>>
  /** How the asset asks for its table to be stored (`arrow` IPC or `parquet`), when it names one. */
  readonly format?: "arrow" | "parquet"
}

/** What an IO manager knows when it loads a value for a step. */
export interface InputContext {
  /** The asset whose value is loaded. */
  readonly assetKey: string
  /** The step that reads it. */
  readonly consumerKey: string
}

/** The result of a write: the new location, the data version and metadata such as row count. */
export interface StoredValue {
  readonly handle: ValueHandle
  readonly dataVersion: string
  readonly metadata: Readonly<Record<string, JsonValue>>
}

/** An IO manager that could not store, load or delete a value. */
export class IOManagerError extends Data.TaggedError("IOManagerError")<{
  readonly ioManager: string
  readonly assetKey: string
  readonly operation: "write" | "load" | "delete"
  readonly location?: string | undefined
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const where = this.location === undefined ? "" : ` at ${this.location}`
    return `IO manager "${this.ioManager}" could not ${this.operation} asset "${this.assetKey}"${where}: ${this.reason}`
  }
}

/** A record batch as IO managers stream it (an Apache Arrow `RecordBatch`). */
export interface RecordBatchLike {
  readonly numRows: number
  readonly schema: unknown
}

/** A table produced or consumed batch by batch: what a streaming body returns (`async function*`). */
export type RecordBatchStream = AsyncIterable<RecordBatchLike>

/** Whether a value is a stream of record batches (an async iterable), as a streaming body returns. */
export const isRecordBatchStream = (value: unknown): value is RecordBatchStream =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"

/** Stores and loads asset values. Implementations: memory here; fs, S3 and DuckDB in @materia/io-managers. */
export interface IOManager {
  readonly name: string
  /**
   * Writes `value` to a new location that nothing else uses; hashes while writing. `value` may be a
   * `RecordBatchStream` (a body's `async function*` of Arrow record batches): a table then written
   * batch by batch with bounded memory, with the same metadata (rows, schema, bytes) as a whole table.
   */
  readonly write: (value: unknown, context: OutputContext) => Effect.Effect<StoredValue, IOManagerError>
  /** Loads a whole value. */
  readonly load: (handle: ValueHandle, context: InputContext) => Effect.Effect<unknown, IOManagerError>
  /** Loads a table value as a stream of record batches (bounded memory for large tables). */
  readonly loadBatches: (
    handle: ValueHandle,
    context: InputContext
  ) => Stream.Stream<RecordBatchLike, IOManagerError>
  /** Deletes a location (retention); never called on a committed current value. */
  readonly delete: (handle: ValueHandle) => Effect.Effect<void, IOManagerError>
  /**
   * Called once the materialization that stored `handle` is committed, for IO managers whose
   * storage has a "current value" of its own (the DuckDB IO manager switches the asset's view).
   * Optional; a failure is reported but does not undo the commit (the next load retries it).
   */
  readonly promote?: (handle: ValueHandle, context: PromoteContext) => Effect.Effect<void, IOManagerError>
}

/** What an IO manager knows when a stored value becomes its asset's current value. */
export interface PromoteContext {
  readonly assetKey: string
  readonly runId: string
}
