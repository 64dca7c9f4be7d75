import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  type Cadence,
  dynamicPartitions,
  InvalidPartitionKey,
  InvalidPartitionsDefinition,
  multiPartitions,
  partitionRange,
  partitionsFromSpec,
  staticPartitions,
  timeWindowPartitions,
  UnboundedPartitions
} from "./PartitionsDefinition.ts"

const at = (iso: string): number => Date.parse(iso)
const hours = (w: { start: number; end: number }): number => (w.end - w.start) / 3_600_000
const thrown = (f: () => unknown): Error => {
  try {
    f()
  } catch (e) {
    return e as Error
  }
  throw new Error("expected an error")
}

describe("timeWindowPartitions keys", () => {
  it("lists daily keys across month ends and a leap day", () => {
    const days = timeWindowPartitions({ cadence: "daily", start: "2026-01-01", end: "2026-03-01" })
    const keys = days.keys()
    expect(keys).toHaveLength(59)
    expect(keys.slice(29, 33)).toEqual(["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"])
    expect(keys.at(-1)).toBe("2026-02-28")
    const leap = timeWindowPartitions({ cadence: "daily", start: "2028-02-01", end: "2028-03-01" }).keys()
    expect(leap).toHaveLength(29)
    expect(leap.at(-1)).toBe("2028-02-29")
  })

  it("lists hourly keys across a month end", () => {
    const keys = timeWindowPartitions({
      cadence: "hourly",
      start: "2026-01-31T00",
      end: "2026-02-02T00"
    }).keys()
    expect(keys).toHaveLength(48)
    expect(keys.slice(23, 25)).toEqual(["2026-01-31T23", "2026-02-01T00"])
    expect(
      timeWindowPartitions({ cadence: "hourly", start: "2028-02-29", end: "2028-03-01" }).keys()
    ).toHaveLength(24)
  })

  it("lists weekly keys as week start dates, Monday by default or another weekday", () => {
    const weeks = timeWindowPartitions({ cadence: "weekly", start: "2025-12-29", end: "2026-02-02" })
    expect(weeks.keys()).toEqual(["2025-12-29", "2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"])
    expect(weeks.window("2026-01-26")).toEqual({
      key: "2026-01-26",
      start: at("2026-01-26T00:00Z"),
      end: at("2026-02-02T00:00Z")
    })
    const sundays = timeWindowPartitions({
      cadence: "weekly",
      start: "2026-01-04",
      end: "2026-01-18",
      weekStartsOn: 0
    })
    expect(sundays.keys()).toEqual(["2026-01-04", "2026-01-11"])
    expect(thrown(() => weeks.parse("2026-01-27")).message).toContain(
      "2026-01-27 is a Tuesday; weekly keys are week starts (Mondays)"
    )
  })

  it("lists monthly keys; February of a leap year has 29 days", () => {
    const months = timeWindowPartitions({ cadence: "monthly", start: "2027-11", end: "2028-04" })
    expect(months.keys()).toEqual(["2027-11", "2027-12", "2028-01", "2028-02", "2028-03"])
    expect(hours(months.window("2028-02")) / 24).toBe(29)
    expect(timeWindowPartitions({ cadence: "monthly", start: "2026-01-01" }).spec.start).toBe("2026-01")
  })

  it("bounds open-ended definitions by the last window closed before now", () => {
    const days = timeWindowPartitions({ cadence: "daily", start: "2026-01-01" })
    expect(days.keys({ now: at("2026-01-03T12:00Z") })).toEqual(["2026-01-01", "2026-01-02"])
    expect(days.keys({ now: at("2026-01-03T00:00Z") })).toEqual(["2026-01-01", "2026-01-02"])
    expect(days.keys({ now: at("2026-01-02T23:59:59.999Z") })).toEqual(["2026-01-01"])
    expect(days.keys({ now: at("2025-06-01T00:00Z") })).toEqual([])
    // Berlin's 2026-01-02 ends at 23:00 UTC.
    const berlin = timeWindowPartitions({ cadence: "daily", start: "2026-01-01", timezone: "Europe/Berlin" })
    expect(berlin.keys({ now: at("2026-01-02T23:00Z") })).toEqual(["2026-01-01", "2026-01-02"])
    expect(berlin.keys({ now: at("2026-01-02T22:59Z") })).toEqual(["2026-01-01"])
    // an end still bounds the list
    const bounded = timeWindowPartitions({ cadence: "daily", start: "2026-01-01", end: "2026-01-03" })
    expect(bounded.keys({ now: at("2027-01-01T00:00Z") })).toEqual(["2026-01-01", "2026-01-02"])
    expect(thrown(() => days.keys())).toBeInstanceOf(UnboundedPartitions)
    expect(days.has("2030-01-01")).toBe(true)
    expect(days.has("2026-01-03", { now: at("2026-01-03T12:00Z") })).toBe(false)
    expect(thrown(() => days.parse("2026-01-03", { now: at("2026-01-03T12:00Z") })).message).toContain(
      "has not closed by 2026-01-03T12:00:00.000Z; valid keys are from 2026-01-01 to 2026-01-02"
    )
  })

  it("validates keys and names the definition, the format and the valid range", () => {
    const days = timeWindowPartitions({ cadence: "daily", start: "2026-01-01", end: "2026-02-01" })
    const e = thrown(() => days.parse("2026-02-30"))
    expect(e).toBeInstanceOf(InvalidPartitionKey)
    expect(e.message).toBe(
      'invalid partition key "2026-02-30" of daily partitions from 2026-01-01 to 2026-02-01 (exclusive) in UTC: expected YYYY-MM-DD, a key from 2026-01-01 to 2026-01-31'
    )
    expect(thrown(() => days.parse("2026-02-01")).message).toContain(
      "out of range; valid keys are from 2026-01-01 to 2026-01-31"
    )
    expect(thrown(() => days.parse("2026-1-05")).message).toContain("expected YYYY-MM-DD")
    expect(days.has("2026-01-31")).toBe(true)
    expect(days.has("2026-01-31T00")).toBe(false)
  })

  it("rejects bad definitions", () => {
    const bad = (o: Parameters<typeof timeWindowPartitions>[0]) => thrown(() => timeWindowPartitions(o))
    expect(bad({ cadence: "weekly", start: "2026-01-01" }).message).toContain(
      "start 2026-01-01 does not begin a weekly window (a Thursday; weeks start on Monday); use 2025-12-29 or 2026-01-05"
    )
    expect(bad({ cadence: "monthly", start: "2026-01-15" }).message).toContain("use 2026-01 or 2026-02")
    expect(bad({ cadence: "daily", start: "2026-01-01T05" }).message).toContain("format YYYY-MM-DD")
    expect(bad({ cadence: "daily", start: "2026-01-05", end: "2026-01-05" }).message).toContain(
      "end 2026-01-05 is not after start 2026-01-05"
    )
    expect(bad({ cadence: "daily", start: "2026-01-05", timezone: "Mars/Olympus" }).message).toContain(
      'unknown timezone "Mars/Olympus"'
    )
    expect(bad({ cadence: "weekly", start: "2026-01-05", weekStartsOn: 7 })).toBeInstanceOf(
      InvalidPartitionsDefinition
    )
  })
})

