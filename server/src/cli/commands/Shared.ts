/**
 * Steps shared by the project commands: load the project named by `--project` (or the nearest
 * materia.config.ts), open its local store (marking runs whose process died), and run an Effect of
 * ours as a Promise that rejects with the typed error itself.
 */

import { type AnyProject, isDriverAlive, type MaterializeStore, resolveStore } from "@materia/assets"
import { markDeadRuns, resolveSelection } from "@materia/core"
import * as Effect from "effect/Effect"
import type { CommandContext } from "../Command.ts"
import { findConfig, loadProject } from "../ProjectLoader.ts"

export interface OpenProject {
  readonly project: AnyProject
  readonly root: string
  readonly store: MaterializeStore
}

/** Loads the project, opens its store and marks the runs whose driving process died as failed. */
export const openProject = async (
  explicit: string | undefined,
  context: CommandContext,
  /** Checked before the store is opened: a mistyped selection leaves nothing behind. */
  selection?: string | undefined
): Promise<OpenProject> => {
  const { project, root } = await loadProject(findConfig(explicit, context.cwd))
  if (selection !== undefined) resolveSelection(project.graph, selection)
  const store = await run(resolveStore("local", root))
  // Every command, `materia runs` included, must never list a killed run as still running.
  await run(markDeadRuns(store.storage, project.name, isDriverAlive))
  return { project, root, store }
}

/** Runs an Effect; rejects with its typed failure (not a wrapper). */
export const run = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
  const exit = await Effect.runPromiseExit(effect)
  if (exit._tag === "Success") return exit.value
  const reason = exit.cause.reasons[0]
  if (reason?._tag === "Fail") throw reason.error
  if (reason?._tag === "Die") throw reason.defect
  throw new Error("interrupted")
}
