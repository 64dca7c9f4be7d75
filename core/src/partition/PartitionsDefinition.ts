/**
 * Partition definitions: time windows (hourly, daily, weekly, monthly in an IANA timezone), static
 * key lists, dynamic key sets held by storage, and multi-dimensional products of those. Pure values
 * with a JSON `spec`: they list, validate, parse and range keys and compute windows, never reading
 * the clock (pass `now`).
 *
 * Key formats: hourly `2026-01-31T13`, daily `2026-01-31`, weekly the week's first day `2026-01-26`
 * (weeks start on `weekStartsOn`, Monday by default), monthly `2026-01`; static and dynamic keys are
 * letters, digits, `_`, `.` and `-`; a multi key joins its dimension keys with `|` in dimension order
 * (`2026-01-31|eu`). Ranges are `from...to`, inclusive at both ends.
 *
 * Timezones and DST: a key names wall-clock time in the definition's timezone, and its window runs
 * from the first instant of that wall time to the first instant of the next key's wall time. So a
 * day is 23 h on spring-forward and 25 h on fall-back; an hour skipped by spring-forward (02:00 on
 * 2026-03-29 in Europe/Berlin) has no instants and is not a partition; an hour repeated by fall-back
 * (02:00 on 2026-10-25 in Europe/Berlin) is one partition covering both occurrences (2 h).
 */
import * as Data from "effect/Data"

/** A definition that cannot work: names it, what is wrong and how to fix it. */
export class InvalidPartitionsDefinition extends Data.TaggedError("InvalidPartitionsDefinition")<{
  readonly definition: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid ${this.definition}: ${this.reason}`
  }
}

/** A key or range that is not a partition of a definition: names the key, the definition and the valid keys. */
export class InvalidPartitionKey extends Data.TaggedError("InvalidPartitionKey")<{
  readonly key: string
  readonly definition: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid partition key ${JSON.stringify(this.key)} of ${this.definition}: ${this.reason}`
  }
}

