/**
 * Resolves a selection against a project, running git first for its `changed-since:<ref>` terms
 * (in the project's root folder). What `materialize`, `materia` and the server call instead of the
 * pure `resolveSelection` when a selection may name git refs.
 */
import {
  type AssetGraph,
  assetsDefinedIn,
  changedSinceRefs,
  resolveSelection,
  SelectionError
} from "@materia/core"
import * as Effect from "effect/Effect"
import { changedFilesSince, type GitChanges, type GitChangesError } from "./GitChanges.ts"

/** A resolved selection, with what git reported for each `changed-since:` ref. */
export interface ResolvedSelection {
  /** Node indices of the selected assets. Empty only when every term is a `changed-since:` term that matched nothing. */
  readonly selected: Set<number>
  /** For each ref of a `changed-since:` term: its merge base and the changed files. */
  readonly changes: ReadonlyMap<string, GitChanges>
}

export interface ResolveSelectionOptions {
  /** The folder git runs in (default: the project's root, else the working directory). */
  readonly root?: string | undefined
}

/**
 * Resolves `selection` (a string or an array whose union is taken) against the project's graph,
 * running git once per `changed-since:` ref. Fails with `SelectionError` for a bad selection (before
 * git runs) and with a `GitChangesError` when git cannot answer (not a repository, unknown ref, no
 * merge base). An empty result is not an error: say that nothing changed (see `describeChanges`).
 *
 * @example
 * const { selected } = yield* resolveSelectionWithGit(project, "changed-since:origin/main+")
 */
export const resolveSelectionWithGit = (
  project: { readonly graph: AssetGraph; readonly root: string | undefined },
  selection: string | ReadonlyArray<string>,
  options: ResolveSelectionOptions = {}
): Effect.Effect<ResolvedSelection, SelectionError | GitChangesError> =>
  Effect.gen(function* () {
    const refs = yield* Effect.try({
      try: () => changedSinceRefs(selection),
      catch: (e) => asSelectionError(e, selection)
    })
    const directory = options.root ?? project.root ?? process.cwd()
    const found = yield* Effect.forEach(refs, (ref) => changedFilesSince(ref, directory), { concurrency: 4 })
    const changes = new Map(found.map((c) => [c.ref, c] as const))
    const changedFiles = new Map(found.map((c) => [c.ref, c.files] as const))
    const selected = yield* Effect.try({
      try: () => resolveSelection(project.graph, selection, { changedFiles }),
      catch: (e) => asSelectionError(e, selection)
    })
    return { selected, changes }
  })

const asSelectionError = (e: unknown, selection: string | ReadonlyArray<string>): SelectionError =>
  e instanceof SelectionError
    ? e
    : new SelectionError({
        selection: typeof selection === "string" ? selection : selection.join(","),
        reason: e instanceof Error ? e.message : String(e)
      })

/**
 * One line per `changed-since:` ref, for a run that selected nothing or for a plan's header:
 * `changed since origin/main (merge base 1a2b3c4d): 3 files, defining 0 assets`.
 */
export const describeChanges = (graph: AssetGraph, resolved: ResolvedSelection): ReadonlyArray<string> =>
  [...resolved.changes.values()].map((c) => {
    const assets = assetsDefinedIn(graph, c.files).length
    const files = `${c.files.size} file${c.files.size === 1 ? "" : "s"}`
    return `changed since ${c.ref} (merge base ${c.mergeBase.slice(0, 8)}): ${files}, defining ${assets} asset${assets === 1 ? "" : "s"}`
  })
