/**
 * User cron strings, parsed once at definition time and iterated in an IANA timezone. Built on
 * cron-parser: 5 fields (minute first) or 6 (second first), `L` (last day of the month, or `5L` the
 * last Friday), `#` (`1#2`, the second Monday), `?`, names (`MON`, `JAN`), `H` (a spread-out value,
 * seeded by the schedule's name so it stays the same on every load) and the aliases `@yearly`,
 * `@annually`, `@monthly`, `@weekly`, `@daily`, `@hourly`, `@minutely`, `@secondly`, `@weekdays`,
 * `@weekends`.
 *
 * Daylight-saving days (what cron-parser does, pinned by tests):
 * - spring forward: a time inside the skipped hour runs once, moved forward by the length of the
 *   gap (`30 2 * * *` runs at 03:30 local on 2026-03-29 in Europe/Berlin and on 2026-03-08 in
 *   America/New_York; `0 2 * * *` at 03:00). A time that lands on an existing one (`30 2,3`) runs once.
 * - fall back: a time inside the repeated hour runs once, at its first occurrence (`30 2 * * *` at
 *   02:30 summer time in Europe/Berlin). Schedules finer than an hour (`*\/30 * * * *`) follow real
 *   time and also run in the repeated hour.
 */
import { createRequire } from "node:module"
import type * as CronParser from "cron-parser"
import * as Data from "effect/Data"

// cron-parser (and luxon under it) costs ~15 ms to load: load it with the first cron string, so a
// project without schedules never pays for it. It is CommonJS, so `require` is synchronous.
let parser: typeof CronParser.CronExpressionParser | undefined
const cronParser = (): typeof CronParser.CronExpressionParser => {
  parser ??= (createRequire(import.meta.url)("cron-parser") as typeof CronParser).CronExpressionParser
  return parser
}