describe("ranges", () => {
  const days = timeWindowPartitions({ cadence: "daily", start: "2026-01-01", end: "2026-02-01" })

  it("includes both ends", () => {
    expect(days.range("2026-01-30", "2026-01-31")).toEqual(["2026-01-30", "2026-01-31"])
    expect(partitionRange(days, "2026-01-01...2026-01-31")).toHaveLength(31)
    expect(partitionRange(days, "2026-01-05")).toEqual(["2026-01-05"])
  })

  it("rejects reversed and out-of-range ranges, naming the valid range", () => {
    const reversed = thrown(() => partitionRange(days, "2026-01-31...2026-01-01"))
    expect(reversed).toBeInstanceOf(InvalidPartitionKey)
    expect(reversed.message).toContain(
      "the range is reversed; write 2026-01-01...2026-01-31 (valid keys are from 2026-01-01 to 2026-01-31)"
    )
    expect(thrown(() => days.range("2025-12-31", "2026-01-31")).message).toContain(
      'invalid partition key "2025-12-31" of daily partitions from 2026-01-01 to 2026-02-01 (exclusive) in UTC: out of range; valid keys are from 2026-01-01 to 2026-01-31'
    )
    expect(thrown(() => partitionRange(days, "2026-01-01..."))).toBeInstanceOf(InvalidPartitionKey)
  })

  it("ranges static keys in their given order", () => {
    const regions = staticPartitions(["us", "eu", "apac"])
    expect(regions.range("us", "eu")).toEqual(["us", "eu"])
    expect(thrown(() => regions.range("apac", "us")).message).toContain(
      "reversed; keys are ordered us, eu, apac"
    )
  })
})

