/**
 * The one place that decides where a project's daemon state lives: beside its metadata. A project
 * on PostgreSQL (`storage: { kind: "postgres", url }`, or MATERIA_DATABASE_URL when it names no
 * storage) keeps it in that database and schema, so daemons on several machines share one lease;
 * otherwise in the project's SQLite file (`.materia/materia.db`). The choice is the one
 * `openConfiguredStore` makes for the metadata. Every caller — `materia daemon`, `materia
 * schedules|sensors`, `materia dev` — opens the daemon store through here.
 */
import { join } from "node:path"
import { materiaDir, type StorageConfig } from "@materia/assets"
import * as Effect from "effect/Effect"
import type { DaemonStore } from "./DaemonStore.ts"

/** Opens the daemon store of the project at `root`, configured with `storage` (and `env`'s MATERIA_DATABASE_URL). */
export const openDaemonStore = async (
  root: string,
  storage: StorageConfig | undefined,
  env: Readonly<Record<string, string | undefined>>
): Promise<DaemonStore> => {
  // As openConfiguredStore: an explicit configuration wins; the environment counts only without one.
  const maybePostgres =
    storage?.kind === "postgres" || (storage === undefined && (env.MATERIA_DATABASE_URL ?? "").trim() !== "")
  if (maybePostgres) {
    const { resolvePostgresUrl } = await import("@materia/core/postgres")
    const chosen = resolvePostgresUrl(storage, env)
    if (chosen !== undefined) {
      if (!("url" in chosen)) throw chosen
      const { openPostgresDaemonStore } = await import("./PostgresDaemonStore.ts")
      return Effect.runPromise(
        openPostgresDaemonStore({
          url: chosen.url,
          schema: storage?.kind === "postgres" ? storage.schema : undefined
        })
      )
    }
  }
  const { openSqliteDaemonStore } = await import("./SqliteDaemonStore.ts")
  return Effect.runPromise(openSqliteDaemonStore(join(materiaDir(root), "materia.db")))
}
