/**
 * What every storing IO manager (local disk, S3) agrees on about where a value lives: one folder
 * (or key prefix) per attempt holding `value.<ext>` and `manifest.json`, whose path segments must
 * stay one level deep, and the formats a manifest may name.
 */
import { ValueFormat } from "./fs/Manifest.ts"

/** The manifest beside every stored value: format, size, sha256, rows, schema. */
export const MANIFEST = "manifest.json"

/** A path segment that stays one level deep: non-empty, no separators, no `..`, no control characters. */
export const isSafeSegment = (segment: string): boolean =>
  segment.length > 0 &&
  segment !== "." &&
  !segment.includes("/") &&
  !segment.includes("\\") &&
  !segment.includes("..") &&
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  !/[\u0000-\u001f\u007f]/.test(segment)

const formats = new Set<string>(ValueFormat.literals)

/** Whether a handle's format is one the storing IO managers write. */
export const isValueFormat = (format: string): format is ValueFormat => formats.has(format)

/** The `code` of an OS or SDK error (`ENOENT`, `ECONNRESET`), if it has one. */
export const errorCode = (cause: unknown): string | undefined => {
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}

/** How to recover from a stored value that is missing or damaged. */
export const wipeAdvice = (assetKey: string): string =>
  `run \`materia wipe --select ${assetKey}\` and re-materialize`

/** `<what> is corrupt: expected sha256 …, found …; run materia wipe …`. */
export const hashMismatch = (what: string, expected: string, found: string, assetKey: string): string =>
  `${what} is corrupt: expected sha256 ${expected}, found ${found}; ${wipeAdvice(assetKey)}`

/** `<what> has N bytes, expected M (from its manifest) …; run materia wipe …`. */
export const sizeMismatch = (what: string, expected: number, found: number, assetKey: string): string =>
  `${what} has ${found} bytes, expected ${expected} (from its manifest): it changed after it was written; ${wipeAdvice(assetKey)}`
