/**
 * `explore(project)`: SQL over the current value of every materialized table asset of a project,
 * each a DuckDB view named after its key. DuckDB loads only when this is called, so importing
 * `@materia/assets` never does.
 */
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { hiveColumns, type MaterializationRecord, partitionsFromSpec, type StorageApi } from "@materia/core"
import type { Explorer, ExploreTable } from "@materia/io-managers/duckdb"
import * as Effect from "effect/Effect"
import type { AnyProject } from "./Project.ts"
import { materiaDir, openConfiguredStore } from "./Store.ts"

export interface ExploreProjectOptions {
  /** The project's root folder (default: the project's root, else the working directory); values are under `<root>/.materia/storage`. */
  readonly root?: string
  /** The metadata store to read the current values from (default: the project's local store). */
  readonly storage?: StorageApi
}

const TABLE_FORMATS = new Set(["arrow", "parquet"])

/**
 * A query handle in which every current table value is a view named after its key (`"ml/model"`,
 * also `ml__model`): values on local disk (the `fs` IO manager) are read in place, Arrow ones
 * through a Parquet cache in `<root>/.materia/cache/parquet`; values of the project's own IO
 * managers (S3, DuckDB) are fetched into that cache by data version. A partitioned asset is one
 * view over the current value of every partition, with its partition columns. Close it when done.
 */
export const explore = async (
  project: AnyProject,
  options: ExploreProjectOptions = {}
): Promise<Explorer> => {
  const root = options.root ?? project.root ?? process.cwd()
  const dir = materiaDir(root)
  const storageRoot = join(dir, "storage")
  const tables: Array<ExploreTable> = []
  const { fetchedTable } = await import("@materia/io-managers/duckdb")
  /** The explore entry of one stored value: a local file, or fetched through its IO manager (S3, DuckDB). */
  const entry = (
    key: string,
    latest: MaterializationRecord,
    partition?: Readonly<Record<string, string>>
  ): ExploreTable | undefined => {
    const handle = latest.handle
    if (handle == null) return undefined
    const extra = partition === undefined ? {} : { partition }
    if (handle.ioManager === "fs") {
      if (!TABLE_FORMATS.has(handle.format)) return undefined
      return {
        name: key,
        format: handle.format,
        path: join(storageRoot, ...handle.location.split("/"), `value.${handle.format}`),
        dataVersion: latest.dataVersion,
        ...extra
      }
    }
    const io = project.ioManagers.get(handle.ioManager)
    if (io === undefined) return undefined
    const fetched = fetchedTable(io, key, handle, latest.dataVersion)
    return fetched === undefined ? undefined : { ...fetched, ...extra }
  }
  const collect = async (storage: StorageApi) => {
    const snapshot = await Effect.runPromise(storage.snapshot(project.name))
    for (const [key, state] of snapshot) {
      const latest = state.latest
      if (latest === undefined || project.graph.specs[project.graph.indexOf(key)]?.partitions !== undefined)
        continue
      const table = entry(key, latest)
      if (table !== undefined) tables.push(table)
    }
    // A partitioned asset: one view over the current value of every partition, with its partition
    // columns (`date`, `region`, ...) read from the hive folders.
    for (const spec of project.graph.specs) {
      if (spec.partitions === undefined) continue
      const definition = partitionsFromSpec(spec.partitions)
      const partitions = await Effect.runPromise(storage.partitions(project.name, spec.key))
      for (const state of partitions) {
        if (state.latest === undefined) continue
        const table = entry(spec.key, state.latest, hiveColumns(definition, state.partition))
        if (table !== undefined) tables.push(table)
      }
    }
  }
  if (options.storage !== undefined) await collect(options.storage)
  else {
    const store = await openConfiguredStore(root, project.storage, process.env)
    try {
      await collect(store.storage)
    } finally {
      await store.close()
    }
  }
  tables.sort((a, b) => a.name.localeCompare(b.name))
  // A project that has not stored a value yet has no storage folder: nothing to read, no error.
  await mkdir(storageRoot, { recursive: true })
  const { openExplorer } = await import("@materia/io-managers/duckdb")
  return openExplorer({ storageRoot, cacheDir: join(dir, "cache", "parquet"), tables })
}
