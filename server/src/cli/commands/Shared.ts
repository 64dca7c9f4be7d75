/**
 * Steps shared by the project commands: load the project named by `--project` (or the nearest
 * materia.config.ts), open its local store (marking runs whose process died), and run an Effect of
 * ours as a Promise that rejects with the typed error itself.
 */

import {
  type AnyProject,
  describeChanges,
  isDriverAlive,
  type MaterializeStore,
  openConfiguredStore,
  type ResolvedSelection,
  resolveSelectionWithGit
} from "@materia/assets"
import { markDeadRuns } from "@materia/core"
import * as Effect from "effect/Effect"
import type { CommandContext } from "../Command.ts"
import { findConfig, loadProject } from "../ProjectLoader.ts"

export interface OpenProject {
  readonly project: AnyProject
  /** The module the project was loaded from (other processes load it too: executors, workers). */
  readonly file: string
  readonly root: string
  readonly store: MaterializeStore
  /** The resolved selection, when one was given (git was asked for `changed-since:` terms). */
  readonly selected?: ResolvedSelection | undefined
}

/** Loads the project, opens its store and marks the runs whose driving process died as failed. */
export const openProject = async (
  explicit: string | undefined,
  context: CommandContext,
  /** Checked before the store is opened: a mistyped selection leaves nothing behind. */
  selection?: string | undefined
): Promise<OpenProject> => {
  const { project, root, file } = await loadProject(findConfig(explicit, context.cwd))
  const selected =
    selection === undefined ? undefined : await run(resolveSelectionWithGit(project, selection, { root }))
  // The project's configured store: PostgreSQL (its `storage` option or MATERIA_DATABASE_URL), else SQLite.
  const store = await openConfiguredStore(root, project.storage, process.env)
  // Every command, `materia runs` included, must never list a killed run as still running.
  await run(markDeadRuns(store.storage, project.name, isDriverAlive))
  return { project, file, root, store, selected }
}

/** For a selection that git narrowed to nothing: says what changed, so CI logs explain the no-op. */
export const nothingChanged = (opened: OpenProject, out: (line: string) => void): boolean => {
  const selected = opened.selected
  if (selected === undefined || selected.selected.size > 0) return false
  out("Nothing to do: no asset changed.")
  for (const line of describeChanges(opened.project.graph, selected)) out(`  ${line}`)
  return true
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
