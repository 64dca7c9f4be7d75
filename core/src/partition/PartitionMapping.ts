/**
 * Partition mappings: which upstream partitions one downstream partition depends on.
 *
 * | mapping | downstream partition depends on |
 * | --- | --- |
 * | `identity` (default for equal definitions) | the upstream partition with the same key |
 * | `timeWindow` (default between time windows) | the upstream windows overlapping its window (a month → its days; a day → its month) |
 * | `offset` | the same-cadence window `offset` steps away (`-1`: yesterday); none before the first |
 * | `dimension` (default between a multi definition and one of its dimensions) | the upstream keys whose dimension matches |
 * | `all` (default for an unpartitioned downstream) | every upstream partition |
 *
 * `mappingProblem` checks a mapping between two definitions when the project is defined; `resolveMapping`
 * makes the lookup used by the planner and the executor (keys listed once, windows binary-searched).
 */
import * as Data from "effect/Data"
import type { PartitionMappingSpec } from "../graph/AssetSpec.ts"
import {
  type DimensionDefinition,
  MULTI_KEY_SEPARATOR,
  type PartitionsDefinition,
  type PartitionsSpec,
  type TimeWindowPartitions
} from "./PartitionsDefinition.ts"

/** A mapping that cannot work between two assets' definitions: names both and says why. */
export class InvalidPartitionMapping extends Data.TaggedError("InvalidPartitionMapping")<{
  readonly downstream: string
  readonly upstream: string
  readonly reason: string
}> {
  override get message(): string {
    return `asset "${this.downstream}" cannot depend on "${this.upstream}" partition by partition: ${this.reason}`
  }
}

/** The upstream partitions of each downstream partition. */
export interface ResolvedMapping {
  readonly kind: PartitionMappingSpec["kind"]
  readonly upstreamOf: (downstreamKey: string) => ReadonlyArray<string>
}

const sameSpec = (a: PartitionsSpec, b: PartitionsSpec): boolean => JSON.stringify(a) === JSON.stringify(b)

/** The default mapping between two partitioned definitions, or a reason there is none. */
export const defaultMapping = (
  downstream: PartitionsSpec,
  upstream: PartitionsSpec
): PartitionMappingSpec | string => {
  if (sameSpec(downstream, upstream)) return { kind: "identity" }
  if (downstream.kind === "timeWindow" && upstream.kind === "timeWindow") {
    if (downstream.timezone !== upstream.timezone)
      return `their time windows are in different timezones (${downstream.timezone} and ${upstream.timezone})`
    return { kind: "timeWindow" }
  }
  if (downstream.kind === "multi" && upstream.kind !== "multi") {
    const dim = downstream.dimensions.find((d) => sameSpec(d.spec, upstream))
    if (dim !== undefined) return { kind: "dimension", dimension: dim.name }
  }
  if (upstream.kind === "multi" && downstream.kind !== "multi") {
    const dim = upstream.dimensions.find((d) => sameSpec(d.spec, downstream))
    if (dim !== undefined) return { kind: "dimension", dimension: dim.name }
  }
  return `their partitions differ (${describe(downstream)} and ${describe(upstream)}) and no mapping relates them; pass a mapping (dependsOn(upstream, { mapping: allPartitions() }) or a dimension/time-window mapping)`
}

const describe = (spec: PartitionsSpec): string =>
  spec.kind === "multi"
    ? `multi(${spec.dimensions.map((d) => d.name).join(" × ")})`
    : spec.kind === "timeWindow"
      ? `${spec.cadence} from ${spec.start}`
      : spec.kind === "static"
        ? `static [${spec.keys.slice(0, 4).join(", ")}${spec.keys.length > 4 ? ", …" : ""}]`
        : `dynamic "${spec.name}"`

const dimensionSpec = (spec: PartitionsSpec, name: string): PartitionsSpec | undefined =>
  spec.kind === "multi" ? spec.dimensions.find((d) => d.name === name)?.spec : undefined

