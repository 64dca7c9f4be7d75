/**
 * Where a run keeps its records and values: a metadata store plus the IO manager that serves
 * assets which name none. `memoryStore()` is ephemeral; reuse one across `materialize` calls to
 * keep what earlier runs made (a notebook, a test).
 */
import { type IOManager, makeMemoryIOManager, makeMemoryStorage, type StorageApi } from "@materia/core"

export interface MaterializeStore {
  readonly storage: StorageApi
  /** Serves assets with no `io` option. */
  readonly defaultIOManager: IOManager
  /** Named IO managers the store provides (e.g. `memory`), beside the project's own. */
  readonly ioManagers: ReadonlyMap<string, IOManager>
}

/** An in-memory store: records and values live as long as this object. */
export const memoryStore = (): MaterializeStore => {
  const memory = makeMemoryIOManager("memory")
  return { storage: makeMemoryStorage(), defaultIOManager: memory, ioManagers: new Map([["memory", memory]]) }
}
