import { afterEach, describe, expect, it, vi } from "vitest"
import type { RunEvent } from "../events/RunEvent.ts"
import { consoleReporter, formatDuration } from "./ConsoleReporter.ts"

/** A writable stream that keeps what it is given. */
const fakeStream = (isTTY: boolean) => {
  const chunks: Array<string> = []
  return {
    isTTY,
    columns: 60,
    rows: 30,
    chunks,
    text: () => chunks.join(""),
    write(chunk: string): boolean {
      chunks.push(chunk)
      return true
    }
  }
}

/**
 * What a terminal would show after `text`: interprets `\n`, `\r`, cursor up (`ESC[nA`) and clear
 * line (`ESC[2K`), and drops colors. Any other escape fails the test.
 */
const screen = (text: string): Array<string> => {
  const rows: Array<string> = [""]
  let row = 0
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (ch === "\x1b") {
      const m = /^\[(\d*)([A-Za-z])/.exec(text.slice(i + 1))
      if (m === null) throw new Error(`bad escape at ${i}`)
      const [all, n, op] = m
      if (op === "A") row = Math.max(0, row - Number(n || 1))
      else if (op === "K" && n === "2") rows[row] = ""
      else if (op !== "m") throw new Error(`unexpected escape ${JSON.stringify(all)}`)
      i += 1 + all.length
      continue
    }
    if (ch === "\n") {
      row++
      if (rows.length === row) rows.push("")
    } else if (ch !== "\r") rows[row] += ch
    i++
  }
  while (rows.length > 0 && rows[rows.length - 1] === "") rows.pop()
  return rows
}

const runId = "r1"
const started = (steps: ReadonlyArray<string>, targets = steps.slice(-1)): RunEvent => ({
  _tag: "RunStarted",
  runId,
  at: 0,
  project: "demo",
  targets,
  steps: steps.map((key) => ({ key, reasons: ["missing"] }))
})
const stepStarted = (key: string, at: number, attempt = 1): RunEvent => ({
  _tag: "StepStarted",
  runId,
  at,
  key,
  attempt
})
const succeeded = (key: string, at: number, durationMillis: number, attempt = 1): RunEvent => ({
  _tag: "StepSucceeded",
  runId,
  at,
  key,
  attempt,
  durationMillis,
  outcome: "materialized"
})
const materialized = (key: string, at: number, metadata: Record<string, number | string>): RunEvent => ({
  _tag: "Materialization",
  runId,
  at,
  key,
  attempt: 1,
  dataVersion: "v",
  codeVersion: "c",
  inputVersions: {},
  handle: null,
  metadata,
  durationMillis: 1
})
const log = (
  key: string,
  at: number,
  message: string,
  level: "debug" | "info" | "warn" = "info"
): RunEvent => ({
  _tag: "StepLog",
  runId,
  at,
  key,
  level,
  message
})
const error = (message: string) => ({ tag: "UserCodeError", message, retryable: true })
const finished = (
  status: "succeeded" | "failed" | "canceled",
  durationMillis: number,
  reason?: string
): RunEvent => ({
  _tag: "RunFinished",
  runId,
  at: durationMillis,
  status,
  durationMillis,
  ...(reason === undefined ? {} : { reason })
})

const successfulRun: ReadonlyArray<RunEvent> = [
  started(["ingest", "models/north", "models/south"]),
  stepStarted("ingest", 0),
  log("ingest", 5, "generated 100 rows"),
  log("ingest", 6, "row details", "debug"),
  materialized("ingest", 40, { rows: 100, loss: 0.123456 }),
  succeeded("ingest", 42, 42),
  stepStarted("models/north", 43),
  stepStarted("models/south", 43),
  succeeded("models/south", 1500, 1457),
  succeeded("models/north", 2000, 1957),
  finished("succeeded", 2000)
]

afterEach(() => {
  vi.useRealTimers()
})

