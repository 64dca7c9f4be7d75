/**
 * The pure half of `changed-since:<git ref>` selections: which assets are defined in a set of
 * changed source files. Git itself runs elsewhere (`@materia/assets`' GitChanges); this module only
 * matches each spec's `definedIn` against the files it is given.
 */
import type { AssetGraph } from "./AssetGraph.ts"

/**
 * The node indices (ascending) of the assets whose `definedIn` is one of `changedFiles`.
 * Both sides are absolute paths compared as strings: give the files as the module loader saw them
 * (real paths, the platform's separators). Assets without `definedIn` are never selected.
 */
export const assetsDefinedIn = (graph: AssetGraph, changedFiles: ReadonlySet<string>): Array<number> => {
  const found: Array<number> = []
  if (changedFiles.size === 0) return found
  const specs = graph.specs
  for (let i = 0; i < specs.length; i++) {
    const file = specs[i]!.definedIn
    if (file !== undefined && changedFiles.has(file)) found.push(i)
  }
  return found
}
