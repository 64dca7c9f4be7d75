/**
 * An IO manager made on first use: commands that never load or store a value (`materia plan`,
 * `materia assets`) never load its module and its dependencies (Arrow, Parquet, an SDK).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type IOManager, IOManagerError } from "./IOManager.ts"

/** Wraps `make` (usually a dynamic import); it runs once, when the first value is stored or loaded. */
export const lazyIOManager = (name: string, make: () => Promise<IOManager>): IOManager => {
  let made: Promise<IOManager> | undefined
  const get = (assetKey: string, operation: "write" | "load" | "delete") =>
    Effect.tryPromise({
      try: () => {
        made ??= make()
        return made
      },
      catch: (cause) =>
        new IOManagerError({
          ioManager: name,
          assetKey,
          operation,
          reason: `the IO manager could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
    })
  return {
    name,
    write: (value, context) =>
      Effect.flatMap(get(context.assetKey, "write"), (io) => io.write(value, context)),
    load: (handle, context) =>
      Effect.flatMap(get(context.assetKey, "load"), (io) => io.load(handle, context)),
    loadBatches: (handle, context) =>
      Stream.unwrap(Effect.map(get(context.assetKey, "load"), (io) => io.loadBatches(handle, context))),
    delete: (handle) => Effect.flatMap(get(handle.location, "delete"), (io) => io.delete(handle)),
    promote: (handle, context) =>
      Effect.flatMap(get(context.assetKey, "write"), (io) => io.promote?.(handle, context) ?? Effect.void)
  }
}