describe("staticPartitions", () => {
  it("keeps keys in order and validates them", () => {
    const regions = staticPartitions(["eu", "us", "ap-south.1_b"])
    expect(regions.keys()).toEqual(["eu", "us", "ap-south.1_b"])
    expect(regions.has("eu")).toBe(true)
    expect(thrown(() => regions.parse("asia")).message).toBe(
      'invalid partition key "asia" of static partitions [eu, us, ap-south.1_b]: not one of eu, us, ap-south.1_b'
    )
    expect(thrown(() => staticPartitions([])).message).toContain("no keys")
    expect(thrown(() => staticPartitions(["eu", "eu"])).message).toContain('key "eu" is listed twice')
    expect(thrown(() => staticPartitions(["eu", "a|b"])).message).toContain(
      'key "a|b" is not allowed; a key is non-empty and uses only letters, digits, _ . and -'
    )
    expect(thrown(() => staticPartitions(["../x"]))).toBeInstanceOf(InvalidPartitionsDefinition)
    expect(thrown(() => staticPartitions([""]))).toBeInstanceOf(InvalidPartitionsDefinition)
  })
})

describe("dynamicPartitions", () => {
  it("checks syntax and takes its keys from storage", () => {
    const customers = dynamicPartitions("customers")
    const dynamic = { customers: ["acme", "globex"] }
    expect(customers.spec).toEqual({ kind: "dynamic", name: "customers" })
    expect(customers.has("initech")).toBe(true)
    expect(customers.has("initech", { dynamic })).toBe(false)
    expect(customers.has("a/b")).toBe(false)
    expect(customers.keys({ dynamic })).toEqual(["acme", "globex"])
    expect(thrown(() => customers.keys())).toBeInstanceOf(UnboundedPartitions)
    expect(thrown(() => customers.parse("initech", { dynamic })).message).toContain(
      "not a stored key (acme, globex); add it first"
    )
    expect(thrown(() => dynamicPartitions("bad name"))).toBeInstanceOf(InvalidPartitionsDefinition)
  })
})

