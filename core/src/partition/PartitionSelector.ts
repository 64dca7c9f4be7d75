/**
 * The partitions a user asks for, as text (`--partitions`, the API, schedules):
 *
 * | selector | selects |
 * | --- | --- |
 * | `2026-01-31` | one key |
 * | `2026-01-01...2026-01-31` | a range, both ends included |
 * | `eu,us` / `2026-01-01...2026-01-07,2026-02-01` | a list of keys and ranges |
 * | `*` | every key |
 * | `date=2026-01-01...2026-01-07;region=eu,us` | multi-dimensional: one selector per dimension; a dimension left out means all its keys |
 * | `2026-01-01|eu` | a multi-dimensional key |
 * | `2026-01-01...2026-01-07` on a multi definition | that selector on the one dimension it fits (all keys of the others) |
 *
 * Pure: keys are checked against the definition (with `now` and the dynamic keys), and a key or
 * range outside it is an `InvalidPartitionKey` naming the definition and its valid keys.
 */
import {
  InvalidPartitionKey,
  MULTI_KEY_SEPARATOR,
  type PartitionOptions,
  type PartitionsDefinition,
  partitionRange
} from "./PartitionsDefinition.ts"

const listOf = (
  definition: PartitionsDefinition,
  text: string,
  options: PartitionOptions
): ReadonlyArray<string> => {
  const trimmed = text.trim()
  if (trimmed === "*") return definition.keys(options)
  const out: Array<string> = []
  const seen = new Set<string>()
  for (const part of trimmed.split(",")) {
    const item = part.trim()
    if (item === "")
      throw new InvalidPartitionKey({
        key: text,
        definition: definition.description,
        reason: "an empty item in the list; write keys and ranges separated by commas"
      })
    for (const key of partitionRange(definition, item, options)) {
      if (!definition.has(key, options))
        throw new InvalidPartitionKey({
          key,
          definition: definition.description,
          reason: describeValid(definition, options)
        })
      if (!seen.has(key)) {
        seen.add(key)
        out.push(key)
      }
    }
  }
  return out
}

const describeValid = (definition: PartitionsDefinition, options: PartitionOptions): string => {
  try {
    const keys = definition.keys(options)
    if (keys.length === 0) return "the definition has no partitions yet"
    return `valid keys are ${keys[0]} to ${keys[keys.length - 1]} (${keys.length} partitions)`
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/** The keys `selector` names, in the definition's order. */
export const selectPartitions = (
  definition: PartitionsDefinition,
  selector: string,
  options: PartitionOptions = {}
): ReadonlyArray<string> => {
  const text = selector.trim()
  if (text === "")
    throw new InvalidPartitionKey({
      key: selector,
      definition: definition.description,
      reason: "the partition selector is empty; name a key, a range from...to, a list a,b or *"
    })
  if (definition.kind === "multi" && !text.includes("=") && !text.includes(MULTI_KEY_SEPARATOR)) {
    // A one-dimension selector (`2026-01-01...2026-01-07` for date × region): the dimension it fits.
    const fits = definition.dimensions.filter((d) => {
      try {
        listOf(d.definition, text, options)
        return true
      } catch {
        return false
      }
    })
    if (fits.length === 1) return selectPartitions(definition, `${fits[0]!.name}=${text}`, options)
  }
  if (definition.kind !== "multi" || !text.includes("=")) {
    const picked = new Set(listOf(definition, text, options))
    return definition.keys(options).filter((key) => picked.has(key))
  }
  // One selector per dimension: `date=...;region=eu,us`.
  const chosen = new Map<string, ReadonlySet<string>>()
  for (const clause of text.split(";")) {
    if (clause.trim() === "") continue
    const eq = clause.indexOf("=")
    const name = eq < 0 ? "" : clause.slice(0, eq).trim()
    const dimension = definition.dimensions.find((d) => d.name === name)
    if (dimension === undefined)
      throw new InvalidPartitionKey({
        key: clause,
        definition: definition.description,
        reason: `expected DIMENSION=SELECTOR with a dimension among ${definition.dimensions.map((d) => d.name).join(", ")}`
      })
    if (chosen.has(name))
      throw new InvalidPartitionKey({
        key: clause,
        definition: definition.description,
        reason: `dimension ${name} is given twice`
      })
    chosen.set(name, new Set(listOf(dimension.definition, clause.slice(eq + 1), options)))
  }
  return definition.keys(options).filter((key) => {
    const parts = key.split(MULTI_KEY_SEPARATOR)
    return definition.dimensions.every((d, i) => chosen.get(d.name)?.has(parts[i]!) ?? true)
  })
}
