/**
 * The selection syntax of the CLI (`model`, `ml/*`, `+model`, `2+model`, `model+1`, `group:ml`,
 * `tag:team=growth`, `tag:pii`, `*`, `a,b`), evaluated in the browser to filter the asset graph.
 * The server stays the judge of what a launch selects; this only decides what the graph shows.
 */

/** What a selection needs to know of one asset. */
export interface SelectableAsset {
  readonly key: string
  readonly group: string
  readonly tags: Readonly<Record<string, string>>
  readonly upstream: ReadonlyArray<string>
}

/** The keys a selection picks, or the reason it cannot be evaluated. */
export type SelectionResult =
  | { readonly ok: true; readonly keys: ReadonlySet<string> }
  | { readonly ok: false; readonly error: string }

const TERM = /^(?:(\d*)\+)?(.+?)(?:\+(\d*))?$/

const depth = (digits: string | undefined): number =>
  digits === undefined ? 0 : digits === "" ? Number.POSITIVE_INFINITY : Number(digits)

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`)

const walk = (
  start: ReadonlyArray<string>,
  next: ReadonlyMap<string, ReadonlyArray<string>>,
  levels: number,
  into: Set<string>
): void => {
  // Its own visited set: a key selected by an earlier term must not stop this walk.
  const seen = new Set(start)
  let frontier = start
  for (let level = 0; level < levels && frontier.length > 0; level++) {
    const found: Array<string> = []
    for (const key of frontier)
      for (const other of next.get(key) ?? [])
        if (!seen.has(other)) {
          seen.add(other)
          into.add(other)
          found.push(other)
        }
    frontier = found
  }
}

/** Evaluates `selection` over `assets`; an empty selection selects every asset. */
export const evaluateSelection = (
  selection: string,
  assets: ReadonlyArray<SelectableAsset>
): SelectionResult => {
  const text = selection.trim()
  if (text === "" || text === "*") return { ok: true, keys: new Set(assets.map((a) => a.key)) }
  const upstream = new Map<string, ReadonlyArray<string>>()
  const downstream = new Map<string, Array<string>>()
  for (const asset of assets) {
    upstream.set(asset.key, asset.upstream)
    for (const parent of asset.upstream) {
      const children = downstream.get(parent)
      if (children === undefined) downstream.set(parent, [asset.key])
      else children.push(asset.key)
    }
  }
  const selected = new Set<string>()
  for (const raw of text.split(",")) {
    const term = raw.trim()
    if (term === "") continue
    const match = TERM.exec(term)
    const body = match?.[2]
    if (match === null || body === undefined || body.includes("+"))
      return {
        ok: false,
        error: `cannot parse "${term}"; expected KEY, +KEY, KEY+, N+KEY, KEY+N, group:NAME, tag:K=V or *`
      }
    let roots: Array<string>
    if (body.startsWith("group:")) {
      const group = body.slice("group:".length)
      roots = assets.filter((a) => a.group === group).map((a) => a.key)
    } else if (body.startsWith("tag:")) {
      const tag = body.slice("tag:".length)
      const eq = tag.indexOf("=")
      const name = eq < 0 ? tag : tag.slice(0, eq)
      const value = eq < 0 ? undefined : tag.slice(eq + 1)
      roots = assets
        .filter((a) => Object.hasOwn(a.tags, name) && (value === undefined || a.tags[name] === value))
        .map((a) => a.key)
    } else if (body.includes("*")) {
      const pattern = globToRegExp(body)
      roots = assets.filter((a) => pattern.test(a.key)).map((a) => a.key)
    } else roots = upstream.has(body) ? [body] : []
    if (roots.length === 0) return { ok: false, error: `"${body}" matches no asset` }
    for (const key of roots) selected.add(key)
    walk(roots, upstream, depth(match[1]), selected)
    walk(roots, downstream, depth(match[3]), selected)
  }
  return { ok: true, keys: selected }
}
