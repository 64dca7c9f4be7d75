/**
 * What a schedule tick, a sensor or an automation condition asks the daemon to launch: a selection,
 * optional partitions, run configuration and tags, and a run key that makes the request idempotent.
 * Plain JSON, so a request can be stored with the tick that made it.
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"

/** A JSON value, as stored with a tick. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | ReadonlyArray<JsonValue>
  | { readonly [key: string]: JsonValue }

/** One run to launch. */
export interface RunRequest {
  /** The targets, in selection syntax (`model`, `+model`, `group:ml`); an array is their union. */
  readonly select: string | ReadonlyArray<string>
  /** Partition keys or `from...to` ranges of the targets; unset: the targets are not partitioned. */
  readonly partitions?: ReadonlyArray<string> | undefined
  /** Launched at most once per sensor: a request whose run key was seen before is dropped. */
  readonly runKey?: string | undefined
  /** Run configuration by asset key (validated by the run, as `materialize({ config })`). */
  readonly config?: Readonly<Record<string, JsonValue>> | undefined
  /** Tags of the run; the run queue limits concurrency per tag. */
  readonly tags?: Readonly<Record<string, string>> | undefined
  /** Re-executes the failed, skipped and canceled steps of this Materia run (a run-level retry). */
  readonly fromFailure?: string | undefined
  /** Runs (resumes) this stored backfill (`materia backfill resume <id>`): a queued backfill. */
  readonly backfillId?: string | undefined
}

/** The stored form of a run request (a tick's queued run): what the daemon store decodes. */
export const RunRequestSchema = Schema.Struct({
  select: Schema.Union([Schema.String, Schema.Array(Schema.String)]),
  partitions: Schema.optionalKey(Schema.Array(Schema.String)),
  runKey: Schema.optionalKey(Schema.String),
  config: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  tags: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  fromFailure: Schema.optionalKey(Schema.String),
  backfillId: Schema.optionalKey(Schema.String)
})

/** A definition (schedule, sensor, automation) that cannot work; names it and what is wrong. */
export class ScheduleDefinitionError extends Data.TaggedError("ScheduleDefinitionError")<{
  /** `schedule "nightly"`, `sensor "new_files"`. */
  readonly definition: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid ${this.definition}: ${this.reason}`
  }
}

/** Names of schedules and sensors: letters, digits, `_`, `.` and `-`. */
export const DEFINITION_NAME = /^[A-Za-z0-9_.-]+$/

/** The selection as a list of terms. */
export const selectionTerms = (select: string | ReadonlyArray<string>): ReadonlyArray<string> =>
  (typeof select === "string" ? [select] : select).flatMap((s) => s.split(",")).map((s) => s.trim())

/** Checks the shape of a request (from user code); returns a reason when it is malformed. */
export const malformedRunRequest = (request: unknown): string | undefined => {
  if (typeof request !== "object" || request === null) return `expected an object, found ${String(request)}`
  const r = request as Record<string, unknown>
  const isStrings = (u: unknown) => Array.isArray(u) && u.every((x) => typeof x === "string")
  if (!(typeof r.select === "string" || isStrings(r.select)))
    return `select must be a selection string or an array of them, found ${JSON.stringify(r.select)}`
  if (r.partitions !== undefined && !isStrings(r.partitions))
    return `partitions must be an array of keys, found ${JSON.stringify(r.partitions)}`
  if (r.runKey !== undefined && (typeof r.runKey !== "string" || r.runKey === ""))
    return `runKey must be a non-empty string, found ${JSON.stringify(r.runKey)}`
  if (r.tags !== undefined) {
    if (typeof r.tags !== "object" || r.tags === null) return "tags must be an object of strings"
    for (const [k, v] of Object.entries(r.tags))
      if (typeof v !== "string") return `tag ${k} must be a string, found ${JSON.stringify(v)}`
  }
  if (
    r.config !== undefined &&
    (typeof r.config !== "object" || r.config === null || Array.isArray(r.config))
  )
    return `config must be an object keyed by asset, found ${JSON.stringify(r.config)}`
  return undefined
}
