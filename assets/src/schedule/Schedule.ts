/**
 * Schedules: launch a selection on a cron string in a timezone. A schedule whose targets are
 * time-partitioned launches the partition that has just closed at the scheduled time (daily at
 * 01:00 → yesterday). Definitions are data plus functions; the daemon evaluates them in ticks.
 */
import {
  type AssetGraph,
  type DimensionDefinition,
  didYouMean,
  type PartitionOptions,
  type PartitionsDefinition,
  type PartitionsSpec,
  partitionsFromSpec,
  resolveSelection,
  type TimeWindowPartitions
} from "@materia/core"
import type { AutomationDefinition } from "./Automation.ts"
import { type Cron, parseCron } from "./Cron.ts"
import {
  DEFINITION_NAME,
  type JsonValue,
  type RunRequest,
  ScheduleDefinitionError,
  selectionTerms
} from "./RunRequest.ts"
import type { SensorDefinition } from "./Sensor.ts"

/** Whether a definition runs when the daemon starts, before anyone starts or stops it. */
export type DefaultStatus = "running" | "stopped"

/** Options of `schedule`. */
export interface ScheduleOptions {
  /** 5 fields (`30 1 * * *`), 6 with seconds first, or an alias (`@daily`); see `parseCron`. */
  readonly cron: string
  /** IANA timezone the cron fields are read in; `"UTC"` by default. */
  readonly timezone?: string | undefined
  /** The targets, in selection syntax. */
  readonly select: string | ReadonlyArray<string>
  /**
   * Partition keys to launch; a function of the scheduled time (epoch ms) for a choice of your own.
   * Unset: the time partition that closed at the scheduled time (targets with static or dynamic
   * partitions need this option).
   */
  readonly partitions?: ReadonlyArray<string> | ((scheduledAt: number) => ReadonlyArray<string>) | undefined
  readonly config?: Readonly<Record<string, JsonValue>> | undefined
  readonly tags?: Readonly<Record<string, string>> | undefined
  /** `"stopped"` by default: start it with `materia schedules start <name>`. */
  readonly defaultStatus?: DefaultStatus | undefined
}

/** The serializable part of a schedule. */
export interface ScheduleSpec {
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly select: ReadonlyArray<string>
  readonly partitions: "closed window" | "fixed" | "function"
  readonly tags: Readonly<Record<string, string>>
  readonly defaultStatus: DefaultStatus
}

/** A schedule: its spec, its parsed cron and what it launches. */
export interface ScheduleDefinition {
  readonly _tag: "ScheduleDefinition"
  readonly name: string
  readonly spec: ScheduleSpec
  readonly cron: Cron
  readonly options: ScheduleOptions
}

/**
 * Defines a schedule; an invalid name, cron string or timezone throws `InvalidCron` or
 * `ScheduleDefinitionError` naming the schedule.
 * @example
 * export const schedules = [
 *   schedule("nightly_features", { cron: "0 1 * * *", timezone: "Europe/Berlin", select: "+features" })
 * ]
 */
