/**
 * A built-in sensor: an asset (of this or another project in the same store) was materialized.
 * Each new materialization launches one run, once (the asset and its materialization time are the
 * run key); the cursor is the latest materialization time seen.
 */
import type * as Duration from "effect/Duration"
import type { DefaultStatus } from "./Schedule.ts"
import { type SensorDefinition, sensor } from "./Sensor.ts"

/** Options of `assetSensor`. */
export interface AssetSensorOptions {
  /** The project whose asset is watched (its `defineProject({ name })`). */
  readonly project: string
  /** The key of the watched asset. */
  readonly asset: string
  /** The targets of the run each new materialization launches. */
  readonly select: string | ReadonlyArray<string>
  /** 30 seconds by default. */
  readonly interval?: Duration.Input | undefined
  readonly defaultStatus?: DefaultStatus | undefined
}

/**
 * A sensor launching a run when another project's asset was materialized.
 * @example
 * export const sensors = [assetSensor("upstream_orders", { project: "ingest", asset: "orders", select: "+report" })]
 */
export const assetSensor = (name: string, options: AssetSensorOptions): SensorDefinition =>
  sensor(name, {
    interval: options.interval ?? "30 seconds",
    ...(options.defaultStatus === undefined ? {} : { defaultStatus: options.defaultStatus }),
    evaluate: async ({ cursor, materializations }) => {
      if (materializations === undefined)
        throw new Error("no metadata store to read materializations from; run it with materia daemon")
      const at = (await materializations(options.project, [options.asset])).get(options.asset)
      const label = `${options.project}/${options.asset}`
      if (at === undefined) return { skipReason: `${label} was never materialized` }
      if (cursor !== undefined && at <= Number(cursor))
        return {
          skipReason: `${label} not materialized since ${new Date(Number(cursor)).toISOString()}`,
          cursor
        }
      return {
        runRequests: [
          {
            select: options.select,
            runKey: `${label}@${new Date(at).toISOString()}`,
            tags: { "materia/upstream": label }
          }
        ],
        cursor: String(at)
      }
    }
  })
