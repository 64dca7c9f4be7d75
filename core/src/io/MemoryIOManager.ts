/**
 * The in-memory IO manager: keeps values as they are (zero copy between steps in one process).
 * Data versions hash bytes and Arrow buffers, and are logical for other values (see DataVersion).
 * Values live as long as the manager: reuse one (through a memory store) to keep them across runs.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { JsonValue } from "../graph/AssetSpec.ts"
import { arrowTableVersion, bytesVersion, isArrowTable, logicalVersion } from "./DataVersion.ts"
import {
  type IOManager,
  IOManagerError,
  type RecordBatchLike,
  type StoredValue,
  type ValueHandle
} from "./IOManager.ts"

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
      values.set(location, value)
      let dataVersion: string
      let format: string
      const metadata: Record<string, JsonValue> = {}
      if (value instanceof Uint8Array) {
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

  return {
    name,
    size: () => values.size,
    write,
    load: (handle, context) => find(handle, context.assetKey),
    loadBatches: (handle, context) =>
      Stream.unwrap(
        Effect.flatMap(find(handle, context.assetKey), (value) =>
          isArrowTable(value)
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
        )
      ),
    delete: (handle) =>
      Effect.sync(() => {
        values.delete(handle.location)
      })
  }
}
