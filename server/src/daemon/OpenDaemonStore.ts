/**
 * The one place that decides where a project's daemon state lives: beside its metadata, in the
 * project's SQLite file (`.materia/materia.db`). Every caller — `materia daemon`, `materia
 * schedules|sensors`, `materia dev` — opens the daemon store through here.
 */
import { join } from "node:path"
import { materiaDir, type StorageConfig } from "@materia/assets"
import * as Effect from "effect/Effect"
import type { DaemonStore } from "./DaemonStore.ts"
import { openSqliteDaemonStore } from "./SqliteDaemonStore.ts"

/** Opens the daemon store of the project at `root`, configured with `storage` (and `env`'s MATERIA_DATABASE_URL). */
export const openDaemonStore = async (
  root: string,
  _storage: StorageConfig | undefined,
  _env: Readonly<Record<string, string | undefined>>
): Promise<DaemonStore> => Effect.runPromise(openSqliteDaemonStore(join(materiaDir(root), "materia.db")))
