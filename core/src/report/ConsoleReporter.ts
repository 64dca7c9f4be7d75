/**
 * The console reporter: a run-event subscriber that shows a run in a terminal. On a TTY it redraws
 * the running steps in place (elapsed time, latest log line) below permanent lines for finished
 * steps; elsewhere (CI logs, pipes, files) it writes one plain line per event of interest, no escapes.
 */

import type { EventListener, RunEvent } from "../events/RunEvent.ts"
import { stepLabel } from "../plan/Planner.ts"

/** Where the reporter writes: `process.stdout`, `process.stderr`, or anything with `write`. */
export interface ReporterStream {
  write(chunk: string): unknown
  readonly isTTY?: boolean | undefined
  /** Terminal width: live lines are cut to it so that redrawing in place never wraps. */
  readonly columns?: number | undefined
  /** Terminal height: bounds the number of live lines. */
  readonly rows?: number | undefined
}

/** The lowest level of step logs written out; `none` hides them. */
export type ReporterLogLevel = "debug" | "info" | "warn" | "error" | "none"

export interface ConsoleReporterOptions {
  /** Default `process.stdout`. */
  readonly stream?: ReporterStream | undefined
  /** Live, redrawn progress (default: `stream.isTTY`); otherwise plain lines only. */
  readonly tty?: boolean | undefined
  /** ANSI colors (default: the value of `tty`). */
  readonly color?: boolean | undefined
  /** The clock for elapsed times of running steps (default `Date.now`). */
  readonly now?: (() => number) | undefined
  /** Milliseconds between redraws of the live lines on a TTY (default 100). */
  readonly interval?: number | undefined
  /** Step logs at this level and above are written (default `info`). */
  readonly logLevel?: ReporterLogLevel | undefined
}

/** A reporter: subscribe `listener` to a run (`materialize(..., { onEvent })`); `close` when done. */
export interface ConsoleReporter {
  readonly listener: EventListener
  /** Stops the redraw timer and clears the live lines. Idempotent; the run's end does it too. */
  readonly close: () => void
}

interface Running {
  startedAt: number
  attempt: number
  lastLog: string | undefined
}

const LEVELS: Record<ReporterLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, none: 4 }
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
/** Plan lines printed when a run starts; a bigger plan is summarized. */
const MAX_PLAN_LINES = 12
/** Targets named in a run's first line. */
const MAX_TARGETS = 3
/** Scalar metadata entries shown on a success line. */
const MAX_METADATA = 5

const CODES = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 } as const
type Style = keyof typeof CODES

/** `123 ms`, `4.56 s`, `2m 05s`. */
export const formatDuration = (millis: number): string => {
  if (!Number.isFinite(millis) || millis < 0) return "0 ms"
  if (millis < 1000) return `${Math.round(millis)} ms`
  if (millis < 60_000) return `${(millis / 1000).toFixed(millis < 10_000 ? 2 : 1)} s`
  const seconds = Math.round(millis / 1000)
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`
}

const formatScalar = (value: unknown): string | undefined => {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value)
    return Math.abs(value) >= 1000 ? value.toFixed(0) : String(Number(value.toPrecision(4)))
  }
  if (typeof value === "boolean") return String(value)
  if (typeof value === "string") return value.length > 24 ? `${value.slice(0, 23)}…` : value
  return undefined
}

/** `loss=0.2134 accuracy=0.912`: the first few scalar entries of a materialization's metadata. */
const formatMetadata = (metadata: Readonly<Record<string, unknown>> | undefined): string => {
  if (metadata === undefined) return ""
  const parts: Array<string> = []
  for (const [name, value] of Object.entries(metadata)) {
    const shown = formatScalar(value)
    if (shown === undefined) continue
    parts.push(`${name}=${shown}`)
    if (parts.length === MAX_METADATA) break
  }
  return parts.join(" ")
}

/** Cuts `text` to `width` visible characters (code points), ending with `…` when cut. */
const truncate = (text: string, width: number): string => {
  const chars = [...text]
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join("")}…`
}

