/**
 * Where a run keeps its records and values: a metadata store plus the IO manager that serves
 * assets which name none. The default is the project's `.materia/` folder (SQLite metadata, values
 * on local disk); `memoryStore()` is ephemeral — reuse one across `materialize` calls to keep what
 * earlier runs made (a notebook, a test).
 */
import { hostname } from "node:os"
import { join } from "node:path"
import {
  type Driver,
  type IOManager,
  lazyIOManager,
  makeMemoryIOManager,
  makeMemoryStorage,
  type StorageApi
} from "@materia/core"
import * as Effect from "effect/Effect"

export interface MaterializeStore {
  readonly storage: StorageApi
  /** Serves assets with no `io` option. */
  readonly defaultIOManager: IOManager
  /** Named IO managers the store provides (e.g. `memory`, `fs`), beside the project's own. */
  readonly ioManagers: ReadonlyMap<string, IOManager>
  /** Releases connections; the store cannot be used after. */
  readonly close: () => Promise<void>
}

/** An in-memory store: records and values live as long as this object. */
export const memoryStore = (): MaterializeStore => {
  const memory = makeMemoryIOManager("memory")
  return {
    storage: makeMemoryStorage(),
    defaultIOManager: memory,
    ioManagers: new Map([["memory", memory]]),
    close: async () => {}
  }
}

/** The folder where a project rooted at `root` keeps its store: `<root>/.materia`. */
export const materiaDir = (root: string): string => join(root, ".materia")

/**
 * Opens the embedded store of the project rooted at `root`: SQLite at `.materia/materia.db` and
 * values under `.materia/storage/`. SQLite and the fs IO manager load only here, when used.
 */
export const openLocalStore = async (root: string): Promise<MaterializeStore> => {
  const { makeSqliteStorage } = await import("@materia/core/sqlite")
  const dir = materiaDir(root)
  const storage = await Effect.runPromise(makeSqliteStorage({ path: join(dir, "materia.db") }))
  // Loaded with the first value stored or read: planning and listing never load Arrow.
  const fs = lazyIOManager("fs", async () =>
    (await import("@materia/io-managers/fs")).makeFsIOManager({ root: join(dir, "storage"), name: "fs" })
  )
  return {
    storage,
    defaultIOManager: fs,
    ioManagers: new Map<string, IOManager>([
      ["fs", fs],
      ["memory", makeMemoryIOManager("memory")]
    ]),
    close: () => Effect.runPromise(storage.close)
  }
}

/** This process, as the driver of the runs it starts. */
export const currentDriver = (): Driver => ({ host: hostname(), pid: process.pid })

/** Whether a driver process is alive: only decidable on this host; elsewhere assumed alive. */
export const isDriverAlive = (driver: Driver): boolean => {
  if (driver.host !== hostname()) return true
  try {
    process.kill(driver.pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}