/** Why `mapping` cannot relate the two definitions, or undefined when it can. */
export const mappingProblem = (
  downstream: PartitionsSpec,
  upstream: PartitionsSpec,
  mapping: PartitionMappingSpec | undefined
): string | undefined => {
  if (mapping === undefined) {
    const d = defaultMapping(downstream, upstream)
    return typeof d === "string" ? d : undefined
  }
  switch (mapping.kind) {
    case "all":
      return undefined
    case "identity":
      return sameSpec(downstream, upstream)
        ? undefined
        : `an identity mapping needs the same partitions on both, found ${describe(downstream)} and ${describe(upstream)}`
    case "timeWindow":
      return downstream.kind === "timeWindow" && upstream.kind === "timeWindow"
        ? undefined
        : `a time-window mapping needs time-window partitions on both, found ${describe(downstream)} and ${describe(upstream)}`
    case "offset":
      if (!Number.isInteger(mapping.offset))
        return `an offset mapping needs a whole number of windows, found ${mapping.offset}`
      return downstream.kind === "timeWindow" &&
        upstream.kind === "timeWindow" &&
        downstream.cadence === upstream.cadence &&
        downstream.timezone === upstream.timezone
        ? undefined
        : `an offset mapping needs time windows of the same cadence and timezone on both, found ${describe(downstream)} and ${describe(upstream)}`
    case "dimension": {
      const dDim = dimensionSpec(downstream, mapping.dimension)
      const uDim = dimensionSpec(upstream, mapping.dimension)
      if (dDim === undefined && uDim === undefined)
        return `neither side has a dimension named "${mapping.dimension}"`
      const left = dDim ?? downstream
      const right = uDim ?? upstream
      return sameSpec(left, right)
        ? undefined
        : `dimension "${mapping.dimension}" is ${describe(left)} on one side and ${describe(right)} on the other`
    }
  }
}

