/**
 * Reads `tsc --pretty false` output and `// @expect TSxxxx "fragment"` annotations, and pairs them:
 * the harness behind `TypeErrors.test.ts`, which proves each compile-time guarantee fails with the
 * intended diagnostic (code, line and message), and nothing else fails.
 */

/** One compiler diagnostic: `file(line,col): error TSxxxx: message`, plus its indented continuation lines. */
export interface Diagnostic {
  /** As tsc prints it (relative to its working directory); undefined for a diagnostic with no location. */
  readonly file: string | undefined
  readonly line: number
  readonly column: number
  readonly code: string
  /** The first line and every continuation line, joined by newlines, indentation removed. */
  readonly message: string
}

/** A diagnostic a fixture line must produce. */
export interface Expectation {
  readonly file: string
  /** 1-based: the first line after the annotation that is not itself an annotation. */
  readonly line: number
  readonly code: string
  /** Must occur verbatim in the diagnostic's message (no escapes: the text between the outer quotes). */
  readonly fragment: string
}

/** What tsc printed: diagnostics, the files it compiled (`--listFiles`), and lines it did not recognise. */
export interface CompilerOutput {
  readonly diagnostics: ReadonlyArray<Diagnostic>
  readonly files: ReadonlyArray<string>
  readonly unrecognized: ReadonlyArray<string>
}

const LOCATED = /^(.+)\((\d+),(\d+)\): error (TS\d+): (.*)$/
const GLOBAL = /^error (TS\d+): (.*)$/
const ANNOTATION = /^\s*\/\/ @expect (TS\d+) "(.*)"\s*$/

/** Parses `tsc --pretty false --listFiles` output; an indented line continues the previous diagnostic. */
export const parseCompilerOutput = (output: string): CompilerOutput => {
  const diagnostics: Array<Diagnostic> = []
  const files: Array<string> = []
  const unrecognized: Array<string> = []
  let current: { -readonly [K in keyof Diagnostic]: Diagnostic[K] } | undefined
  const flush = () => {
    if (current !== undefined) diagnostics.push(current)
    current = undefined
  }
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === "") continue
    if (/^\s/.test(line)) {
      if (current === undefined) unrecognized.push(line)
      else current.message += `\n${line.trim()}`
      continue
    }
    flush()
    const located = LOCATED.exec(line)
    const global = located === null ? GLOBAL.exec(line) : null
    if (located !== null)
      current = {
        file: located[1]!,
        line: Number(located[2]),
        column: Number(located[3]),
        code: located[4]!,
        message: located[5]!
      }
    else if (global !== null)
      current = { file: undefined, line: 0, column: 0, code: global[1]!, message: global[2]! }
    else if (line.startsWith("/")) files.push(line)
    else unrecognized.push(line)
  }
  flush()
  return { diagnostics, files, unrecognized }
}

/**
 * Reads the annotations of one fixture. Several annotations in a row all apply to the next line;
 * a comment mentioning `@expect` that is not a well-formed annotation is returned as malformed.
 */
export const parseExpectations = (
  file: string,
  text: string
): { readonly expectations: ReadonlyArray<Expectation>; readonly malformed: ReadonlyArray<string> } => {
  const lines = text.split(/\r?\n/)
  const expectations: Array<Expectation> = []
  const malformed: Array<string> = []
  let pending: Array<{ code: string; fragment: string }> = []
  lines.forEach((line, index) => {
    const annotation = ANNOTATION.exec(line)
    if (annotation !== null) {
      pending.push({ code: annotation[1]!, fragment: annotation[2]! })
      return
    }
    if (line.includes("@expect")) malformed.push(`${file}:${index + 1}: ${line.trim()}`)
    for (const { code, fragment } of pending) expectations.push({ file, line: index + 1, code, fragment })
    pending = []
  })
  for (const { code } of pending) malformed.push(`${file}: ${code} annotation at the end of the file`)
  return { expectations, malformed }
}

/** Whether a diagnostic satisfies an expectation: same file, line and code, and the fragment in its message. */
export const satisfies = (diagnostic: Diagnostic, expectation: Expectation): boolean =>
  diagnostic.file === expectation.file &&
  diagnostic.line === expectation.line &&
  diagnostic.code === expectation.code &&
  diagnostic.message.includes(expectation.fragment)

/**
 * Pairs expectations with diagnostics one to one (each diagnostic satisfies at most one expectation);
 * file names must be spelled alike on both sides. The sets are equal exactly when both lists are empty.
 */
export const matchDiagnostics = (
  expectations: ReadonlyArray<Expectation>,
  diagnostics: ReadonlyArray<Diagnostic>
): { readonly unmatched: ReadonlyArray<Expectation>; readonly unexpected: ReadonlyArray<Diagnostic> } => {
  const used = new Set<number>()
  const unmatched: Array<Expectation> = []
  for (const expectation of expectations) {
    const index = diagnostics.findIndex((d, i) => !used.has(i) && satisfies(d, expectation))
    if (index === -1) unmatched.push(expectation)
    else used.add(index)
  }
  return { unmatched, unexpected: diagnostics.filter((_, i) => !used.has(i)) }
}

/** One line per diagnostic, for failure messages. */
export const formatDiagnostic = (d: Diagnostic): string =>
  `${d.file ?? "<global>"}(${d.line},${d.column}): ${d.code}: ${d.message.replace(/\n/g, "\n    ")}`