/**
 * What went wrong, worded after the step's key: step errors say `asset "key" failed: ...` or
 * `asset "key" timed out ...`, so the key is not repeated; other messages read `failed: ...`.
 */
const describeError = (key: string, message: string): string => {
  const prefix = `asset ${JSON.stringify(key)} `
  return message.startsWith(prefix) ? message.slice(prefix.length) : `failed: ${message}`
}

/** Every line of a (possibly multi-line) message after the first, indented by `prefix`. */
const indent = (text: string, prefix: string): string => text.split("\n").join(`\n${prefix}`)

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? "" : "s"}`

/**
 * Makes a console reporter. On a TTY, running steps are redrawn in place on each event and on a
 * timer (unref'd: it never keeps the process alive); finished steps, logs and the summary are
 * permanent lines. Elsewhere, plain lines only, one per event of interest, and no timer.
 *
 * @example
 * const reporter = consoleReporter()
 * try {
 *   await materialize(project, ["model"], { onEvent: reporter.listener })
 * } finally {
 *   reporter.close()
 * }
 */
export const consoleReporter = (options: ConsoleReporterOptions = {}): ConsoleReporter => {
  const stream: ReporterStream = options.stream ?? process.stdout
  const tty = options.tty ?? stream.isTTY === true
  const color = options.color ?? tty
  const now = options.now ?? Date.now
  const interval = Math.max(16, options.interval ?? 100)
  const minLevel = LEVELS[options.logLevel ?? "info"]

  const running = new Map<string, Running>()
  const metadata = new Map<string, Readonly<Record<string, unknown>>>()
  let planned = 0
  let succeeded = 0
  let unchanged = 0
  let failed = 0
  let skipped = 0
  let canceled = 0
  let inRun = false
  let runStartedAt = 0
  let liveLines = 0
  let frame = 0
  let timer: ReturnType<typeof setInterval> | undefined
  let closed = false

  const paint = (style: Style, text: string): string => (color ? `\x1b[${CODES[style]}m${text}\x1b[0m` : text)

  const write = (chunk: string): void => {
    if (chunk.length === 0) return
    try {
      stream.write(chunk)
    } catch {
      // A closed stream (a pipe whose reader went away) must not break the run.
    }
  }

  /** Moves the cursor up over the live lines, clearing each one. */
  const erase = (): string => {
    if (liveLines === 0) return ""
    const out = `\r${"\x1b[1A\x1b[2K".repeat(liveLines)}`
    liveLines = 0
    return out
  }

  /** The live lines: one per running step (oldest first), then a footer with the run's counts. */
  const live = (): Array<string> => {
    if (!inRun) return []
    const width = Math.max(20, (stream.columns ?? 80) - 1)
    const room = Math.max(3, Math.min(20, (stream.rows ?? 24) - 4))
    const lines: Array<string> = []
    const t = now()
    const spinner = SPINNER[frame % SPINNER.length]!
    let shown = 0
    for (const [key, step] of running) {
      if (shown === room) {
        lines.push(paint("dim", truncate(`  … and ${running.size - shown} more running`, width)))
        break
      }
      shown++
      const attempt = step.attempt > 1 ? ` (attempt ${step.attempt})` : ""
      const log = step.lastLog === undefined ? "" : ` · ${step.lastLog}`
      const text = truncate(`${key} ${formatDuration(t - step.startedAt)}${attempt}${log}`, width - 2)
      lines.push(`${paint("cyan", spinner)} ${text}`)
    }
    const done = succeeded + unchanged + failed + skipped + canceled
    const waiting = Math.max(0, planned - done - running.size)
    const footer = `  ${done}/${planned} done · ${running.size} running · ${waiting} waiting · ${formatDuration(t - runStartedAt)}`
    lines.push(paint("dim", truncate(footer, width)))
    return lines
  }

  /** Writes permanent lines; on a TTY, above freshly redrawn live lines, in one write. */
  const output = (permanent: ReadonlyArray<string>): void => {
    if (!tty) {
      write(permanent.map((line) => `${line}\n`).join(""))
      return
    }
    let chunk = erase()
    for (const line of permanent) chunk += `${line}\n`
    const lines = closed ? [] : live()
    for (const line of lines) chunk += `${line}\n`
    liveLines = lines.length
    write(chunk)
  }

  const stopTimer = (): void => {
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
  }

  const startTimer = (): void => {
    if (!tty || closed || timer !== undefined) return
    timer = setInterval(() => {
      frame++
      output([])
    }, interval)
    timer.unref?.()
  }

  const lines = (event: RunEvent): Array<string> => {
    switch (event._tag) {
      case "RunStarted": {
        const targets =
          event.targets.length === 0
            ? "nothing"
            : event.targets.length <= MAX_TARGETS
              ? event.targets.join(", ")
              : `${event.targets.slice(0, MAX_TARGETS).join(", ")} and ${event.targets.length - MAX_TARGETS} more`
        if (event.steps.length === 0)
          return [`${paint("bold", "▶")} run ${event.runId} (${event.project}): ${targets} already fresh`]
        const head = `${paint("bold", "▶")} run ${event.runId} (${event.project}): ${plural(event.steps.length, "step")} for ${targets}`
        const plan = event.steps
          .slice(0, MAX_PLAN_LINES)
          .map((s) =>
            paint("dim", `  · ${stepLabel(s)}${s.reasons.length > 0 ? ` (${s.reasons.join("; ")})` : ""}`)
          )
        if (event.steps.length > MAX_PLAN_LINES)
          plan.push(paint("dim", `  · … and ${event.steps.length - MAX_PLAN_LINES} more`))
        return [head, ...plan]
      }
      case "StepStarted":
        return tty
          ? []
          : [
              `${paint("cyan", "▸")} ${stepLabel(event)} started${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""}`
            ]
      case "StepWaiting":
        return [paint("yellow", `⏸ ${stepLabel(event)} ${event.reason}`)]
      case "StepLog": {
        if (LEVELS[event.level] < minLevel) return []
        const level = event.level === "info" ? "" : `${event.level}: `
        const prefix = `  ${stepLabel(event)} │ `
        const text = `${prefix}${level}${indent(event.message, " ".repeat(prefix.length))}`
        return [
          event.level === "error" ? paint("red", text) : event.level === "warn" ? paint("yellow", text) : text
        ]
      }
      case "StepRetrying":
        return [
          paint(
            "yellow",
            `↻ ${stepLabel(event)} attempt ${event.attempt} ${indent(describeError(stepLabel(event), event.error.message), "  ")}; retrying in ${formatDuration(event.delayMillis)}`
          )
        ]
      case "StepSucceeded": {
        const details = formatMetadata(metadata.get(stepLabel(event)))
        const retried = event.attempt > 1 ? ` after ${plural(event.attempt, "attempt")}` : ""
        const what = event.outcome === "unchanged" ? " unchanged" : ""
        return [
          `${paint("green", "✓")} ${stepLabel(event)}${what} ${formatDuration(event.durationMillis)}${retried}${details === "" ? "" : paint("dim", ` · ${details}`)}`
        ]
      }
      case "StepFailed": {
        const attempt = event.attempt > 1 ? ` (attempt ${event.attempt})` : ""
        return [
          paint(
            "red",
            `✗ ${stepLabel(event)}${attempt} ${indent(describeError(stepLabel(event), event.error.message), "  ")}`
          )
        ]
      }
      case "StepSkipped":
        return [paint("yellow", `↷ skipped ${stepLabel(event)}: ${event.reason}`)]
      case "CheckEvaluated": {
        const observed = Object.entries(event.metadata)
          .filter(([, v]) => typeof v === "number" || typeof v === "string" || typeof v === "boolean")
          .slice(0, MAX_METADATA)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(" ")
        const detail = [event.message, observed].filter((x) => x !== undefined && x !== "").join(" · ")
        if (event.passed)
          return [
            paint("dim", `  ✓ check ${stepLabel(event)}:${event.check}${detail === "" ? "" : ` · ${detail}`}`)
          ]
        const blocked = event.blocking && event.severity === "error"
        return [
          paint(
            blocked ? "red" : "yellow",
            `  ${blocked ? "✗" : "!"} check ${stepLabel(event)}:${event.check} failed${blocked ? " (blocking)" : ""}${detail === "" ? "" : `: ${detail}`}`
          )
        ]
      }
      case "AlertSent": {
        const about =
          event.key === undefined ? "run" : stepLabel({ key: event.key, partition: event.partition })
        return [
          event.ok
            ? paint("dim", `  ✉ alert ${event.alert} sent for ${about}`)
            : paint(
                "yellow",
                `  ✉ alert ${event.alert} for ${about} not delivered: ${event.error ?? "unknown error"}`
              )
        ]
      }
      case "StepCanceled":
        return [paint("magenta", `⊘ canceled ${stepLabel(event)}`)]
      case "RunFinished": {
        const counts: Array<string> = []
        if (succeeded > 0) counts.push(`${succeeded} succeeded`)
        if (unchanged > 0) counts.push(`${unchanged} unchanged`)
        if (failed > 0) counts.push(`${failed} failed`)
        if (skipped > 0) counts.push(`${skipped} skipped`)
        if (canceled > 0) counts.push(`${canceled} canceled`)
        const summary = `run ${event.status} in ${formatDuration(event.durationMillis)}: ${counts.length === 0 ? "nothing ran" : counts.join(", ")}${event.reason === undefined ? "" : ` (${event.reason})`}`
        return [
          event.status === "succeeded"
            ? paint("green", `✓ ${summary}`)
            : event.status === "failed"
              ? paint("red", `✗ ${summary}`)
              : paint("magenta", `⊘ ${summary}`)
        ]
      }
      case "SourceObserved":
      case "Materialization":
        return []
    }
  }

  /** Updates the reporter's state; O(1) per event. */
  const apply = (event: RunEvent): void => {
    switch (event._tag) {
      case "RunStarted":
        running.clear()
        metadata.clear()
        planned = event.steps.length
        succeeded = unchanged = failed = skipped = canceled = 0
        runStartedAt = event.at
        inRun = true
        break
      case "StepStarted": {
        const step = running.get(stepLabel(event))
        if (step === undefined)
          running.set(stepLabel(event), { startedAt: event.at, attempt: event.attempt, lastLog: undefined })
        else step.attempt = event.attempt
        break
      }
      case "StepWaiting":
      case "StepLog": {
        const step = running.get(stepLabel(event))
        if (step !== undefined)
          step.lastLog = (event._tag === "StepLog" ? event.message : event.reason).split("\n")[0]
        break
      }
      case "Materialization":
        metadata.set(stepLabel(event), event.metadata)
        break
      case "StepSucceeded":
        running.delete(stepLabel(event))
        if (event.outcome === "unchanged") unchanged++
        else succeeded++
        break
      case "StepFailed":
        running.delete(stepLabel(event))
        failed++
        break
      case "StepSkipped":
        skipped++
        break
      case "StepCanceled":
        running.delete(stepLabel(event))
        canceled++
        break
      case "RunFinished":
        running.clear()
        inRun = false
        break
      case "SourceObserved":
      case "StepRetrying":
        break
    }
  }

  const listener: EventListener = (event) => {
    if (closed) return
    apply(event)
    output(lines(event))
    // A materialization's metadata lives until the line of its step's end has shown it.
    if (event._tag === "StepSucceeded" || event._tag === "StepFailed" || event._tag === "StepCanceled")
      metadata.delete(stepLabel(event))
    if (event._tag === "RunStarted") startTimer()
    if (event._tag === "RunFinished") stopTimer()
  }

  const close = (): void => {
    if (closed) return
    stopTimer()
    inRun = false
    if (tty) output([])
    closed = true
  }

  return { listener, close }
}
