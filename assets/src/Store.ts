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

/** Where a project keeps its records: the embedded SQLite file (default) or a PostgreSQL database. */
export type StorageConfig =
  | { readonly kind: "sqlite" }
  | {
      readonly kind: "postgres"
      /** `postgres://user:password@host:5432/database` */
      readonly url: string
      /** The PostgreSQL schema holding Materia's tables; `materia` by default. */
      readonly schema?: string | undefined
    }

/**
 * PostgreSQL metadata (shared by every process and machine of a deployment) with values under
 * `<root>/.materia/storage/` unless the project's IO managers put them elsewhere (S3).
 */
export const openPostgresStore = async (
  url: string,
  root: string,
  schema?: string | undefined
): Promise<MaterializeStore> => {
  const { makePostgresStorage } = await import("@materia/core/postgres")
  const storage = await Effect.runPromise(
    makePostgresStorage({ url, ...(schema === undefined ? {} : { schema }) })
  )
  const fs = lazyIOManager("fs", async () =>
    (await import("@materia/io-managers/fs")).makeFsIOManager({
      root: join(materiaDir(root), "storage"),
      name: "fs"
    })
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

/**
 * The store a project is configured for: `storage: { kind: "postgres", url }` in its definition,
 * else `MATERIA_DATABASE_URL` when set, else the embedded SQLite store under `<root>/.materia`. A
 * bad or unreachable URL fails here, at start-up, naming the URL without its password.
 */
export const openConfiguredStore = async (
  root: string,
  configured: StorageConfig | undefined,
  env: Readonly<Record<string, string | undefined>>
): Promise<MaterializeStore> => {
  if (
    configured?.kind !== "postgres" &&
    (configured !== undefined || (env.MATERIA_DATABASE_URL ?? "").trim() === "")
  )
    return openLocalStore(root)
  const { resolvePostgresUrl } = await import("@materia/core/postgres")
  const chosen = resolvePostgresUrl(configured, env)
  if (chosen === undefined) return openLocalStore(root)
  if (!("url" in chosen)) throw chosen
  return openPostgresStore(chosen.url, root, configured?.kind === "postgres" ? configured.schema : undefined)
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
