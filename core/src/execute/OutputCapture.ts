/**
 * Captures what step bodies print: while a run captures, `process.stdout.write` and
 * `process.stderr.write` are wrapped, and a write made on behalf of a step (tracked with
 * AsyncLocalStorage, which follows Effect fibers and Promise continuations) becomes that step's log
 * lines. `tee` also lets the text through; `capture` keeps it out of the terminal (a live reporter
 * shows the lines instead). Writes outside any step, and the reporters' own, pass untouched.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** `tee`: record and print; `capture`: record only; `off`: leave the streams alone. */
export type OutputMode = "tee" | "capture" | "off"

/** Receives a step's complete lines. */
export type LineSink = (stream: "stdout" | "stderr", line: string) => void

export interface StepSink {
  readonly sink: LineSink
  readonly mode: "tee" | "capture"
  readonly pending: { stdout: string; stderr: string }
}

const current = new AsyncLocalStorage<StepSink | undefined>()
let installed = 0
let passthrough = 0
let originals: { stdout: typeof process.stdout.write; stderr: typeof process.stderr.write } | undefined

const feed = (step: StepSink, stream: "stdout" | "stderr", chunk: unknown, encoding: unknown) => {
  const text =
    typeof chunk === "string"
      ? chunk
      : chunk instanceof Uint8Array
        ? Buffer.from(chunk).toString(typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
        : String(chunk)
  const all = step.pending[stream] + text
  const lines = all.split("\n")
  step.pending[stream] = lines.pop() ?? ""
  for (const line of lines) step.sink(stream, line)
}

const wrap = (
  stream: "stdout" | "stderr",
  original: typeof process.stdout.write
): typeof process.stdout.write =>
  function (this: NodeJS.WriteStream, chunk: unknown, ...rest: Array<unknown>): boolean {
    const step = passthrough > 0 ? undefined : current.getStore()
    if (step !== undefined) {
      passthrough++
      try {
        feed(step, stream, chunk, rest[0])
      } finally {
        passthrough--
      }
      if (step.mode === "capture") {
        const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined
        if (callback !== undefined) queueMicrotask(callback)
        return true
      }
    }
    return (original as (this: NodeJS.WriteStream, ...args: Array<unknown>) => boolean).call(
      this,
      chunk,
      ...rest
    )
  } as typeof process.stdout.write

/** Wraps the process streams for the life of the scope (reference-counted across concurrent runs). */
export const installOutputCapture: Effect.Effect<void, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    if (installed++ === 0) {
      originals = { stdout: process.stdout.write, stderr: process.stderr.write }
      process.stdout.write = wrap("stdout", originals.stdout)
      process.stderr.write = wrap("stderr", originals.stderr)
    }
  }),
  () =>
    Effect.sync(() => {
      if (--installed === 0 && originals !== undefined) {
        process.stdout.write = originals.stdout
        process.stderr.write = originals.stderr
        originals = undefined
      }
    })
)

/** Attributes the current fiber's (and its Promises') writes to a step, until `flushStepOutput`. */
export const enterStepOutput = (sink: LineSink, mode: "tee" | "capture"): StepSink => {
  const step: StepSink = { sink, mode, pending: { stdout: "", stderr: "" } }
  current.enterWith(step)
  return step
}

/** Emits a step's unterminated last lines (before its end is reported). */
export const drainStepOutput = (step: StepSink): void => {
  for (const stream of ["stdout", "stderr"] as const)
    if (step.pending[stream] !== "") {
      const line = step.pending[stream]
      step.pending[stream] = ""
      step.sink(stream, line)
    }
}

/** Stops attributing the current fiber's writes to a step. */
export const leaveStepOutput = (): void => {
  current.enterWith(undefined)
}

/** Runs `f` with capture suspended: what it writes goes straight to the terminal (reporters). */
export const writingThrough = <A>(f: () => A): A => {
  passthrough++
  try {
    return f()
  } finally {
    passthrough--
  }
}
