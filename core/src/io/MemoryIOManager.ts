/**
 * The in-memory IO manager: keeps values as they are (zero copy between steps in one process).
 * Data versions hash bytes and Arrow buffers, and are logical for other values (see DataVersion).
 * Values live as long as the manager: reuse one (through a memory store) to keep them across runs.
 * A stream of record batches is kept unread and handed to one consumer (`loadBatches`), once.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { JsonValue } from "../graph/AssetSpec.ts"
import { arrowTableVersion, bytesVersion, isArrowTable, logicalVersion } from "./DataVersion.ts"
import {
  type IOManager,
  IOManagerError,
  isRecordBatchStream,
  type RecordBatchLike,
  type RecordBatchStream,
  type StoredValue,
  type ValueHandle
} from "./IOManager.ts"

/** A stream stored as it is: the first consumer reads it; later ones are told who did. */
class PendingStream {
  consumedBy: string | undefined
  constructor(readonly batches: RecordBatchStream) {}
}

const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  if (typeof value === "object") return `an object (${(value as object).constructor?.name ?? "Object"})`
  return `a ${typeof value}`
}

/** Makes a memory IO manager named `name` (default `memory`). */
export const makeMemoryIOManager = (name = "memory"): IOManager & { readonly size: () => number } => {
  const values = new Map<string, unknown>()

  const write = (value: unknown, context: Parameters<IOManager["write"]>[1]) =>
    Effect.sync((): StoredValue => {
      const location = `memory://${context.assetKey}/${context.attemptId}`
      // A stream is kept unread: rows and content are known only to its consumer.
      values.set(location, isRecordBatchStream(value) ? new PendingStream(value) : value)
      let dataVersion: string
      let format: string
      const metadata: Record<string, JsonValue> = {}
      if (isRecordBatchStream(value)) {
        dataVersion = logicalVersion(context.assetKey, context.codeVersion, context.inputVersions)
        format = "stream"
      } else if (value instanceof Uint8Array) {
        dataVersion = bytesVersion(value)
        format = "bytes"
        metadata.bytes = value.byteLength
      } else if (isArrowTable(value)) {
        dataVersion = arrowTableVersion(value)
        format = "arrow"
        metadata.rows = value.numRows
      } else {
        dataVersion = logicalVersion(context.assetKey, context.codeVersion, context.inputVersions)
        format = "object"
      }
      return { handle: { ioManager: name, location, format }, dataVersion, metadata }
    })

  const find = (handle: ValueHandle, assetKey: string) =>
    values.has(handle.location)
      ? Effect.succeed(values.get(handle.location))
      : Effect.fail(
          new IOManagerError({
            ioManager: name,
            assetKey,
            operation: "load",
            location: handle.location,
            reason:
              "no such value in memory; memory values live only as long as their store (use persistent storage, or re-materialize the asset)"
          })
        )

  const refuse = (handle: ValueHandle, assetKey: string, reason: string) =>
    Effect.fail(
      new IOManagerError({ ioManager: name, assetKey, operation: "load", location: handle.location, reason })
    )

  const consumed = (handle: ValueHandle, assetKey: string, stream: PendingStream) =>
    refuse(
      handle,
      assetKey,
      `the stream of record batches of asset "${assetKey}" was already consumed by "${stream.consumedBy}"; the memory IO manager hands a stream to a single consumer: store the asset with a persistent IO manager (fs, S3) to read it more than once, or return a Table`
    )

  return {
    name,
    size: () => values.size,
    write,
    load: (handle, context) => {
      // Read at once (no Effect chained on `find`): the in-process executor loads every input through here.
      const value = values.get(handle.location)
      if (value === undefined && !values.has(handle.location)) return find(handle, context.assetKey)
      if (!(value instanceof PendingStream)) return Effect.succeed(value)
      if (value.consumedBy !== undefined) return consumed(handle, context.assetKey, value)
      return refuse(
        handle,
        context.assetKey,
        `asset "${context.assetKey}" is a stream of record batches kept in memory, which "${context.consumerKey}" can only read as a stream (its input as streamOf(...)); or store the asset with a persistent IO manager (fs, S3)`
      )
    },
    loadBatches: (handle, context) =>
      Stream.unwrap(
        Effect.flatMap(find(handle, context.assetKey), (value) => {
          if (value instanceof PendingStream) {
            if (value.consumedBy !== undefined) return consumed(handle, context.assetKey, value)
            value.consumedBy = context.consumerKey
            return Effect.succeed(
              Stream.fromAsyncIterable(
                value.batches,
                (cause) =>
                  new IOManagerError({
                    ioManager: name,
                    assetKey: context.assetKey,
                    operation: "load",
                    location: handle.location,
                    reason: `the stream of record batches failed (${cause instanceof Error ? cause.message : String(cause)})`,
                    cause
                  })
              )
            )
          }
          return isArrowTable(value)
            ? Effect.succeed(Stream.fromIterable(value.batches as unknown as ReadonlyArray<RecordBatchLike>))
            : Effect.fail(
                new IOManagerError({
                  ioManager: name,
                  assetKey: context.assetKey,
                  operation: "load",
                  location: handle.location,
                  reason: `expected an Arrow table to stream as record batches, found ${describe(value)}`
                })
              )
        })
      ),
    delete: (handle) =>
      Effect.sync(() => {
        values.delete(handle.location)
      })
  }
}