/** Keys were asked of a definition that needs more input to list them (`now` or the dynamic keys). */
export class UnboundedPartitions extends Data.TaggedError("UnboundedPartitions")<{
  readonly definition: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot list the keys of ${this.definition}: ${this.reason}`
  }
}

/** The cadence of a time-window definition. */
export type Cadence = "hourly" | "daily" | "weekly" | "monthly"

/** A time partition: its key and its half-open window `[start, end)` in epoch milliseconds. */
export interface TimeWindow {
  readonly key: string
  readonly start: number
  readonly end: number
}

/** What listing and checking keys may depend on: the current time, and the stored dynamic keys by definition name. */
export interface PartitionOptions {
  readonly now?: number
  readonly dynamic?: Readonly<Record<string, ReadonlyArray<string>>>
}

/** The serializable form of a time-window definition. */
export interface TimeWindowSpec {
  readonly kind: "timeWindow"
  readonly cadence: Cadence
  readonly start: string
  readonly end?: string
  readonly timezone: string
  readonly weekStartsOn: number
}

/** The serializable form of a static definition. */
export interface StaticSpec {
  readonly kind: "static"
  readonly keys: ReadonlyArray<string>
}

/** The serializable form of a dynamic definition. */
export interface DynamicSpec {
  readonly kind: "dynamic"
  readonly name: string
}

/** The serializable form of a multi-dimensional definition; dimensions keep their order. */
export interface MultiSpec {
  readonly kind: "multi"
  readonly dimensions: ReadonlyArray<{ readonly name: string; readonly spec: DimensionSpec }>
}

/** The spec of one dimension of a multi-dimensional definition. */
export type DimensionSpec = TimeWindowSpec | StaticSpec | DynamicSpec

/** The serializable form of any partitions definition. */
export type PartitionsSpec = DimensionSpec | MultiSpec

interface DefinitionBase<Kind extends string, Spec, Parsed> {
  readonly kind: Kind
  readonly spec: Spec
  /** A short human description used in error messages. */
  readonly description: string
  /** Every key in order; time windows without an end need `now`, dynamic definitions their stored keys. */
  keys(options?: PartitionOptions): ReadonlyArray<string>
  /** Whether `key` is a partition (closed before `now`, in the stored dynamic keys, when given). */
  has(key: string, options?: PartitionOptions): boolean
  /** Validates `key`, throwing `InvalidPartitionKey` naming the valid format and range. */
  parse(key: string, options?: PartitionOptions): Parsed
  /** The keys from `from` to `to`, both included; reversed or out-of-range ends throw `InvalidPartitionKey`. */
  range(from: string, to: string, options?: PartitionOptions): ReadonlyArray<string>
}

/** Hourly, daily, weekly or monthly windows in a timezone, from a start to an optional exclusive end. */
export interface TimeWindowPartitions extends DefinitionBase<"timeWindow", TimeWindowSpec, TimeWindow> {
  readonly cadence: Cadence
  readonly timezone: string
  /** The window of a key (same checks as `parse`). */
  window(key: string, options?: PartitionOptions): TimeWindow
}

/** A fixed list of keys, such as regions. */
export interface StaticPartitions extends DefinitionBase<"static", StaticSpec, string> {}

/** Keys added and deleted at run time and stored elsewhere under `name`; the definition checks syntax. */
export interface DynamicPartitions extends DefinitionBase<"dynamic", DynamicSpec, string> {
  readonly name: string
}

/** A multi key split into its dimension keys. */
export interface MultiPartitionKey {
  readonly key: string
  readonly dimensions: Readonly<Record<string, string>>
}

/** One partitions definition usable as a dimension. */
export type DimensionDefinition = TimeWindowPartitions | StaticPartitions | DynamicPartitions

/**
 * The product of named dimensions, keys ordered with the first dimension outermost. `Names` are the
 * dimension names, so that a body's `ctx.partition.dimensions` is typed by them.
 */
export interface MultiPartitions<Names extends string = string>
  extends DefinitionBase<"multi", MultiSpec, MultiPartitionKey> {
  readonly "~dimensions"?: Names | undefined
  readonly dimensions: ReadonlyArray<{ readonly name: string; readonly definition: DimensionDefinition }>
  /** The windows of the time dimensions of a key, by dimension name. */
  window(key: string, options?: PartitionOptions): Readonly<Record<string, TimeWindow>>
}

/** Any partitions definition. */
export type PartitionsDefinition = DimensionDefinition | MultiPartitions

// ---------------------------------------------------------------------------------------------
// Timezone arithmetic. "Wall" numbers are wall-clock times encoded as if they were UTC epoch ms.

const SECOND = 1_000
const HOUR = 3_600_000
const DAY = 86_400_000
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

const formatters = new Map<string, Intl.DateTimeFormat>()

const formatterFor = (timezone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timezone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric"
    })
    formatters.set(timezone, f)
  }
  return f
}

/** The offset (wall − epoch, ms) of `timezone` at instant `epoch`, to the second. */
const offsetAt = (timezone: string, epoch: number): number => {
  if (timezone === "UTC") return 0
  const fields: Record<string, number> = {}
  for (const part of formatterFor(timezone).formatToParts(epoch)) {
    if (part.type !== "literal") fields[part.type] = Number(part.value)
  }
  const wall = Date.UTC(
    fields.year!,
    fields.month! - 1,
    fields.day!,
    fields.hour!,
    fields.minute!,
    fields.second!
  )
  return wall - (epoch - mod(epoch, SECOND))
}

/**
 * The first instant whose wall time in `timezone` is `wall`. A wall time repeated by a fall-back
 * resolves to its first occurrence; one skipped by a spring-forward resolves to the transition
 * instant, so a window lying entirely in a gap is empty.
 */
const wallToEpoch = (timezone: string, wall: number): number => {
  if (timezone === "UTC") return wall
  // Offsets span at most ±26 h, so two days either side bracket any transition at `wall`.
  const before = offsetAt(timezone, wall - 2 * DAY)
  const after = offsetAt(timezone, wall + 2 * DAY)
  let best: number | undefined
  for (const o of before === after ? [before] : [before, after]) {
    const t = wall - o
    if (offsetAt(timezone, t) === o && (best === undefined || t < best)) best = t
  }
  if (best !== undefined) return best
  // In a gap: the transition is the first instant at offset `after`, between wall − after and wall − before.
  let lo = wall - after
  let hi = wall - before
  while (hi - lo > SECOND) {
    const mid = lo + Math.floor((hi - lo) / 2 / SECOND) * SECOND
    if (offsetAt(timezone, mid) === after) hi = mid
    else lo = mid
  }
  return hi
}

const mod = (a: number, b: number): number => ((a % b) + b) % b
const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

const weekday = (wall: number): number => mod(Math.floor(wall / DAY) + 4, 7)

const floorWall = (cadence: Cadence, weekStartsOn: number, wall: number): number => {
  switch (cadence) {
    case "hourly":
      return wall - mod(wall, HOUR)
    case "daily":
      return wall - mod(wall, DAY)
    case "weekly": {
      const day = wall - mod(wall, DAY)
      return day - mod(weekday(day) - weekStartsOn, 7) * DAY
    }
    case "monthly": {
      const d = new Date(wall)
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
    }
  }
}

const nextWall = (cadence: Cadence, wall: number): number => {
  switch (cadence) {
    case "hourly":
      return wall + HOUR
    case "daily":
      return wall + DAY
    case "weekly":
      return wall + 7 * DAY
    case "monthly": {
      const d = new Date(wall)
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
    }
  }
}

const previousWall = (cadence: Cadence, wall: number): number => {
  switch (cadence) {
    case "hourly":
      return wall - HOUR
    case "daily":
      return wall - DAY
    case "weekly":
      return wall - 7 * DAY
    case "monthly": {
      const d = new Date(wall)
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)
    }
  }
}

const formatWall = (cadence: Cadence, wall: number): string => {
  const d = new Date(wall)
  const month = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}`
  if (cadence === "monthly") return month
  const day = `${month}-${pad(d.getUTCDate())}`
  return cadence === "hourly" ? `${day}T${pad(d.getUTCHours())}` : day
}

