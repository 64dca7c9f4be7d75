/**
 * Proves the DSL's compile-time guarantees fail with the intended error: compiles the fixtures in
 * `type-fixtures/cases` once with the native `tsc`, and asserts its diagnostics equal, exactly, the
 * `// @expect TSxxxx "fragment"` annotations (code, line, message), with `valid.ts` as a clean control.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"
import {
  type CompilerOutput,
  type Diagnostic,
  type Expectation,
  formatDiagnostic,
  matchDiagnostics,
  parseCompilerOutput,
  parseExpectations
} from "./type-fixtures/TypeDiagnostics.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
const fixtures = join(root, "test/src/type-fixtures")
const cases = join(fixtures, "cases")
const caseFiles = readdirSync(cases)
  .filter((name) => name.endsWith(".ts"))
  .sort()
  .map((name) => join(cases, name))
/** Must compile with no diagnostic at all: the positive control, and the module every case imports. */
const cleanFiles = ["valid.ts", "pipeline.ts"].map((name) => join(cases, name))

const annotations = caseFiles.map((file) => parseExpectations(file, readFileSync(file, "utf8")))
const expectations: ReadonlyArray<Expectation> = annotations.flatMap((a) => a.expectations)
const relative = (file: string) => file.slice(root.length + 1)
const describeExpectation = (e: Expectation) => `${relative(e.file)}:${e.line} ${e.code} "${e.fragment}"`

let compiled: CompilerOutput
let diagnostics: ReadonlyArray<Diagnostic>

beforeAll(() => {
  const run = spawnSync(
    join(root, "node_modules/.bin/tsc"),
    ["-p", join(fixtures, "tsconfig.json"), "--pretty", "false", "--listFiles"],
    { cwd: root, encoding: "utf8", timeout: 120_000 }
  )
  if (run.error !== undefined) throw run.error
  expect(run.signal).toBeNull()
  expect(run.stderr).toBe("")
  compiled = parseCompilerOutput(run.stdout)
  // tsc prints locations relative to its working directory: resolve them like the expectations' files.
  diagnostics = compiled.diagnostics.map((d) => ({ ...d, file: d.file && resolve(root, d.file) }))
  // Errors make tsc exit non-zero; the fixtures always contain some.
  expect(run.status).not.toBe(0)
}, 120_000)

describe("type-error fixtures", () => {
  it("compiles every fixture, and tsc prints nothing the parser does not recognise", () => {
    expect(compiled.unrecognized).toEqual([])
    for (const file of caseFiles) expect(compiled.files).toContain(file)
  })

  it("has well-formed annotations, at least 10 of them, and none in the clean files", () => {
    expect(annotations.flatMap((a) => a.malformed)).toEqual([])
    expect(expectations.length).toBeGreaterThanOrEqual(10)
    expect(expectations.filter((e) => cleanFiles.includes(e.file)).map(describeExpectation)).toEqual([])
  })

  it("the positive control and the shared pipeline compile with no diagnostic", () => {
    for (const file of cleanFiles) expect(compiled.files).toContain(file)
    expect(
      diagnostics.filter((d) => d.file !== undefined && cleanFiles.includes(d.file)).map(formatDiagnostic)
    ).toEqual([])
  })

  it.each(expectations.map((e) => [describeExpectation(e), e] as const))("%s", (_, expectation) => {
    const { unmatched } = matchDiagnostics([expectation], diagnostics)
    const onLine = diagnostics.filter((d) => d.file === expectation.file && d.line === expectation.line)
    expect(unmatched.length, `diagnostics on that line:\n${onLine.map(formatDiagnostic).join("\n")}`).toBe(0)
  })

  it("the diagnostics are exactly the expected ones: each matched once, none unexpected", () => {
    const { unmatched, unexpected } = matchDiagnostics(expectations, diagnostics)
    expect({
      unmatched: unmatched.map(describeExpectation),
      unexpected: unexpected.map(formatDiagnostic)
    }).toEqual({ unmatched: [], unexpected: [] })
    expect(diagnostics.length).toBe(expectations.length)
  })
})

describe("TypeDiagnostics", () => {
  const output = [
    "a/x.ts(3,7): error TS2322: Type 'number' is not assignable to type 'string'.",
    "a/y.ts(12,3): error TS2375: Type 'Layer<A, never, never>' is not assignable to type 'Layer<B, unknown, never>'.",
    "  Type 'B' is not assignable to type 'A'.",
    "    Property 'fit' is missing.",
    "error TS5083: Cannot read file 'tsconfig.json'.",
    "/abs/a/x.ts",
    "something else"
  ].join("\n")

  it("parses located and global diagnostics, keeps continuation lines, lists files and the rest", () => {
    const parsed = parseCompilerOutput(output)
    expect(parsed.diagnostics).toEqual([
      {
        file: "a/x.ts",
        line: 3,
        column: 7,
        code: "TS2322",
        message: "Type 'number' is not assignable to type 'string'."
      },
      {
        file: "a/y.ts",
        line: 12,
        column: 3,
        code: "TS2375",
        message:
          "Type 'Layer<A, never, never>' is not assignable to type 'Layer<B, unknown, never>'.\nType 'B' is not assignable to type 'A'.\nProperty 'fit' is missing."
      },
      { file: undefined, line: 0, column: 0, code: "TS5083", message: "Cannot read file 'tsconfig.json'." }
    ])
    expect(parsed.files).toEqual(["/abs/a/x.ts"])
    expect(parsed.unrecognized).toEqual(["something else"])
  })

  it("reads annotations for the next non-annotation line and flags malformed ones", () => {
    const text = [
      "// @expect TS2322 \"Type 'number'\"",
      "const a: string = 1",
      "  // @expect TS2339 \"Property 'x'\"",
      '  // @expect TS2345 "Argument of type \'"a"\'"',
      "  f(a.x)",
      "// @expect 2322 missing quotes",
      "const b = 1"
    ].join("\n")
    expect(parseExpectations("f.ts", text)).toEqual({
      expectations: [
        { file: "f.ts", line: 2, code: "TS2322", fragment: "Type 'number'" },
        { file: "f.ts", line: 5, code: "TS2339", fragment: "Property 'x'" },
        { file: "f.ts", line: 5, code: "TS2345", fragment: "Argument of type '\"a\"'" }
      ],
      malformed: ["f.ts:6: // @expect 2322 missing quotes"]
    })
  })

  it("matches on file, line, code and fragment, one diagnostic per expectation", () => {
    const d: Diagnostic = {
      file: "f.ts",
      line: 2,
      column: 1,
      code: "TS2322",
      message: "Type 'number' is bad.\nmore"
    }
    const e: Expectation = { file: "f.ts", line: 2, code: "TS2322", fragment: "more" }
    expect(matchDiagnostics([e], [d])).toEqual({ unmatched: [], unexpected: [] })
    for (const wrong of [
      { ...e, file: "g.ts" },
      { ...e, line: 3 },
      { ...e, code: "TS2345" },
      { ...e, fragment: "good" }
    ])
      expect(matchDiagnostics([wrong], [d])).toEqual({ unmatched: [wrong], unexpected: [d] })
    expect(matchDiagnostics([e, e], [d])).toEqual({ unmatched: [e], unexpected: [] })
    expect(matchDiagnostics([e], [d, d])).toEqual({ unmatched: [], unexpected: [d] })
  })
})
