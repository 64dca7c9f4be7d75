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
 * | `changed-since:origin/main` | assets whose defining file changed since the merge base with that git ref |
 * | `a,b` | the union (also: an array of selections) |
 *
 * `changed-since:<ref>` takes the same `+` and depth affixes (`changed-since:origin/main+`,
 * `2+changed-since:main`). The ref is everything after `changed-since:` up to the end of the term,
 * except that a trailing `+` or `+N` is always the downstream operator (a ref that itself ends in `+N`
 * can be written `<ref>^{commit}`). Git runs outside this module: callers list the refs with
 * `changedSinceRefs`, collect the changed files, and pass them to `resolveSelection`. A
 * `changed-since:` term that matches no asset is not an error; it selects nothing.
 */
import * as Data from "effect/Data"
import type { AssetGraph } from "./AssetGraph.ts"
import { assetsDefinedIn } from "./ChangedSince.ts"
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
  /** The git ref of a `changed-since:` term. */
  readonly ref?: string | undefined
}

/** The context a selection may need beyond the graph. */
export interface SelectionContext {
  /**
   * For each ref named by a `changed-since:` term (see `changedSinceRefs`), the absolute paths of the
   * source files changed since it.
   */
  readonly changedFiles?: ReadonlyMap<string, ReadonlySet<string>> | undefined
}

const TERM = /^(?:(\d*)\+)?(.+?)(?:\+(\d*))?$/
const CHANGED_SINCE = "changed-since:"
// Lazy ref, then an optional trailing `+` / `+N`: a trailing `+N` is always the operator.
const CHANGED_TERM = /^(?:(\d*)\+)?changed-since:(.*?)(?:\+(\d*))?$/

const parseDepth = (digits: string | undefined): number =>
  digits === undefined ? 0 : digits === "" ? Number.POSITIVE_INFINITY : Number(digits)

const EXPECTED =
  "expected KEY, +KEY, KEY+, N+KEY, KEY+N, group:NAME, tag:K=V, changed-since:REF or *, each with optional + affixes"

const parseTerm = (text: string, whole: string): Term => {
  const changed = CHANGED_TERM.exec(text)
  if (changed !== null) {
    const ref = changed[2]!
    if (ref === "" || ref.endsWith("+"))
      throw new SelectionError({
        selection: whole,
        reason:
          ref === ""
            ? `"${text}" names no git ref; write changed-since:REF, e.g. changed-since:origin/main`
            : `cannot parse "${text}": a trailing + or +N is the downstream operator, so the ref "${ref}" cannot end in +`
      })
    if (ref.startsWith("-"))
      throw new SelectionError({
        selection: whole,
        reason: `"${ref}" in "${text}" is not a git ref (it starts with -); write changed-since:REF, e.g. changed-since:origin/main`
      })
    return {
      text,
      upstream: parseDepth(changed[1]),
      downstream: parseDepth(changed[3]),
      body: CHANGED_SINCE + ref,
      ref
    }
  }
  const match = TERM.exec(text)
  if (match === null || match[2] === undefined || match[2].includes("+"))
    throw new SelectionError({ selection: whole, reason: `cannot parse "${text}"; ${EXPECTED}` })
  return { text, upstream: parseDepth(match[1]), downstream: parseDepth(match[3]), body: match[2] }
}

/** Splits a selection into its parsed terms; throws `SelectionError` for an empty or unparsable one. */
const parseSelection = (
  selection: string | ReadonlyArray<string>
): { readonly whole: string; readonly terms: ReadonlyArray<Term> } => {
  const parts = typeof selection === "string" ? [selection] : selection
  const whole = parts.join(",")
  const texts = parts.flatMap((p) => p.split(",")).map((t) => t.trim())
  if (texts.length === 0 || texts.every((t) => t === ""))
    throw new SelectionError({
      selection: whole,
      reason: "the selection is empty; name at least one asset, or * for all"
    })
  if (texts.includes(""))
    throw new SelectionError({ selection: whole, reason: "an empty term between commas" })
  return { whole, terms: texts.map((t) => parseTerm(t, whole)) }
}

/**
 * The git refs named by the `changed-since:` terms of a selection, each once, in order of
 * appearance: what a caller must diff before `resolveSelection`. Throws `SelectionError` when the
 * selection cannot be parsed.
 */
export const changedSinceRefs = (selection: string | ReadonlyArray<string>): ReadonlyArray<string> => {
  const refs = new Set<string>()
  for (const term of parseSelection(selection).terms) if (term.ref !== undefined) refs.add(term.ref)
  return [...refs]
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`)

const matchBody = (
  graph: AssetGraph,
  body: string,
  term: Term,
  whole: string,
  context: SelectionContext | undefined
): Array<number> => {
  const all = graph.keys
  if (term.ref !== undefined) {
    const files = context?.changedFiles?.get(term.ref)
    if (files === undefined)
      throw new SelectionError({
        selection: whole,
        reason:
          `"${term.text}" needs the files changed since git ref "${term.ref}", and none were given; ` +
          "resolve it through materia or resolveSelectionWithGit (@materia/assets), which run git, " +
          "or pass { changedFiles } to resolveSelection"
      })
    return assetsDefinedIn(graph, files)
  }
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
 * Resolves a selection (a string, or an array whose union is taken) to node indices. Pure and
 * synchronous: `changed-since:` terms read their files from `context.changedFiles`.
 * Throws `SelectionError` for a term that cannot be parsed or matches nothing, and for a
 * `changed-since:` term whose ref has no entry in `context.changedFiles`. A `changed-since:` term
 * that matches no asset selects nothing, so the result may be empty (callers report "nothing changed").
 */
export const resolveSelection = (
  graph: AssetGraph,
  selection: string | ReadonlyArray<string>,
  context?: SelectionContext
): Set<number> => {
  const { whole, terms } = parseSelection(selection)
  const selected = new Set<number>()
  for (const term of terms) {
    const roots = matchBody(graph, term.body, term, whole, context)
    for (const r of roots) selected.add(r)
    if (term.upstream > 0) for (const u of graph.upstreamOf(roots, term.upstream)) selected.add(u)
    if (term.downstream > 0) for (const d of graph.downstreamOf(roots, term.downstream)) selected.add(d)
  }
  return selected
}
