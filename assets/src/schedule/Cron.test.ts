import { describe, expect, it } from "vitest"
import { InvalidCron, parseCron } from "./Cron.ts"

const at = (iso: string): number => Date.parse(iso)
const iso = (t: number | undefined): string | undefined =>
  t === undefined ? undefined : new Date(t).toISOString()
/** `t` as `YYYY-MM-DD HH:MM:SS +HH` in `timezone`. */
const wall = (t: number, timezone: string): string => {
  const f: Record<string, string> = {}
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit"
  })
  for (const p of format.formatToParts(t)) f[p.type] = p.value
  const local = Date.UTC(+f.year!, +f.month! - 1, +f.day!, +f.hour!, +f.minute!, +f.second!)
  const offset = (local - t) / 3_600_000
  const sign = offset < 0 ? "-" : "+"
  return `${f.year}-${f.month}-${f.day} ${f.hour}:${f.minute}:${f.second} ${sign}${String(Math.abs(offset)).padStart(2, "0")}`
}

/** The scheduled times in `[from, to)` as local wall times. */
const walls = (expression: string, timezone: string, from: string, to: string): Array<string> => {
  const cron = parseCron(expression, { timezone })
  return cron.between(at(from) - 1, at(to) - 1, 1000).map((t) => wall(t, timezone))
}

const invalid = (expression: string, timezone?: string): InvalidCron => {
  try {
    parseCron(expression, { timezone, owner: 'schedule "nightly"' })
  } catch (error) {
    if (error instanceof InvalidCron) return error
    throw error
  }
  throw new Error(`expected ${expression} to be invalid`)
}

describe("parseCron", () => {
  it("reads 5 fields (minutes) and 6 fields (seconds)", () => {
    const five = parseCron("30 1 * * *")
    expect(five.hasSeconds).toBe(false)
    expect(iso(five.next(at("2026-01-01T00:00:00Z")))).toBe("2026-01-01T01:30:00.000Z")
    const six = parseCron("*/15 * * * * *")
    expect(six.hasSeconds).toBe(true)
    expect(iso(six.next(at("2026-01-01T00:00:00Z")))).toBe("2026-01-01T00:00:15.000Z")
  })

  it("is strictly after for next and inclusive for latest", () => {
    const cron = parseCron("0 * * * *")
    expect(iso(cron.next(at("2026-01-01T01:00:00Z")))).toBe("2026-01-01T02:00:00.000Z")
    expect(iso(cron.latest(at("2026-01-01T01:00:00Z")))).toBe("2026-01-01T01:00:00.000Z")
    expect(iso(cron.latest(at("2026-01-01T01:59:59.999Z")))).toBe("2026-01-01T01:00:00.000Z")
  })

  it("supports L, # and aliases", () => {
    const last = parseCron("0 0 L * *")
    expect(last.between(at("2026-01-31T12:00:00Z"), at("2026-05-01T00:00:00Z"), 10).map(iso)).toEqual([
      "2026-02-28T00:00:00.000Z",
      "2026-03-31T00:00:00.000Z",
      "2026-04-30T00:00:00.000Z"
    ])
    const secondMonday = parseCron("0 9 * * 1#2")
    expect(iso(secondMonday.next(at("2026-02-01T00:00:00Z")))).toBe("2026-02-09T09:00:00.000Z")
    const lastFriday = parseCron("0 9 * * 5L")
    expect(iso(lastFriday.next(at("2026-02-01T00:00:00Z")))).toBe("2026-02-27T09:00:00.000Z")
    const daily = parseCron("@daily", { timezone: "Europe/Berlin" })
    expect(iso(daily.next(at("2026-01-01T12:00:00Z")))).toBe("2026-01-01T23:00:00.000Z")
    expect(parseCron("@hourly").next(at("2026-01-01T00:10:00Z"))).toBe(at("2026-01-01T01:00:00Z"))
  })

  it("reads fields in the timezone", () => {
    const cron = parseCron("0 1 * * *", { timezone: "America/New_York" })
    expect(iso(cron.next(at("2026-01-01T00:00:00Z")))).toBe("2026-01-01T06:00:00.000Z")
    expect(iso(cron.next(at("2026-07-01T00:00:00Z")))).toBe("2026-07-01T05:00:00.000Z")
  })

  it("seeds H with the owner, so it is the same on every load", () => {
    const a = parseCron("H 1 * * *", { owner: 'schedule "a"' }).next(0)
    expect(parseCron("H 1 * * *", { owner: 'schedule "a"' }).next(0)).toBe(a)
  })

  it("between keeps only the latest `limit` times, oldest first", () => {
    const cron = parseCron("0 * * * *")
    expect(cron.between(at("2026-01-01T00:00:00Z"), at("2026-01-01T05:30:00Z"), 2).map(iso)).toEqual([
      "2026-01-01T04:00:00.000Z",
      "2026-01-01T05:00:00.000Z"
    ])
    expect(cron.between(at("2026-01-01T05:00:00Z"), at("2026-01-01T05:30:00Z"), 2)).toEqual([])
  })
})

