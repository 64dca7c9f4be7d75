/**
 * Partitions are typed: `ctx.partition` follows the asset's definition (a window's Dates, a multi
 * key's dimension names), an unpartitioned body has no partition for sure, and an input that spans
 * several upstream partitions is a PartitionedInput, not the upstream's value.
 */
import {
  asset,
  dailyPartitions,
  multiPartitions,
  partitionsOf,
  staticPartitions,
  streamOf
} from "@materia/assets"

const days = dailyPartitions({ start: "2026-01-01" })
const grid = multiPartitions({ date: days, region: staticPartitions(["eu", "us"]) })

export const daily = asset("daily", { partitions: days }, (_, ctx) => ctx.partition.start.getTime())

// @expect TS2339 "Property 'dimensions' does not exist"
asset("daily_dims", { partitions: days }, (_, ctx) => ctx.partition.dimensions)

export const sales = asset("sales", { partitions: grid }, (_, ctx) => ctx.partition.dimensions.region.length)

// @expect TS2339 "Property 'country' does not exist"
asset("sales_country", { partitions: grid }, (_, ctx) => ctx.partition.dimensions.country)

// @expect TS2339 "Property 'partition' does not exist"
asset("plain", {}, (_, ctx) => ctx.partition.key)

// An unpartitioned asset reading a partitioned one receives all partitions.
// @expect TS2339 "Property 'toFixed' does not exist on type 'PartitionedInput<number>'"
asset("summary", { ins: { daily } }, ({ daily }) => daily.toFixed(2))

// partitionsOf gives a PartitionedInput whose values are typed.
// @expect TS2339 "Property 'nope' does not exist on type 'number'"
asset("m", { ins: { days: partitionsOf(daily) } }, async ({ days }) => (await days.get("d")).nope)

// streamOf gives record batches, not the value.
// @expect TS2339 "Property 'toFixed' does not exist on type 'AsyncIterable<RecordBatch"
asset("streamed", { ins: { rows: streamOf(daily) } }, ({ rows }) => rows.toFixed(1))
