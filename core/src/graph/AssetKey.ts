/**
 * Asset keys: a single safe segment (`"orders"`) or a path (`["ml", "model"]`), shown and selected as
 * `ml/model`. A key is an identifier, never a file path: validation guarantees it cannot escape a
 * storage root when IO managers turn it into folders or object keys.
 */
import * as Data from "effect/Data"

/** What users may pass as a key: one segment, or a non-empty path of segments. */
export type AssetKeyInput = string | readonly [string, ...string[]]

/** The canonical string of a key literal: `"model"` or `["ml", "model"]` → `"ml/model"`. */
export type AssetKeyString<K> = K extends string
  ? K
  : K extends readonly [infer H extends string]
    ? H
    : K extends readonly [infer H extends string, ...infer T extends readonly string[]]
      ? `${H}/${AssetKeyString<T>}`
      : string

/** A key that breaks the rules: names the key, the rule and how to fix it. */
export class InvalidAssetKey extends Data.TaggedError("InvalidAssetKey")<{
  readonly key: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid asset key ${JSON.stringify(this.key)}: ${this.reason}`
  }
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/
const MAX_SEGMENT = 128

/** Validates one segment; returns the reason it is invalid, or `undefined`. */
const segmentProblem = (segment: string): string | undefined => {
  if (typeof segment !== "string") return `expected a string segment, found ${typeof segment}`
  if (segment.length === 0) return "a segment is empty (expected letters, digits, _ . -)"
  if (segment.trim().length === 0) return "a segment is only whitespace"
  if (segment.includes("/") || segment.includes("\\"))
    return `segment ${JSON.stringify(segment)} contains a path separator; write a path key as an array, e.g. ["ml", "model"]`
  if (segment.includes("..")) return `segment ${JSON.stringify(segment)} contains ".."`
  if (segment.length > MAX_SEGMENT) return `segment is longer than ${MAX_SEGMENT} characters`
  if (!SEGMENT.test(segment))
    return `segment ${JSON.stringify(segment)} must start with a letter, digit or _ and contain only letters, digits, _ . -`
  return undefined
}

/** The canonical string of a key (`ml/model`); throws `InvalidAssetKey` for an unsafe key. */
export const assetKeyToString = (input: AssetKeyInput): string => {
  const segments = typeof input === "string" ? [input] : input
  const shown = typeof input === "string" ? input : JSON.stringify(input)
  if (!Array.isArray(segments) && typeof input !== "string")
    throw new InvalidAssetKey({ key: String(input), reason: "expected a string or an array of strings" })
  if (segments.length === 0)
    throw new InvalidAssetKey({ key: shown, reason: "a path key needs at least one segment" })
  for (const segment of segments) {
    const problem = segmentProblem(segment)
    if (problem !== undefined) throw new InvalidAssetKey({ key: shown, reason: problem })
  }
  return segments.join("/")
}

/** Parses a canonical key string (`ml/model`) back into validated segments. */
export const assetKeySegments = (key: string): ReadonlyArray<string> => {
  const segments = key.split("/")
  for (const segment of segments) {
    const problem = segmentProblem(segment)
    if (problem !== undefined) throw new InvalidAssetKey({ key, reason: problem })
  }
  return segments
}