describe("daylight saving", () => {
  for (const [timezone, day, next] of [
    ["Europe/Berlin", "2026-03-29", "2026-03-30"],
    ["America/New_York", "2026-03-08", "2026-03-09"]
  ] as const) {
    it(`02:30 daily on the spring-forward day in ${timezone} runs once, at 03:30 local`, () => {
      const runs = walls("30 2 * * *", timezone, `${day}T00:00:00Z`, `${next}T12:00:00Z`)
      expect(runs).toHaveLength(2)
      expect(runs[0]).toMatch(new RegExp(`^${day} 03:30:00`))
      expect(runs[1]).toMatch(new RegExp(`^${next} 02:30:00`))
    })
  }

  it("latest agrees with forward iteration on daylight-saving days", () => {
    const cron = parseCron("30 2 * * *", { timezone: "Europe/Berlin" })
    expect(wall(cron.latest(at("2026-03-29T02:00:00Z"))!, "Europe/Berlin")).toBe("2026-03-29 03:30:00 +02")
    expect(wall(cron.latest(at("2026-10-25T03:00:00Z"))!, "Europe/Berlin")).toBe("2026-10-25 02:30:00 +02")
  })

  it("02:00 daily on the spring-forward day runs at 03:00; times that collide run once", () => {
    expect(walls("0 2 * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T12:00:00Z")).toEqual([
      "2026-03-29 03:00:00 +02"
    ])
    expect(walls("30 2,3 * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T12:00:00Z")).toEqual([
      "2026-03-29 03:30:00 +02"
    ])
  })

  for (const [timezone, expression, day, first] of [
    ["Europe/Berlin", "30 2 * * *", "2026-10-25", "2026-10-25 02:30:00 +02"],
    ["America/New_York", "30 1 * * *", "2026-11-01", "2026-11-01 01:30:00 -04"]
  ] as const) {
    it(`a daily time in the repeated hour on the fall-back day in ${timezone} runs once, at its first occurrence`, () => {
      expect(walls(expression, timezone, `${day}T00:00:00Z`, `${day}T23:00:00Z`)).toEqual([first])
    })
  }

  it("a schedule finer than an hour follows real time through the repeated hour", () => {
    const runs = walls("*/30 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z")
    expect(runs).toEqual([
      "2026-10-25 02:00:00 +02",
      "2026-10-25 02:30:00 +02",
      "2026-10-25 02:00:00 +01",
      "2026-10-25 02:30:00 +01"
    ])
  })
})

describe("invalid cron strings", () => {
  it("name the owner and the wrong part", () => {
    const tooFew = invalid("* * *")
    expect(tooFew.message).toContain('schedule "nightly"')
    expect(tooFew.message).toContain("expected 5 fields")
    expect(tooFew.message).toContain("found 3")
    expect(invalid("0 0 * * * * *").message).toContain("found 7")
    expect(invalid("61 * * * *").message).toMatch(/out of range: got value 61 expected range 0-59/)
    expect(invalid("@fortnightly").message).toContain("unknown alias @fortnightly")
    expect(invalid("0 0 30 2 *").message).toContain("day of month")
    expect(invalid("").message).toContain("empty")
    expect(invalid("0 1 * * *", "Mars/Olympus").message).toContain('unknown timezone "Mars/Olympus"')
  })
})
