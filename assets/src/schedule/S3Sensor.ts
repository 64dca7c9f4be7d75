/**
 * A built-in sensor: new objects under an S3 prefix. Each object launches one run, once (its key is
 * the run key), tagged with its `s3://` address; the cursor is the newest modification time seen.
 * The AWS SDK loads only when the sensor is evaluated.
 */
import type { S3ClientConfig } from "@materia/io-managers/s3"
import type * as Duration from "effect/Duration"
import type { RunRequest } from "./RunRequest.ts"
import type { DefaultStatus } from "./Schedule.ts"
import { type SensorDefinition, sensor } from "./Sensor.ts"

/** Options of `newObjectsSensor`. */
export interface NewObjectsOptions {
  readonly bucket: string
  /** Only keys under this prefix (e.g. `exports/orders/`); all keys by default. */
  readonly prefix?: string | undefined
  /** The S3 client: region, endpoint (S3-compatible servers), credentials; the SDK's defaults otherwise. */
  readonly client?: S3ClientConfig | undefined
  /** The targets of each object's run, in selection syntax. */
  readonly select: string | ReadonlyArray<string>
  /** Only keys that match (e.g. `/\.parquet$/`). */
  readonly pattern?: RegExp | undefined
  /** The partitions of an object's run (e.g. a date taken from its key). */
  readonly partitionsOf?: ((key: string) => ReadonlyArray<string>) | undefined
  /** 30 seconds by default. */
  readonly interval?: Duration.Input | undefined
  readonly defaultStatus?: DefaultStatus | undefined
}

/**
 * @example
 * newObjectsSensor("landed", { bucket: "raw", prefix: "orders/", pattern: /\.csv$/, select: "orders+" })
 */
export const newObjectsSensor = (name: string, options: NewObjectsOptions): SensorDefinition =>
  sensor(name, {
    interval: options.interval ?? "30 seconds",
    ...(options.defaultStatus === undefined ? {} : { defaultStatus: options.defaultStatus }),
    evaluate: async ({ cursor, signal }) => {
      const { listObjectsSince } = await import("@materia/io-managers/s3")
      const since = cursor === undefined ? Number.NEGATIVE_INFINITY : Number(cursor)
      const prefix = options.prefix ?? ""
      const where = `s3://${options.bucket}/${prefix}`
      // `>=`: an object written in the cursor's millisecond is not missed; run keys drop repeats.
      const found = (
        await listObjectsSince(options.client ?? {}, options.bucket, prefix, since, signal)
      ).filter((o) => options.pattern === undefined || options.pattern.test(o.key))
      if (found.length === 0)
        return { skipReason: `no new object under ${where}`, ...(cursor === undefined ? {} : { cursor }) }
      const runRequests: Array<RunRequest> = found.map((o) => ({
        select: options.select,
        runKey: o.key,
        tags: { "materia/object": `s3://${options.bucket}/${o.key}` },
        ...(options.partitionsOf === undefined ? {} : { partitions: options.partitionsOf(o.key) })
      }))
      return { runRequests, cursor: String(found.at(-1)!.modifiedAt) }
    }
  })
