/**
 * `explore(project)`: SQL over the current value of every materialized table asset of a project
 * stored on local disk, each a DuckDB view named after its key. DuckDB loads only when this is
 * called, so importing `@materia/assets` never does.
 */
import { join } from "node:path"
import type { StorageApi } from "@materia/core"
import type { Explorer, ExploreTable } from "@materia/io-managers/duckdb"
import * as Effect from "effect/Effect"
import type { AnyProject } from "./Project.ts"
import { materiaDir, openLocalStore } from "./Store.ts"

export interface ExploreProjectOptions {
  /** The project's root folder (default: the project's root, else the working directory); values are under `<root>/.materia/storage`. */
  readonly root?: string
  /** The metadata store to read the current values from (default: the project's local store). */
  readonly storage?: StorageApi
}

const TABLE_FORMATS = new Set(["arrow", "parquet"])

/**
 * A query handle in which every current table value stored by the local `fs` IO manager is a view
 * (`"ml/model"`, also `ml__model`); Arrow values are read through a Parquet cache in
 * `<root>/.materia/cache/parquet`. Close it when done.
 */
export const explore = async (
  project: AnyProject,
  options: ExploreProjectOptions = {}
): Promise<Explorer> => {
  const root = options.root ?? project.root ?? process.cwd()
  const dir = materiaDir(root)
  const storageRoot = join(dir, "storage")
  const tables: Array<ExploreTable> = []
  const collect = async (storage: StorageApi) => {
    const snapshot = await Effect.runPromise(storage.snapshot(project.name))
    for (const [key, state] of snapshot) {
      const latest = state.latest
      const handle = latest?.handle
      if (latest === undefined || handle == null) continue
      if (handle.ioManager !== "fs" || !TABLE_FORMATS.has(handle.format)) continue
      tables.push({
        name: key,
        format: handle.format,
        path: join(storageRoot, ...handle.location.split("/"), `value.${handle.format}`),
        dataVersion: latest.dataVersion
      })
    }
  }
  if (options.storage !== undefined) await collect(options.storage)
  else {
    const store = await openLocalStore(root)
    try {
      await collect(store.storage)
    } finally {
      await store.close()
    }
  }
  tables.sort((a, b) => a.name.localeCompare(b.name))
  const { openExplorer } = await import("@materia/io-managers/duckdb")
  return openExplorer({ storageRoot, cacheDir: join(dir, "cache", "parquet"), tables })
}