export const schedule = (name: string, options: ScheduleOptions): ScheduleDefinition => {
  const definition = `schedule ${JSON.stringify(name)}`
  const fail = (reason: string): never => {
    throw new ScheduleDefinitionError({ definition, reason })
  }
  if (typeof name !== "string" || !DEFINITION_NAME.test(name))
    fail("the name is not allowed; use letters, digits, _ . and -")
  const cron = parseCron(options.cron, { timezone: options.timezone, owner: definition })
  const select = selectionTerms(options.select)
  if (select.length === 0 || select.some((t) => t === ""))
    fail(`select ${JSON.stringify(options.select)} has an empty term; name at least one asset, or *`)
  const defaultStatus = options.defaultStatus ?? "stopped"
  if (defaultStatus !== "running" && defaultStatus !== "stopped")
    fail(`defaultStatus is ${JSON.stringify(defaultStatus)}; expected "running" or "stopped"`)
  return {
    _tag: "ScheduleDefinition",
    name,
    cron,
    options,
    spec: {
      name,
      cron: cron.expression,
      timezone: cron.timezone,
      select,
      partitions:
        options.partitions === undefined
          ? "closed window"
          : typeof options.partitions === "function"
            ? "function"
            : "fixed",
      tags: options.tags ?? {},
      defaultStatus
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The partition that just closed

const wallParts = (timezone: string, at: number): Record<string, number> => {
  const f: Record<string, number> = {}
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric"
  })
  for (const p of format.formatToParts(at)) if (p.type !== "literal") f[p.type] = Number(p.value)
  return f
}

const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** Candidate keys of the windows around `at`, newest first (some may not be keys: parse decides). */
const candidates = (definition: TimeWindowPartitions, at: number): Array<string> => {
  const w = wallParts(definition.timezone, at)
  const base = Date.UTC(w.year!, w.month! - 1, w.day!, w.hour!)
  const day = (d: Date) => `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
  const out: Array<string> = []
  switch (definition.cadence) {
    case "hourly":
      for (let h = 0; h <= 4; h++) {
        const d = new Date(base - h * 3_600_000)
        out.push(`${day(d)}T${pad(d.getUTCHours())}`)
      }
      break
    case "daily":
      for (let k = 0; k <= 2; k++) out.push(day(new Date(base - k * 86_400_000)))
      break
    case "weekly":
      for (let k = 0; k <= 14; k++) out.push(day(new Date(base - k * 86_400_000)))
      break
    case "monthly":
      for (let k = 0; k <= 2; k++) {
        const d = new Date(Date.UTC(w.year!, w.month! - 1 - k, 1))
        out.push(`${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}`)
      }
      break
  }
  return out
}

/** The key of the last window of `definition` that closed at or before `at`, or undefined (none yet). */
export const lastClosedWindow = (definition: TimeWindowPartitions, at: number): string | undefined => {
  for (const key of candidates(definition, at)) {
    let window: { readonly start: number; readonly end: number }
    try {
      window = definition.window(key)
    } catch {
      continue
    }
    if (window.end <= at) return key
  }
  return undefined
}

/**
 * The partitions that just closed at `at`: the last closed time window, times every key of the
 * other dimensions of a multi-partitioned definition (dynamic ones need `options.dynamic`).
 * Empty when no window has closed yet; undefined when the definition has no time dimension.
 */
export const partitionsClosedAt = (
  definition: PartitionsDefinition,
  at: number,
  options?: PartitionOptions
): ReadonlyArray<string> | undefined => {
  if (definition.kind === "timeWindow") {
    const key = lastClosedWindow(definition, at)
    return key === undefined ? [] : [key]
  }
  if (definition.kind !== "multi") return undefined
  const time = definition.dimensions.filter((d) => d.definition.kind === "timeWindow")
  if (time.length !== 1) return undefined
  const lists = definition.dimensions.map(({ definition: d }: { definition: DimensionDefinition }) =>
    d.kind === "timeWindow" ? (partitionsClosedAt(d, at) ?? []) : d.keys(options)
  )
  let out: Array<string> = [""]
  lists.forEach((list, i) => {
    out = out.flatMap((prefix) => list.map((k) => (i === 0 ? k : `${prefix}|${k}`)))
  })
  return out
}

// ---------------------------------------------------------------------------------------------
// Ticks

/** What one tick of a schedule asks for: run requests, or why it requests nothing. */
export interface ScheduleTickResult {
  readonly runRequests: ReadonlyArray<RunRequest>
  readonly skipReason?: string | undefined
}

const partitionedTargets = (
  graph: AssetGraph,
  select: ReadonlyArray<string>
): Array<{ readonly key: string; readonly spec: PartitionsSpec }> => {
  const out: Array<{ key: string; spec: PartitionsSpec }> = []
  for (const i of [...resolveSelection(graph, select)].sort((a, b) => a - b)) {
    const spec = graph.specs[i]!
    if (spec.partitions !== undefined) out.push({ key: spec.key, spec: spec.partitions })
  }
  return out
}

/** Why a schedule cannot launch its targets, or undefined when it can (checked at load time). */
const scheduleProblem = (graph: AssetGraph, s: ScheduleDefinition): string | undefined => {
  let targets: ReturnType<typeof partitionedTargets>
  try {
    targets = partitionedTargets(graph, s.spec.select)
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  if (targets.length === 0 || s.options.partitions !== undefined) return undefined
  const first = JSON.stringify(targets[0]!.spec)
  const other = targets.find((t) => JSON.stringify(t.spec) !== first)
  if (other !== undefined)
    return `its targets ${targets[0]!.key} and ${other.key} have different partitions; schedule them separately or give \`partitions\``
  const definition = partitionsFromSpec(targets[0]!.spec)
  const followsTime =
    definition.kind === "timeWindow" ||
    (definition.kind === "multi" &&
      definition.dimensions.filter((d) => d.definition.kind === "timeWindow").length === 1)
  if (!followsTime)
    return `its target ${targets[0]!.key} has ${definition.description}, with no time window to follow; give \`partitions\` (keys, or a function of the scheduled time)`
  return undefined
}

/**
 * The run requests of the tick of `s` scheduled at `scheduledAt` (epoch ms). The run key is the
 * schedule's name and the scheduled time, so a tick launches its run once.
 */
export const scheduleTick = (
  graph: AssetGraph,
  s: ScheduleDefinition,
  scheduledAt: number,
  options?: PartitionOptions
): ScheduleTickResult => {
  const base: RunRequest = {
    select: s.spec.select,
    runKey: `${s.name}@${new Date(scheduledAt).toISOString()}`,
    ...(s.options.config === undefined ? {} : { config: s.options.config }),
    tags: { ...s.spec.tags, "materia/schedule": s.name }
  }
  const given = s.options.partitions
  if (given !== undefined) {
    const keys = typeof given === "function" ? given(scheduledAt) : given
    return keys.length === 0
      ? { runRequests: [], skipReason: "the partitions function chose no partition" }
      : { runRequests: [{ ...base, partitions: keys }] }
  }
  const targets = partitionedTargets(graph, s.spec.select)
  if (targets.length === 0) return { runRequests: [base] }
  const definition = partitionsFromSpec(targets[0]!.spec)
  const keys = partitionsClosedAt(definition, scheduledAt, options) ?? []
  if (keys.length === 0)
    return {
      runRequests: [],
      skipReason: `no partition of ${definition.description} has closed by ${new Date(scheduledAt).toISOString()}`
    }
  return { runRequests: [{ ...base, partitions: keys }] }
}

/**
 * Checks schedules, sensors and automation conditions against a project when it loads: unique
 * names, selections and asset keys that the project has, and partitioned targets a schedule can
 * follow. Throws `ScheduleDefinitionError` naming the definition.
 */
export const validateSchedules = (
  project: { readonly graph: AssetGraph },
  schedules: ReadonlyArray<ScheduleDefinition>,
  sensors: ReadonlyArray<SensorDefinition> = [],
  automations: ReadonlyArray<AutomationDefinition> = []
): void => {
  const automated = new Set<string>()
  for (const a of automations) {
    const definition = `automation of asset ${JSON.stringify(a.key)}`
    if (automated.has(a.key))
      throw new ScheduleDefinitionError({
        definition,
        reason: "the asset has two automation conditions; combine them with and(...) or or(...)"
      })
    automated.add(a.key)
    if (!project.graph.keys.includes(a.key)) {
      throw new ScheduleDefinitionError({
        definition,
        reason: `the project has no asset ${JSON.stringify(a.key)}${didYouMean(a.key, project.graph.keys)}`
      })
    }
  }
  const seen = new Map<string, string>()
  for (const d of [...schedules, ...sensors]) {
    const kind = d._tag === "ScheduleDefinition" ? "schedule" : "sensor"
    const label = `${kind} ${JSON.stringify(d.name)}`
    const previous = seen.get(d.name)
    if (previous !== undefined)
      throw new ScheduleDefinitionError({
        definition: label,
        reason: `the name is also used by a ${previous}; schedules and sensors need unique names`
      })
    seen.set(d.name, kind)
  }
  for (const s of schedules) {
    const problem = scheduleProblem(project.graph, s)
    if (problem !== undefined)
      throw new ScheduleDefinitionError({ definition: `schedule ${JSON.stringify(s.name)}`, reason: problem })
  }
}