/** First index whose value is > x (values ascending). */
const upperBound = (values: Float64Array, x: number): number => {
  let lo = 0
  let hi = values.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (values[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

// Windows are computed without `now`: a requested key was checked against it already.
const windowsOf = (definition: TimeWindowPartitions, keys: ReadonlyArray<string>) => {
  const starts = new Float64Array(keys.length)
  const ends = new Float64Array(keys.length)
  for (let i = 0; i < keys.length; i++) {
    const w = definition.window(keys[i]!)
    starts[i] = w.start
    ends[i] = w.end
  }
  return { starts, ends }
}

const dimensionIndex = (definition: PartitionsDefinition, dimension: string): number =>
  definition.kind === "multi" ? definition.dimensions.findIndex((d) => d.name === dimension) : -1

const splitMulti = (key: string): ReadonlyArray<string> => key.split(MULTI_KEY_SEPARATOR)

/**
 * The lookup of a mapping between two definitions whose keys are known (`upstreamKeys`: every key of
 * the upstream definition, in order). Throws InvalidPartitionMapping when the mapping cannot work.
 */
export const resolveMapping = (
  names: { readonly downstream: string; readonly upstream: string },
  downstream: PartitionsDefinition,
  upstream: PartitionsDefinition,
  upstreamKeys: ReadonlyArray<string>,
  mapping: PartitionMappingSpec | undefined
): ResolvedMapping => {
  const problem = mappingProblem(downstream.spec, upstream.spec, mapping)
  if (problem !== undefined) throw new InvalidPartitionMapping({ ...names, reason: problem })
  const chosen = mapping ?? (defaultMapping(downstream.spec, upstream.spec) as PartitionMappingSpec)
  const known = new Set(upstreamKeys)
  switch (chosen.kind) {
    case "all":
      return { kind: "all", upstreamOf: () => upstreamKeys }
    case "identity":
      return { kind: "identity", upstreamOf: (key) => (known.has(key) ? [key] : []) }
    case "timeWindow":
    case "offset": {
      const down = downstream as TimeWindowPartitions
      const up = upstream as TimeWindowPartitions
      const { starts, ends } = windowsOf(up, upstreamKeys)
      if (chosen.kind === "offset") {
        const offset = chosen.offset
        return {
          kind: "offset",
          upstreamOf: (key) => {
            const w = down.window(key)
            const i = upperBound(starts, w.start) - 1
            if (i < 0 || starts[i] !== w.start) return []
            const j = i + offset
            return j >= 0 && j < upstreamKeys.length ? [upstreamKeys[j]!] : []
          }
        }
      }
      return {
        kind: "timeWindow",
        upstreamOf: (key) => {
          const w = down.window(key)
          // Upstream windows overlapping [start, end): the last one starting at or before start, on.
          let i = Math.max(0, upperBound(starts, w.start) - 1)
          const out: Array<string> = []
          for (; i < upstreamKeys.length && starts[i]! < w.end; i++)
            if (ends[i]! > w.start && ends[i]! > starts[i]!) out.push(upstreamKeys[i]!)
          return out
        }
      }
    }
    case "dimension": {
      const dDim = dimensionIndex(downstream, chosen.dimension)
      const uDim = dimensionIndex(upstream, chosen.dimension)
      const part = (key: string, index: number) => (index < 0 ? key : splitMulti(key)[index]!)
      if (uDim < 0)
        // A single-dimension upstream: the downstream key's value of that dimension.
        return {
          kind: "dimension",
          upstreamOf: (key) => {
            const k = part(key, dDim)
            return known.has(k) ? [k] : []
          }
        }
      const byValue = new Map<string, Array<string>>()
      for (const k of upstreamKeys) {
        const v = part(k, uDim)
        const list = byValue.get(v)
        if (list === undefined) byValue.set(v, [k])
        else list.push(k)
      }
      return { kind: "dimension", upstreamOf: (key) => byValue.get(part(key, dDim)) ?? [] }
    }
  }
}

const CADENCE_RANK = { hourly: 0, daily: 1, weekly: 2, monthly: 3 } as const

/**
 * Whether one downstream partition (or an unpartitioned downstream) reads several upstream
 * partitions, so that its body receives them as a `PartitionedInput` rather than one value. Decided
 * from the definitions alone, so that the type of the input is known when the asset is defined.
 */
export const readsManyPartitions = (
  downstream: PartitionsSpec | undefined,
  upstream: PartitionsSpec | undefined,
  mapping: PartitionMappingSpec | undefined
): boolean => {
  if (upstream === undefined) return false
  if (downstream === undefined) return true
  const chosen = mapping ?? defaultMapping(downstream, upstream)
  if (typeof chosen === "string") return false
  switch (chosen.kind) {
    case "all":
      return true
    case "identity":
    case "offset":
      return false
    case "timeWindow":
      return (
        downstream.kind === "timeWindow" &&
        upstream.kind === "timeWindow" &&
        CADENCE_RANK[upstream.cadence] < CADENCE_RANK[downstream.cadence]
      )
    case "dimension":
      return upstream.kind === "multi" && downstream.kind !== "multi"
  }
}

/** The partition columns of a key in a hive layout (`{ date: "2026-01-31", region: "eu" }`), in dimension order. */
export const hiveColumns = (
  definition: PartitionsDefinition,
  key: string
): Readonly<Record<string, string>> => {
  if (definition.kind !== "multi") return { [dimensionColumn(definition)]: key }
  const parts = splitMulti(key)
  return Object.fromEntries(definition.dimensions.map((d, i) => [d.name, parts[i]!]))
}

/** Hive-style folder segments of a partition (`date=2026-01-31`, `region=eu`), in dimension order. */
export const hiveSegments = (definition: PartitionsDefinition, key: string): ReadonlyArray<string> =>
  Object.entries(hiveColumns(definition, key)).map(([column, value]) => `${column}=${value}`)

/** The column a single-dimension definition's key becomes in a hive layout. */
export const dimensionColumn = (definition: DimensionDefinition): string => {
  switch (definition.kind) {
    case "timeWindow":
      return definition.cadence === "hourly"
        ? "hour"
        : definition.cadence === "monthly"
          ? "month"
          : definition.cadence === "weekly"
            ? "week"
            : "date"
    case "static":
      return "partition"
    case "dynamic":
      return definition.name
  }
}
