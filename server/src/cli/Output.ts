/**
 * How the CLI prints: aligned text tables for people, JSON for programs, short versions and
 * times. Commands write through an `Output` so tests can capture what they print.
 */
import type { ReporterStream } from "@materia/core"

export interface Output {
  /** Where live progress goes (a terminal redraws in place). */
  readonly stdout: ReporterStream
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

/** An Output over two streams. */
export const makeOutput = (stdout: ReporterStream, stderr: ReporterStream): Output => ({
  stdout,
  out: (line) => {
    stdout.write(`${line}\n`)
  },
  err: (line) => {
    stderr.write(`${line}\n`)
  }
})

/** Lines of a left-aligned table; the last column is not padded. */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>
): Array<string> => {
  const all = [header, ...rows]
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)))
  return all.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd()
  )
}

/** JSON for programs: bigint-safe, two-space indented. */
export const json = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)

/** The first 12 characters of a version hash. */
export const shortVersion = (version: string | undefined): string =>
  version === undefined ? "-" : version.slice(0, 12)

/** An ISO timestamp without milliseconds, or `-`. */
export const timestamp = (at: number | undefined): string =>
  at === undefined ? "-" : new Date(at).toISOString().replace(/\.\d+Z$/, "Z")