describe("multiPartitions", () => {
  const byDay = multiPartitions({
    date: timeWindowPartitions({ cadence: "daily", start: "2026-01-30", end: "2026-02-01" }),
    region: staticPartitions(["eu", "us"]),
    model: staticPartitions(["small", "large"])
  })

  it("lists the product with the first dimension outermost", () => {
    expect(byDay.keys()).toEqual([
      "2026-01-30|eu|small",
      "2026-01-30|eu|large",
      "2026-01-30|us|small",
      "2026-01-30|us|large",
      "2026-01-31|eu|small",
      "2026-01-31|eu|large",
      "2026-01-31|us|small",
      "2026-01-31|us|large"
    ])
  })

  it("parses keys into dimensions and windows", () => {
    expect(byDay.parse("2026-01-31|eu|small").dimensions).toEqual({
      date: "2026-01-31",
      region: "eu",
      model: "small"
    })
    expect(byDay.window("2026-01-31|eu|small")).toEqual({
      date: { key: "2026-01-31", start: at("2026-01-31T00:00Z"), end: at("2026-02-01T00:00Z") }
    })
    expect(byDay.has("2026-01-31|eu|small")).toBe(true)
    expect(byDay.has("2026-01-31|eu")).toBe(false)
    expect(thrown(() => byDay.parse("2026-01-31|eu")).message).toContain(
      'expected 3 keys joined by "|" (date|region|model), found 2'
    )
    expect(thrown(() => byDay.parse("2026-01-31|asia|small")).message).toContain('dimension "region"')
  })

  it("ranges each dimension", () => {
    expect(byDay.range("2026-01-30|eu|small", "2026-01-31|eu|small")).toEqual([
      "2026-01-30|eu|small",
      "2026-01-31|eu|small"
    ])
    expect(byDay.range("2026-01-31|eu|small", "2026-01-31|us|large")).toHaveLength(4)
  })

  it("rejects bad dimensions and round-trips its spec through JSON", () => {
    expect(thrown(() => multiPartitions({}))).toBeInstanceOf(InvalidPartitionsDefinition)
    expect(thrown(() => multiPartitions({ "a-b": staticPartitions(["x"]) })).message).toContain(
      'dimension name "a-b"'
    )
    const spec = JSON.parse(JSON.stringify(byDay.spec))
    expect(spec.dimensions.map((d: { name: string }) => d.name)).toEqual(["date", "region", "model"])
    const rebuilt = partitionsFromSpec(spec)
    expect(rebuilt.spec).toEqual(byDay.spec)
    expect(rebuilt.keys()).toEqual(byDay.keys())
  })
})

describe("daylight saving time", () => {
  const berlinDays = timeWindowPartitions({
    cadence: "daily",
    start: "2026-01-01",
    timezone: "Europe/Berlin"
  })
  const berlinHours = timeWindowPartitions({
    cadence: "hourly",
    start: "2026-01-01T00",
    timezone: "Europe/Berlin"
  })
  const nyDays = timeWindowPartitions({ cadence: "daily", start: "2026-01-01", timezone: "America/New_York" })
  const nyHours = timeWindowPartitions({
    cadence: "hourly",
    start: "2026-01-01T00",
    timezone: "America/New_York"
  })

  it("makes a Berlin day 23 h on spring-forward and 25 h on fall-back", () => {
    expect(berlinDays.window("2026-03-29")).toEqual({
      key: "2026-03-29",
      start: at("2026-03-28T23:00Z"),
      end: at("2026-03-29T22:00Z")
    })
    expect(hours(berlinDays.window("2026-10-25"))).toBe(25)
    expect(berlinDays.window("2026-10-25").start).toBe(at("2026-10-24T22:00Z"))
    expect(hours(berlinDays.window("2026-06-01"))).toBe(24)
  })

  it("skips the Berlin hour that spring-forward removes", () => {
    expect(berlinHours.range("2026-03-29T00", "2026-03-29T04")).toEqual([
      "2026-03-29T00",
      "2026-03-29T01",
      "2026-03-29T03",
      "2026-03-29T04"
    ])
    expect(berlinHours.range("2026-03-29T00", "2026-03-29T23")).toHaveLength(23)
    expect(berlinHours.window("2026-03-29T01")).toEqual({
      key: "2026-03-29T01",
      start: at("2026-03-29T00:00Z"),
      end: at("2026-03-29T01:00Z")
    })
    expect(berlinHours.window("2026-03-29T03").start).toBe(at("2026-03-29T01:00Z"))
    expect(berlinHours.has("2026-03-29T02")).toBe(false)
    expect(thrown(() => berlinHours.parse("2026-03-29T02")).message).toContain(
      "2026-03-29T02 does not exist in Europe/Berlin (skipped by a daylight-saving change)"
    )
  })

  it("makes the Berlin hour repeated by fall-back one 2 h partition", () => {
    expect(berlinHours.range("2026-10-25T00", "2026-10-25T23")).toHaveLength(24)
    expect(berlinHours.window("2026-10-25T02")).toEqual({
      key: "2026-10-25T02",
      start: at("2026-10-25T00:00Z"),
      end: at("2026-10-25T02:00Z")
    })
    expect(berlinHours.window("2026-10-25T01").end).toBe(at("2026-10-25T00:00Z"))
    expect(berlinHours.window("2026-10-25T03").start).toBe(at("2026-10-25T02:00Z"))
    // During the second 02:00 the repeated hour has not closed yet.
    expect(berlinHours.keys({ now: at("2026-10-25T01:30Z") }).at(-1)).toBe("2026-10-25T01")
    expect(berlinHours.keys({ now: at("2026-10-25T02:00Z") }).at(-1)).toBe("2026-10-25T02")
  })

  it("applies the same rules in America/New_York", () => {
    expect(nyDays.window("2026-03-08")).toEqual({
      key: "2026-03-08",
      start: at("2026-03-08T05:00Z"),
      end: at("2026-03-09T04:00Z")
    })
    expect(nyDays.window("2026-11-01")).toEqual({
      key: "2026-11-01",
      start: at("2026-11-01T04:00Z"),
      end: at("2026-11-02T05:00Z")
    })
    expect(hours(nyDays.window("2026-11-01"))).toBe(25)
    expect(nyHours.has("2026-03-08T02")).toBe(false)
    expect(nyHours.window("2026-03-08T03").start).toBe(at("2026-03-08T07:00Z"))
    expect(nyHours.window("2026-11-01T01")).toEqual({
      key: "2026-11-01T01",
      start: at("2026-11-01T05:00Z"),
      end: at("2026-11-01T07:00Z")
    })
  })

  it("has no DST in UTC", () => {
    const utc = timeWindowPartitions({ cadence: "hourly", start: "2026-01-01T00" })
    expect(utc.range("2026-03-29T00", "2026-03-29T23")).toHaveLength(24)
    expect(utc.range("2026-10-25T00", "2026-10-25T23").map((k) => hours(utc.window(k)))).toEqual(
      Array(24).fill(1)
    )
  })
})

