/**
 * "Did you mean" suggestions: the known names nearest to a misspelled one, by edit distance.
 * Used by every error that names an unknown key, group or tag.
 */

/** Levenshtein distance with an early exit once it exceeds `limit`. */
export const editDistance = (a: string, b: string, limit = Number.POSITIVE_INFINITY): number => {
  if (a === b) return 0
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  let previous = new Array<number>(b.length + 1)
  let current = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) previous[j] = j
  for (let i = 1; i <= a.length; i++) {
    current[0] = i
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
      current[j] = value
      if (value < rowMin) rowMin = value
    }
    if (rowMin > limit) return limit + 1
    ;[previous, current] = [current, previous]
  }
  return previous[b.length]!
}

/** Up to `count` known names nearest to `name` (substring matches first), nearest first. */
export const nearest = (name: string, known: Iterable<string>, count = 3): ReadonlyArray<string> => {
  const limit = Math.max(2, Math.floor(name.length / 2))
  const scored: Array<readonly [string, number]> = []
  const lower = name.toLowerCase()
  for (const candidate of known) {
    const c = candidate.toLowerCase()
    // A path key is also compared by its last segment: "modle" is near "ml/model".
    const last = c.slice(c.lastIndexOf("/") + 1)
    const distance =
      c.includes(lower) || lower.includes(c)
        ? 0.5
        : Math.min(editDistance(lower, c, limit), last === c ? limit + 1 : editDistance(lower, last, limit))
    if (distance <= limit) scored.push([candidate, distance])
  }
  scored.sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
  return scored.slice(0, count).map(([candidate]) => candidate)
}

/** ` (did you mean "a" or "b"?)`, or the empty string when nothing is near. */
export const didYouMean = (name: string, known: Iterable<string>): string => {
  const near = nearest(name, known)
  if (near.length === 0) return ""
  return ` (did you mean ${near.map((n) => JSON.stringify(n)).join(" or ")}?)`
}