const KEY_FORMAT: Record<Cadence, string> = {
  hourly: "YYYY-MM-DDTHH",
  daily: "YYYY-MM-DD",
  weekly: "YYYY-MM-DD (the week's first day)",
  monthly: "YYYY-MM"
}

const DATE_TIME = /^(\d{4})-(\d{2})(?:-(\d{2})(?:T(\d{2}))?)?$/

/** Parses `YYYY-MM[-DD[THH]]` into a wall number, or undefined when it is not a real calendar time. */
const parseWall = (text: string): { wall: number; precision: "month" | "day" | "hour" } | undefined => {
  const m = DATE_TIME.exec(text)
  if (m === null) return undefined
  const [year, month, day, hour] = [
    Number(m[1]),
    Number(m[2]),
    m[3] === undefined ? 1 : Number(m[3]),
    Number(m[4] ?? 0)
  ]
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) return undefined
  const wall = Date.UTC(year, month - 1, day, hour)
  const d = new Date(wall)
  if (d.getUTCDate() !== day || d.getUTCMonth() !== month - 1 || d.getUTCFullYear() !== year) return undefined
  return { wall, precision: m[4] !== undefined ? "hour" : m[3] !== undefined ? "day" : "month" }
}

// ---------------------------------------------------------------------------------------------
// Time windows

/** Options of `timeWindowPartitions`. */
export interface TimeWindowOptions {
  readonly cadence: Cadence
  /** First window's start: `2026-01-01` (`2026-01-01T00` for hourly, `2026-01` for monthly); must begin a window. */
  readonly start: string
  /** Exclusive end, in the same format; must begin a window. */
  readonly end?: string
  /** IANA timezone name; `"UTC"` by default. */
  readonly timezone?: string
  /** First day of a week, 0 = Sunday … 6 = Saturday; 1 (Monday) by default. */
  readonly weekStartsOn?: number
}

/**
 * Time-window partitions in a timezone.
 * @example
 * const days = timeWindowPartitions({ cadence: "daily", start: "2026-01-01", timezone: "Europe/Berlin" })
 * days.keys({ now: Date.parse("2026-01-03T12:00:00Z") }) // ["2026-01-01", "2026-01-02"]
 */
