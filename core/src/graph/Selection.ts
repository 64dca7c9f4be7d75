/**
 * The selection syntax: which assets a command or a call targets.
 *
 * | syntax | selects |
 * | --- | --- |
 * | `model` or `ml/model` | one asset by key |
 * | `ml/*` | keys matching a glob (`*` matches within and across segments) |
 * | `+model` / `2+model` | the asset and all / two levels of its upstream |
 * | `model+` / `model+1` | the asset and all / one level of its downstream |
 * | `group:ml` | every asset of a group |
 * | `tag:team=growth` / `tag:pii` | assets with that tag value / that tag |
 * | `*` | every asset |
 * | `a,b` | the union (also: an array of selections) |
 */
import * as Data from "effect/Data"
import type { AssetGraph } from "./AssetGraph.ts"
import { didYouMean } from "./Suggest.ts"

/** A selection that cannot be parsed or matches nothing; names the term and the nearest keys. */
export class SelectionError extends Data.TaggedError("SelectionError")<{
  readonly selection: string
  readonly reason: string
}> {
  override get message(): string {
    return `selection "${this.selection}": ${this.reason}`
  }
}

interface Term {
  readonly text: string
  readonly upstream: number
  readonly downstream: number
  readonly body: string
}

const TERM = /^(?:(\d*)\+)?(.+?)(?:\+(\d*))?$/

const parseDepth = (digits: string | undefined): number =>
  digits === undefined ? 0 : digits === "" ? Number.POSITIVE_INFINITY : Number(digits)

const parseTerm = (text: string, whole: string): Term => {
  const match = TERM.exec(text)
  if (match === null || match[2] === undefined || match[2].includes("+"))
    throw new SelectionError({
      selection: whole,
      reason: `cannot parse "${text}"; expected KEY, +KEY, KEY+, N+KEY, KEY+N, group:NAME, tag:K=V or *`
    })
  return { text, upstream: parseDepth(match[1]), downstream: parseDepth(match[3]), body: match[2] }
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`)

const matchBody = (graph: AssetGraph, body: string, term: Term, whole: string): Array<number> => {
  const all = graph.keys
  if (body === "*") return all.map((_, i) => i)
  if (body.startsWith("group:")) {
    const group = body.slice("group:".length)
    const found = graph.specs.flatMap((s, i) => (s.group === group ? [i] : []))
    if (found.length === 0) {
      const groups = new Set(graph.specs.map((s) => s.group))
      throw new SelectionError({
        selection: whole,
        reason: `no asset is in group "${group}"${didYouMean(group, groups)}; groups: ${[...groups].sort().join(", ")}`
      })
    }
    return found
  }
  if (body.startsWith("tag:")) {
    const tag = body.slice("tag:".length)
    const eq = tag.indexOf("=")
    const name = eq < 0 ? tag : tag.slice(0, eq)
    const value = eq < 0 ? undefined : tag.slice(eq + 1)
    const found = graph.specs.flatMap((s, i) =>
      Object.hasOwn(s.tags, name) && (value === undefined || s.tags[name] === value) ? [i] : []
    )
    if (found.length === 0) {
      const tags = new Set(graph.specs.flatMap((s) => Object.entries(s.tags).map(([k, v]) => `${k}=${v}`)))
      throw new SelectionError({
        selection: whole,
        reason: `no asset has tag "${tag}"${didYouMean(tag, tags)}`
      })
    }
    return found
  }
  if (body.includes("*")) {
    const pattern = globToRegExp(body)
    const found = all.flatMap((k, i) => (pattern.test(k) ? [i] : []))
    if (found.length === 0)
      throw new SelectionError({ selection: whole, reason: `no asset key matches "${body}"` })
    return found
  }
  const index = graph.indexOf(body)
  if (index < 0)
    throw new SelectionError({
      selection: whole,
      reason: `no asset has key "${term.body}"${didYouMean(term.body, all)}`
    })
  return [index]
}

/**
 * Resolves a selection (a string, or an array whose union is taken) to node indices.
 * Throws `SelectionError` for a term that cannot be parsed or matches nothing.
 */
export const resolveSelection = (
  graph: AssetGraph,
  selection: string | ReadonlyArray<string>
): Set<number> => {
  const parts = typeof selection === "string" ? [selection] : selection
  const whole = parts.join(",")
  const terms = parts.flatMap((p) => p.split(",")).map((t) => t.trim())
  if (terms.length === 0 || terms.every((t) => t === ""))
    throw new SelectionError({
      selection: whole,
      reason: "the selection is empty; name at least one asset, or * for all"
    })
  if (terms.includes(""))
    throw new SelectionError({ selection: whole, reason: "an empty term between commas" })
  const selected = new Set<number>()
  for (const text of terms) {
    const term = parseTerm(text, whole)
    const roots = matchBody(graph, term.body, term, whole)
    for (const r of roots) selected.add(r)
    if (term.upstream > 0) for (const u of graph.upstreamOf(roots, term.upstream)) selected.add(u)
    if (term.downstream > 0) for (const d of graph.downstreamOf(roots, term.downstream)) selected.add(d)
  }
  return selected
}