describe("consoleReporter, not a TTY", () => {
  it("writes one plain line per event of interest, with durations, logs by key and a summary", () => {
    const stream = fakeStream(false)
    const reporter = consoleReporter({ stream })
    for (const event of successfulRun) reporter.listener(event)
    reporter.close()
    expect(stream.text()).not.toContain("\x1b")
    expect(stream.text().split("\n")).toEqual([
      "▶ run r1 (demo): 3 steps for models/south",
      "  · ingest (missing)",
      "  · models/north (missing)",
      "  · models/south (missing)",
      "▸ ingest started",
      "  ingest │ generated 100 rows",
      "✓ ingest 42 ms · rows=100 loss=0.1235",
      "▸ models/north started",
      "▸ models/south started",
      "✓ models/south 1.46 s",
      "✓ models/north 1.96 s",
      "✓ run succeeded in 2.00 s: 3 succeeded",
      ""
    ])
  })

  it("reports failures with their error, skipped steps with their reason, retries and cancellation", () => {
    const stream = fakeStream(false)
    const reporter = consoleReporter({ stream, logLevel: "warn" })
    const events: ReadonlyArray<RunEvent> = [
      started(["a", "b", "c", "d"]),
      stepStarted("a", 0),
      stepStarted("d", 0),
      log("a", 1, "not shown below warn"),
      log("a", 2, "disk almost full", "warn"),
      {
        _tag: "StepRetrying",
        runId,
        at: 10,
        key: "a",
        attempt: 1,
        delayMillis: 1000,
        error: error('asset "a" failed: flaky')
      },
      stepStarted("a", 1010, 2),
      {
        _tag: "StepFailed",
        runId,
        at: 1100,
        key: "a",
        attempt: 2,
        durationMillis: 1100,
        error: error("boom\nat line 2")
      },
      { _tag: "StepSkipped", runId, at: 1100, key: "b", reason: "upstream failed: a" },
      { _tag: "StepCanceled", runId, at: 1200, key: "d" },
      { _tag: "StepCanceled", runId, at: 1200, key: "c" },
      finished("canceled", 1200, "interrupted")
    ]
    for (const event of events) reporter.listener(event)
    expect(stream.text().split("\n").slice(5)).toEqual([
      "▸ a started",
      "▸ d started",
      "  a │ warn: disk almost full",
      "↻ a attempt 1 failed: flaky; retrying in 1.00 s",
      "▸ a started (attempt 2)",
      "✗ a (attempt 2) failed: boom",
      "  at line 2",
      "↷ skipped b: upstream failed: a",
      "⊘ canceled d",
      "⊘ canceled c",
      "⊘ run canceled in 1.20 s: 1 failed, 1 skipped, 2 canceled (interrupted)",
      ""
    ])
  })

  it("says when there is nothing to run, and starts no timer", () => {
    vi.useFakeTimers()
    const stream = fakeStream(false)
    const reporter = consoleReporter({ stream })
    reporter.listener(started([], ["evaluate"]))
    expect(vi.getTimerCount()).toBe(0)
    reporter.listener(finished("succeeded", 3))
    expect(stream.text()).toBe(
      "▶ run r1 (demo): evaluate already fresh\n✓ run succeeded in 3 ms: nothing ran\n"
    )
  })

  it("names at most three targets and at most twelve planned steps", () => {
    const stream = fakeStream(false)
    const keys = Array.from({ length: 14 }, (_, i) => `s${String(i).padStart(2, "0")}`)
    consoleReporter({ stream }).listener(started(keys, keys.slice(0, 5)))
    const lines = stream.text().split("\n")
    expect(lines[0]).toBe("▶ run r1 (demo): 14 steps for s00, s01, s02 and 2 more")
    expect(lines.slice(12, 15)).toEqual(["  · s11 (missing)", "  · … and 2 more", ""])
  })
})