/** A cron string or timezone that cannot work: names its owner, the expression and what is wrong. */
export class InvalidCron extends Data.TaggedError("InvalidCron")<{
  /** What the expression belongs to, e.g. `schedule "nightly"`. */
  readonly owner: string
  readonly expression: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid cron ${JSON.stringify(this.expression)} of ${this.owner}: ${this.reason}`
  }
}

/** A parsed cron string in a timezone; every method takes and returns epoch milliseconds. */
export interface Cron {
  readonly expression: string
  readonly timezone: string
  /** Whether the expression has a seconds field (6 fields, or an alias such as `@secondly`). */
  readonly hasSeconds: boolean
  /** The first scheduled time strictly after `after`, or undefined when there is none. */
  next(after: number): number | undefined
  /** The last scheduled time at or before `atOrBefore`, or undefined when there is none. */
  latest(atOrBefore: number): number | undefined
  /**
   * Scheduled times in `(after, until]`, oldest first; when there are more than `limit`, only the
   * latest `limit` of them.
   */
  between(after: number, until: number, limit: number): ReadonlyArray<number>
}

/** Options of `parseCron`. */
export interface CronOptions {
  /** IANA timezone the fields are read in; `"UTC"` by default. */
  readonly timezone?: string | undefined
  /** Named in errors and used as the seed of `H`, e.g. `schedule "nightly"`. */
  readonly owner?: string | undefined
}

const ALIASES = [
  "@yearly",
  "@annually",
  "@monthly",
  "@weekly",
  "@daily",
  "@hourly",
  "@minutely",
  "@secondly",
  "@weekdays",
  "@weekends"
]

const FIELDS_5 = "minute hour day-of-month month day-of-week"
const FIELDS_6 = "second minute hour day-of-month month day-of-week"

/** Whether `timezone` is an IANA name this runtime knows. */
export const isValidTimezone = (timezone: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone })
    return true
  } catch {
    return false
  }
}

/** A cron-parser message, made readable: it names the part that is wrong. */
const explain = (message: string, fields: number): string => {
  const hint = fields === 6 ? FIELDS_6 : FIELDS_5
  if (message.startsWith("Constraint error"))
    return `${message.replace("Constraint error, got", "a value out of range: got")} (fields: ${hint})`
  return `${message} (fields: ${hint})`
}

/**
 * Parses a cron string; throws `InvalidCron` naming the owner and what is wrong.
 * @example
 * const nightly = parseCron("0 1 * * *", { timezone: "Europe/Berlin", owner: 'schedule "nightly"' })
 * nightly.next(Date.parse("2026-01-01T00:00:00Z")) // 2026-01-01T00:00:00Z = 01:00 in Berlin
 */
export const parseCron = (expression: string, options: CronOptions = {}): Cron => {
  const owner = options.owner ?? "a cron schedule"
  const timezone = options.timezone ?? "UTC"
  const fail = (reason: string): never => {
    throw new InvalidCron({ owner, expression: String(expression), reason })
  }
  if (typeof expression !== "string") return fail(`expected a string, found ${typeof expression}`)
  const text = expression.trim()
  if (text === "") fail(`the expression is empty; write 5 fields (${FIELDS_5}), 6 (${FIELDS_6}) or @daily`)
  if (!isValidTimezone(timezone))
    fail(
      `unknown timezone ${JSON.stringify(timezone)}; expected an IANA name such as "Europe/Berlin" or "UTC"`
    )
  let fields: number
  let hasSeconds: boolean
  if (text.startsWith("@")) {
    if (!ALIASES.includes(text.toLowerCase()))
      fail(`unknown alias ${text}; expected one of ${ALIASES.join(", ")}`)
    fields = 6
    hasSeconds = ["@secondly"].includes(text.toLowerCase())
  } else {
    fields = text.split(/\s+/).length
    if (fields !== 5 && fields !== 6)
      fail(
        `expected 5 fields (${FIELDS_5}) or 6 (${FIELDS_6}), found ${fields}; e.g. "30 1 * * *" is 01:30 every day`
      )
    hasSeconds = fields === 6
  }
  // `H` is random unless seeded: seed it with the owner so every load picks the same time.
  const parse = (currentDate: number) =>
    cronParser().parse(text, { tz: timezone, currentDate, hashSeed: owner })
  let iterator: ReturnType<typeof parse>
  try {
    iterator = parse(Date.UTC(2000, 0, 1))
    // A date that never comes (30 February) fails here, not at the first tick.
    iterator.next()
  } catch (error) {
    return fail(explain(error instanceof Error ? error.message : String(error), fields))
  }
  const step = (from: number, direction: "next" | "prev"): number | undefined => {
    try {
      iterator.reset(new Date(from))
      return (direction === "next" ? iterator.next() : iterator.prev()).getTime()
    } catch {
      // cron-parser throws when it finds no date within its loop limit (e.g. 29 Feb far away).
      return undefined
    }
  }
  // cron-parser's backward iteration disagrees with its forward one on daylight-saving days (it
  // misses the moved 02:30 and repeats the 02:30 of a fall-back), so backward steps only find a
  // starting point and every returned time comes from forward iteration.
  const forward = (after: number, until: number, limit: number): Array<number> => {
    const out: Array<number> = []
    let t = step(after, "next")
    while (t !== undefined && t <= until) {
      out.push(t)
      if (out.length > limit) out.shift()
      t = step(t, "next")
    }
    return out
  }
  const startBefore = (until: number, steps: number): number | undefined => {
    let t: number | undefined = until + 1
    for (let i = 0; i <= steps && t !== undefined; i++) t = step(t, "prev")
    return t
  }
  return {
    expression: text,
    timezone,
    hasSeconds,
    next: (after) => step(after, "next"),
    latest(atOrBefore) {
      const start = startBefore(atOrBefore, 2)
      const found = forward(start === undefined ? atOrBefore - 400 * 86_400_000 : start - 1, atOrBefore, 1)
      return found[0]
    },
    between(after, until, limit) {
      if (limit <= 0 || until <= after) return []
      // Usually few times are due: walk forward from `after` a little before jumping back from `until`.
      const out: Array<number> = []
      let t = step(after, "next")
      for (let budget = limit + 8; t !== undefined && t <= until; budget--) {
        if (budget === 0) {
          const start = startBefore(until, limit + 2)
          return forward(start === undefined ? t : Math.max(t, start - 1), until, limit)
        }
        out.push(t)
        if (out.length > limit) out.shift()
        t = step(t, "next")
      }
      return out
    }
  }
}