describe("tiling", () => {
  const timezones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
  const lengths: Record<Cadence, number> = { hourly: 3, daily: 40, weekly: 10, monthly: 14 }
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10)

  it("tiles consecutive windows with no gap and no overlap, for every cadence and timezone", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Cadence>("hourly", "daily", "weekly", "monthly"),
        fc.constantFrom(...timezones),
        fc.integer({ min: Date.UTC(2020, 0, 1) / 86_400_000, max: Date.UTC(2030, 11, 1) / 86_400_000 }),
        (cadence, timezone, dayNumber) => {
          let day = dayNumber * 86_400_000
          if (cadence === "weekly") day -= ((new Date(day).getUTCDay() + 6) % 7) * 86_400_000
          if (cadence === "monthly")
            day = Date.UTC(new Date(day).getUTCFullYear(), new Date(day).getUTCMonth(), 1)
          const endDay =
            cadence === "monthly"
              ? Date.UTC(new Date(day).getUTCFullYear(), new Date(day).getUTCMonth() + lengths.monthly, 1)
              : day + lengths[cadence] * (cadence === "weekly" ? 7 : 1) * 86_400_000
          const def = timeWindowPartitions({ cadence, timezone, start: iso(day), end: iso(endDay) })
          const windows = def.keys().map((k) => def.window(k))
          expect(windows.length).toBeGreaterThan(0)
          for (const w of windows) expect(w.end).toBeGreaterThan(w.start)
          for (let i = 1; i < windows.length; i++) expect(windows[i]!.start).toBe(windows[i - 1]!.end)
          // The windows cover exactly start..end: the first one starts at the start's local midnight.
          const offsetDays = timeWindowPartitions({
            cadence: "daily",
            timezone,
            start: iso(day),
            end: iso(day + 86_400_000)
          })
          expect(windows[0]!.start).toBe(offsetDays.window(iso(day)).start)
          const endDays = timeWindowPartitions({
            cadence: "daily",
            timezone,
            start: iso(endDay),
            end: iso(endDay + 86_400_000)
          })
          expect(windows.at(-1)!.end).toBe(endDays.window(iso(endDay)).start)
        }
      ),
      { numRuns: 200 }
    )
  })
})