describe("consoleReporter on a TTY", () => {
  it("redraws running steps in place with their elapsed time and latest log", () => {
    let clock = 0
    const stream = fakeStream(true)
    const reporter = consoleReporter({ stream, now: () => clock })
    reporter.listener(started(["ingest", "models/north", "models/south"]))
    clock = 10
    reporter.listener(stepStarted("ingest", 10))
    clock = 250
    reporter.listener(log("ingest", 250, "epoch 3 loss 0.5", "debug"))
    expect(screen(stream.text()).slice(4)).toEqual([
      "⠋ ingest 240 ms · epoch 3 loss 0.5",
      "  0/3 done · 1 running · 2 waiting · 250 ms"
    ])
    clock = 300
    reporter.listener(materialized("ingest", 300, { rows: 100 }))
    reporter.listener(succeeded("ingest", 300, 290))
    reporter.listener(stepStarted("models/north", 300))
    reporter.listener(stepStarted("models/south", 300))
    clock = 1400
    reporter.listener(log("models/north", 1400, "first pass done"))
    expect(screen(stream.text()).slice(4)).toEqual([
      "✓ ingest 290 ms · rows=100",
      "  models/north │ first pass done",
      "⠋ models/north 1.10 s · first pass done",
      "⠋ models/south 1.10 s",
      "  1/3 done · 2 running · 0 waiting · 1.40 s"
    ])
    reporter.close()
  })

  it("leaves only permanent lines and the summary when the run ends", () => {
    let clock = 0
    const stream = fakeStream(true)
    const reporter = consoleReporter({ stream, now: () => clock })
    for (const event of successfulRun) {
      clock = event.at
      reporter.listener(event)
    }
    expect(stream.text()).toContain("\x1b[1A\x1b[2K")
    expect(screen(stream.text())).toEqual([
      "▶ run r1 (demo): 3 steps for models/south",
      "  · ingest (missing)",
      "  · models/north (missing)",
      "  · models/south (missing)",
      "  ingest │ generated 100 rows",
      "✓ ingest 42 ms · rows=100 loss=0.1235",
      "✓ models/south 1.46 s",
      "✓ models/north 1.96 s",
      "✓ run succeeded in 2.00 s: 3 succeeded"
    ])
  })

  it("redraws on an unref'd timer while the run is in progress, and close stops it and clears the live lines", () => {
    vi.useFakeTimers()
    let clock = 0
    const stream = fakeStream(true)
    const reporter = consoleReporter({ stream, now: () => clock, interval: 100, color: false })
    reporter.listener(started(["train"]))
    reporter.listener(stepStarted("train", 0))
    expect(vi.getTimerCount()).toBe(1)
    clock = 2500
    vi.advanceTimersByTime(100)
    expect(screen(stream.text()).slice(2)).toEqual([
      "⠙ train 2.50 s",
      "  0/1 done · 1 running · 0 waiting · 2.50 s"
    ])
    reporter.close()
    expect(vi.getTimerCount()).toBe(0)
    expect(screen(stream.text())).toEqual(["▶ run r1 (demo): 1 step for train", "  · train (missing)"])
    const written = stream.chunks.length
    reporter.listener(succeeded("train", 3000, 3000))
    reporter.close()
    expect(stream.chunks.length).toBe(written)
  })

  it("stops its timer when the run finishes and cuts live lines to the terminal width", () => {
    vi.useFakeTimers()
    const stream = fakeStream(true)
    const reporter = consoleReporter({ stream, now: () => 0, color: false })
    reporter.listener(started(["a"]))
    reporter.listener(stepStarted("a", 0))
    reporter.listener(log("a", 0, "x".repeat(200)))
    const liveLine = screen(stream.text()).find((line) => line.startsWith("⠋ a"))!
    expect([...liveLine].length).toBe(59)
    expect(liveLine.endsWith("…")).toBe(true)
    reporter.listener(finished("succeeded", 5))
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe("formatDuration", () => {
  it("uses ms below a second, seconds below a minute, then minutes", () => {
    expect([formatDuration(0), formatDuration(123.4), formatDuration(4560), formatDuration(42_000)]).toEqual([
      "0 ms",
      "123 ms",
      "4.56 s",
      "42.0 s"
    ])
    expect(formatDuration(125_000)).toBe("2m 05s")
  })
})