export const timeWindowPartitions = (options: TimeWindowOptions): TimeWindowPartitions => {
  const { cadence } = options
  const timezone = options.timezone ?? "UTC"
  const weekStartsOn = options.weekStartsOn ?? 1
  const draft = `${cadence} partitions from ${options.start}${options.end === undefined ? "" : ` to ${options.end} (exclusive)`} in ${timezone}`
  const fail = (reason: string): never => {
    throw new InvalidPartitionsDefinition({ definition: draft, reason })
  }
  if (!["hourly", "daily", "weekly", "monthly"].includes(cadence)) {
    fail(`unknown cadence ${JSON.stringify(cadence)}; expected hourly, daily, weekly or monthly`)
  }
  if (!Number.isInteger(weekStartsOn) || weekStartsOn < 0 || weekStartsOn > 6) {
    fail(`weekStartsOn is ${weekStartsOn}; expected an integer from 0 (Sunday) to 6 (Saturday)`)
  }
  try {
    formatterFor(timezone)
  } catch {
    fail(
      `unknown timezone ${JSON.stringify(timezone)}; expected an IANA name such as "Europe/Berlin" or "UTC"`
    )
  }
  const boundary = (label: string, text: string): number => {
    const parsed = parseWall(text)
    const allowed =
      cadence === "hourly"
        ? "YYYY-MM-DD or YYYY-MM-DDTHH"
        : cadence === "monthly"
          ? "YYYY-MM or YYYY-MM-01"
          : "YYYY-MM-DD"
    if (
      parsed === undefined ||
      (parsed.precision === "hour" && cadence !== "hourly") ||
      (parsed.precision === "month" && cadence !== "monthly")
    ) {
      return fail(`${label} ${JSON.stringify(text)} is not a date in the format ${allowed}`)
    }
    const floor = floorWall(cadence, weekStartsOn, parsed.wall)
    if (floor !== parsed.wall) {
      const hint =
        cadence === "weekly"
          ? ` (a ${WEEKDAYS[weekday(parsed.wall)]}; weeks start on ${WEEKDAYS[weekStartsOn]})`
          : ""
      fail(
        `${label} ${text} does not begin a ${cadence} window${hint}; use ${formatWall(cadence, floor)} or ${formatWall(cadence, nextWall(cadence, floor))}`
      )
    }
    return parsed.wall
  }
  const startWall = boundary("start", options.start)
  const endWall = options.end === undefined ? undefined : boundary("end", options.end)
  if (endWall !== undefined && endWall <= startWall)
    fail(`end ${options.end} is not after start ${options.start}`)

  const start = formatWall(cadence, startWall)
  const end = endWall === undefined ? undefined : formatWall(cadence, endWall)
  const description = `${cadence} partitions from ${start}${end === undefined ? "" : ` to ${end} (exclusive)`} in ${timezone}`
  const spec: TimeWindowSpec = {
    kind: "timeWindow",
    cadence,
    start,
    ...(end === undefined ? {} : { end }),
    timezone,
    weekStartsOn
  }

  /** The last key that ends by `now` (or before `end`), for messages. */
  const validRange = (now: number | undefined): string => {
    const last = lastWall(now)
    if (last === undefined)
      return now === undefined ? `from ${start} on` : `none closed before ${new Date(now).toISOString()}`
    return `from ${start} to ${formatWall(cadence, last)}`
  }
  const lastWall = (now: number | undefined): number | undefined => {
    let w: number
    if (now === undefined) {
      if (endWall === undefined) return undefined
      w = previousWall(cadence, endWall)
    } else {
      w = floorWall(cadence, weekStartsOn, now + offsetAt(timezone, now))
      if (endWall !== undefined && w >= endWall) w = previousWall(cadence, endWall)
    }
    // Step back to a non-empty window that has closed by `now`.
    while (w >= startWall) {
      const s = wallToEpoch(timezone, w)
      const e = wallToEpoch(timezone, nextWall(cadence, w))
      if (e > s && (now === undefined || e <= now)) return w
      w = previousWall(cadence, w)
    }
    return undefined
  }

  const parse = (key: string, opts?: PartitionOptions): TimeWindow => {
    const invalid = (reason: string): never => {
      throw new InvalidPartitionKey({ key, definition: description, reason })
    }
    const parsed = parseWall(key)
    if (parsed === undefined || formatWall(cadence, parsed.wall) !== key) {
      return invalid(`expected ${KEY_FORMAT[cadence]}, a key ${validRange(opts?.now)}`)
    }
    const wall = parsed.wall
    if (cadence === "weekly" && floorWall(cadence, weekStartsOn, wall) !== wall) {
      invalid(
        `${key} is a ${WEEKDAYS[weekday(wall)]}; weekly keys are week starts (${WEEKDAYS[weekStartsOn]}s)`
      )
    }
    if (wall < startWall || (endWall !== undefined && wall >= endWall)) {
      invalid(`out of range; valid keys are ${validRange(opts?.now)}`)
    }
    const windowStart = wallToEpoch(timezone, wall)
    const windowEnd = wallToEpoch(timezone, nextWall(cadence, wall))
    if (windowEnd <= windowStart)
      invalid(`${key} does not exist in ${timezone} (skipped by a daylight-saving change)`)
    if (opts?.now !== undefined && windowEnd > opts.now) {
      invalid(
        `the window has not closed by ${new Date(opts.now).toISOString()}; valid keys are ${validRange(opts.now)}`
      )
    }
    return { key, start: windowStart, end: windowEnd }
  }

  const between = (
    fromWall: number,
    stopWall: number | undefined,
    now: number | undefined
  ): Array<string> => {
    const out: Array<string> = []
    let w = fromWall
    let s = wallToEpoch(timezone, w)
    while (stopWall === undefined || w <= stopWall) {
      const nw = nextWall(cadence, w)
      const e = wallToEpoch(timezone, nw)
      if (now !== undefined && e > now) break
      if (e > s) out.push(formatWall(cadence, w))
      w = nw
      s = e
    }
    return out
  }

  return {
    kind: "timeWindow",
    cadence,
    timezone,
    spec,
    description,
    keys(opts) {
      if (endWall === undefined && opts?.now === undefined) {
        throw new UnboundedPartitions({
          definition: description,
          reason: "it has no end; pass `now` to list the windows closed by then"
        })
      }
      return between(startWall, endWall === undefined ? undefined : previousWall(cadence, endWall), opts?.now)
    },
    has(key, opts) {
      try {
        parse(key, opts)
        return true
      } catch {
        return false
      }
    },
    parse,
    window: parse,
    range(from, to, opts) {
      const a = parse(from, opts)
      const b = parse(to, opts)
      if (b.start < a.start) {
        throw new InvalidPartitionKey({
          key: `${from}...${to}`,
          definition: description,
          reason: `the range is reversed; write ${to}...${from} (valid keys are ${validRange(opts?.now)})`
        })
      }
      return between(parseWall(from)!.wall, parseWall(to)!.wall, undefined)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Static and dynamic keys

const SAFE_KEY = /^[A-Za-z0-9_.-]+$/
const SAFE_KEY_RULE = "a key is non-empty and uses only letters, digits, _ . and -"

const listRange = (
  keys: ReadonlyArray<string>,
  description: string,
  from: string,
  to: string,
  check: (key: string) => void
): ReadonlyArray<string> => {
  check(from)
  check(to)
  const i = keys.indexOf(from)
  const j = keys.indexOf(to)
  if (j < i) {
    throw new InvalidPartitionKey({
      key: `${from}...${to}`,
      definition: description,
      reason: `the range is reversed; keys are ordered ${keys.join(", ")}`
    })
  }
  return keys.slice(i, j + 1)
}

const preview = (keys: ReadonlyArray<string>): string =>
  keys.length <= 10 ? keys.join(", ") : `${keys.slice(0, 10).join(", ")}, … (${keys.length} keys)`

/**
 * A fixed, ordered list of keys.
 * @example
 * const regions = staticPartitions(["eu", "us"])
 */
export const staticPartitions = (keys: ReadonlyArray<string>): StaticPartitions => {
  const description = `static partitions [${preview(keys)}]`
  const fail = (reason: string): never => {
    throw new InvalidPartitionsDefinition({ definition: description, reason })
  }
  if (keys.length === 0) fail("no keys; give at least one key")
  const seen = new Set<string>()
  for (const key of keys) {
    if (typeof key !== "string" || !SAFE_KEY.test(key))
      fail(`key ${JSON.stringify(key)} is not allowed; ${SAFE_KEY_RULE}`)
    if (seen.has(key)) fail(`key ${JSON.stringify(key)} is listed twice; keys must be unique`)
    seen.add(key)
  }
  const list = [...keys]
  const parse = (key: string): string => {
    if (!seen.has(key)) {
      throw new InvalidPartitionKey({ key, definition: description, reason: `not one of ${preview(list)}` })
    }
    return key
  }
  return {
    kind: "static",
    spec: { kind: "static", keys: list },
    description,
    keys: () => list,
    has: (key) => seen.has(key),
    parse,
    range: (from, to) => listRange(list, description, from, to, parse)
  }
}

/**
 * Keys added and deleted at run time, stored under `name`; listing them needs the stored keys.
 * @example
 * const customers = dynamicPartitions("customers")
 * customers.keys({ dynamic: { customers: ["acme", "globex"] } })
 */
export const dynamicPartitions = (name: string): DynamicPartitions => {
  const description = `dynamic partitions ${JSON.stringify(name)}`
  if (typeof name !== "string" || !SAFE_KEY.test(name)) {
    throw new InvalidPartitionsDefinition({
      definition: description,
      reason: `the name is not allowed; ${SAFE_KEY_RULE}`
    })
  }
  const stored = (opts: PartitionOptions | undefined): ReadonlyArray<string> | undefined =>
    opts?.dynamic?.[name]
  const parse = (key: string, opts?: PartitionOptions): string => {
    if (!SAFE_KEY.test(key))
      throw new InvalidPartitionKey({ key, definition: description, reason: SAFE_KEY_RULE })
    const keys = stored(opts)
    if (keys !== undefined && !keys.includes(key)) {
      throw new InvalidPartitionKey({
        key,
        definition: description,
        reason: `not a stored key (${keys.length === 0 ? "none stored" : preview(keys)}); add it first`
      })
    }
    return key
  }
  const keysOf = (opts: PartitionOptions | undefined): ReadonlyArray<string> => {
    const keys = stored(opts)
    if (keys === undefined) {
      throw new UnboundedPartitions({
        definition: description,
        reason: `its keys are stored elsewhere; pass them as \`dynamic: { ${name}: [...] }\``
      })
    }
    for (const key of keys) parse(key)
    return keys
  }
  return {
    kind: "dynamic",
    name,
    spec: { kind: "dynamic", name },
    description,
    keys: keysOf,
    has(key, opts) {
      const keys = stored(opts)
      return SAFE_KEY.test(key) && (keys === undefined || keys.includes(key))
    },
    parse,
    range: (from, to, opts) => listRange(keysOf(opts), description, from, to, (k) => parse(k, opts))
  }
}

// ---------------------------------------------------------------------------------------------
// Multi-dimensional

const DIMENSION_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The separator of dimension keys in a multi key. */
export const MULTI_KEY_SEPARATOR = "|"

const product = (lists: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  let out: Array<string> = [""]
  lists.forEach((list, i) => {
    const next: Array<string> = []
    for (const prefix of out)
      for (const key of list) next.push(i === 0 ? key : `${prefix}${MULTI_KEY_SEPARATOR}${key}`)
    out = next
  })
  return out
}

/**
 * The product of named dimensions, in the order given; keys join dimension keys with `|`.
 * @example
 * const byDayAndRegion = multiPartitions({ date: timeWindowPartitions({ cadence: "daily", start: "2026-01-01" }), region: staticPartitions(["eu", "us"]) })
 * byDayAndRegion.parse("2026-01-31|eu").dimensions // { date: "2026-01-31", region: "eu" }
 */
export const multiPartitions = <const Names extends string>(
  dimensions: Readonly<Record<Names, DimensionDefinition>>
): MultiPartitions<Names> => {
  const entries = (Object.entries(dimensions) as Array<[string, DimensionDefinition]>).map(
    ([name, definition]) => ({
      name,
      definition
    })
  )
  const description = `multi partitions (${entries.map((d) => `${d.name}: ${d.definition.description}`).join("; ")})`
  const fail = (reason: string): never => {
    throw new InvalidPartitionsDefinition({ definition: description, reason })
  }
  if (entries.length === 0) fail("no dimensions; give at least one, e.g. { date: …, region: … }")
  for (const { name, definition } of entries) {
    if (!DIMENSION_NAME.test(name))
      fail(
        `dimension name ${JSON.stringify(name)} is not allowed; use letters, digits and _ , not starting with a digit`
      )
    if ((definition as PartitionsDefinition).kind === "multi")
      fail(`dimension "${name}" is itself multi-dimensional; list its dimensions here instead`)
  }

  const split = (key: string, opts?: PartitionOptions): Array<string> => {
    const parts = key.split(MULTI_KEY_SEPARATOR)
    if (parts.length !== entries.length) {
      throw new InvalidPartitionKey({
        key,
        definition: description,
        reason: `expected ${entries.length} keys joined by "|" (${entries.map((d) => d.name).join("|")}), found ${parts.length}`
      })
    }
    entries.forEach(({ name, definition }, i) => {
      try {
        definition.parse(parts[i]!, opts)
      } catch (e) {
        if (e instanceof InvalidPartitionKey) {
          throw new InvalidPartitionKey({
            key,
            definition: description,
            reason: `dimension "${name}" (${e.definition}): ${e.message}`
          })
        }
        throw e
      }
    })
    return parts
  }
  const parse = (key: string, opts?: PartitionOptions): MultiPartitionKey => {
    const parts = split(key, opts)
    return { key, dimensions: Object.fromEntries(entries.map((d, i) => [d.name, parts[i]!])) }
  }
  return {
    kind: "multi",
    dimensions: entries,
    spec: { kind: "multi", dimensions: entries.map((d) => ({ name: d.name, spec: d.definition.spec })) },
    description,
    keys: (opts) => product(entries.map((d) => d.definition.keys(opts))),
    has(key, opts) {
      const parts = key.split(MULTI_KEY_SEPARATOR)
      return parts.length === entries.length && entries.every((d, i) => d.definition.has(parts[i]!, opts))
    },
    parse,
    window(key, opts) {
      const parts = split(key, opts)
      const out: Record<string, TimeWindow> = {}
      entries.forEach(({ name, definition }, i) => {
        if (definition.kind === "timeWindow") out[name] = definition.window(parts[i]!, opts)
      })
      return out
    },
    range(from, to, opts) {
      const a = split(from, opts)
      const b = split(to, opts)
      return product(entries.map((d, i) => d.definition.range(a[i]!, b[i]!, opts)))
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Specs and ranges

/** Rebuilds a definition from its `spec` (as stored in a graph snapshot). */
export const partitionsFromSpec = (spec: PartitionsSpec): PartitionsDefinition => {
  switch (spec.kind) {
    case "timeWindow":
      return timeWindowPartitions({
        cadence: spec.cadence,
        start: spec.start,
        ...(spec.end === undefined ? {} : { end: spec.end }),
        timezone: spec.timezone,
        weekStartsOn: spec.weekStartsOn
      })
    case "static":
      return staticPartitions(spec.keys)
    case "dynamic":
      return dynamicPartitions(spec.name)
    case "multi":
      return multiPartitions(
        Object.fromEntries(
          spec.dimensions.map((d) => [d.name, partitionsFromSpec(d.spec) as DimensionDefinition])
        )
      )
  }
}

/** The keys of a `from...to` range (both ends included) or a single key of `definition`. */
export const partitionRange = (
  definition: PartitionsDefinition,
  text: string,
  options?: PartitionOptions
): ReadonlyArray<string> => {
  const parts = text.split("...")
  if (parts.length === 1) {
    definition.parse(text, options)
    return [text]
  }
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
    throw new InvalidPartitionKey({
      key: text,
      definition: definition.description,
      reason: "expected a key or a range from...to"
    })
  }
  return definition.range(parts[0]!, parts[1]!, options)
}

/** The names of the dynamic definitions a spec uses (itself, or dimensions of a multi spec). */
export const dynamicNamesOf = (spec: PartitionsSpec | undefined): ReadonlyArray<string> =>
  spec === undefined
    ? []
    : spec.kind === "dynamic"
      ? [spec.name]
      : spec.kind === "multi"
        ? spec.dimensions.flatMap((d) => (d.spec.kind === "dynamic" ? [d.spec.name] : []))
        : []
