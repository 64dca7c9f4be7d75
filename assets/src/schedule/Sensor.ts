/**
 * Sensors: a function the daemon calls every `interval` with a cursor; it returns runs to launch
 * (each at most once per run key), dynamic partitions to add and the next cursor. User code runs
 * inside a boundary: a throw, a rejection, a malformed result or a timeout becomes a `SensorFailed`
 * error recorded on the tick, never a daemon crash.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import {
  DEFINITION_NAME,
  malformedRunRequest,
  type RunRequest,
  ScheduleDefinitionError
} from "./RunRequest.ts"
import type { DefaultStatus } from "./Schedule.ts"

/** What `evaluate` receives. */
export interface SensorContext {
  readonly sensor: string
  /** The cursor the last successful evaluation returned; undefined the first time. */
  readonly cursor: string | undefined
  /** The tick's time (epoch ms), from the daemon's clock. */
  readonly now: number
  /** When the last tick was evaluated, if ever. */
  readonly lastTickAt: number | undefined
  /** Aborted when the evaluation times out or the daemon stops. */
  readonly signal: AbortSignal
  /**
   * The latest materialization time of assets of any project in the daemon's store (undefined:
   * never materialized). Given by the daemon; absent where no store is at hand.
   */
  readonly materializations?:
    | ((project: string, keys: ReadonlyArray<string>) => Promise<ReadonlyMap<string, number | undefined>>)
    | undefined
  /** The project the daemon runs (its `defineProject({ name })`). */
  readonly project?: string | undefined
  /**
   * Runs of a project in the daemon's store that ended after `since` (epoch ms), oldest first, with
   * their failed steps. Given by the daemon; absent where no store is at hand.
   */
  readonly endedRuns?: ((project: string, since: number) => Promise<ReadonlyArray<EndedRun>>) | undefined
}

/** A run that ended, as a run-status sensor sees it. */
export interface EndedRun {
  readonly runId: string
  readonly status: "succeeded" | "failed" | "canceled"
  readonly startedAt: number
  readonly endedAt: number
  readonly failedSteps: ReadonlyArray<{
    readonly key: string
    readonly partition?: string | undefined
    readonly error: { readonly tag: string; readonly message: string }
  }>
  readonly skippedSteps: number
}

/** Dynamic partition keys to add to a definition (by its name) before the runs launch. */
export interface AddPartitions {
  readonly definition: string
  readonly keys: ReadonlyArray<string>
}

/** What `evaluate` returns. */
export interface SensorResult {
  readonly runRequests?: ReadonlyArray<RunRequest> | undefined
  readonly addPartitions?: ReadonlyArray<AddPartitions> | undefined
  /** Stored when the tick is recorded, and given to the next evaluation. */
  readonly cursor?: string | undefined
  /** Why nothing was requested, shown in the tick history. */
  readonly skipReason?: string | undefined
}

/** Options of `sensor`. */
export interface SensorOptions {
  /** Time between evaluations: milliseconds or a duration such as `"30 seconds"`. */
  readonly interval: Duration.Input
  readonly evaluate: (
    ctx: SensorContext
  ) => SensorResult | Promise<SensorResult> | Effect.Effect<SensorResult, unknown>
  /** `"stopped"` by default: start it with `materia sensors start <name>`. */
  readonly defaultStatus?: DefaultStatus | undefined
  /** An evaluation running longer fails its tick; 60 seconds by default. */
  readonly timeout?: Duration.Input | undefined
}

/** The serializable part of a sensor. */
export interface SensorSpec {
  readonly name: string
  readonly intervalMillis: number
  readonly timeoutMillis: number
  readonly defaultStatus: DefaultStatus
}

export interface SensorDefinition {
  readonly _tag: "SensorDefinition"
  readonly name: string
  readonly spec: SensorSpec
  readonly evaluate: SensorOptions["evaluate"]
}

/** An evaluation that threw, rejected, returned something malformed or timed out. */
export class SensorFailed extends Data.TaggedError("SensorFailed")<{
  readonly sensor: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `sensor ${JSON.stringify(this.sensor)} failed: ${this.reason}`
  }
}

const millis = (definition: string, option: string, input: Duration.Input): number => {
  let ms: number
  try {
    ms = Duration.toMillis(input)
  } catch {
    ms = Number.NaN
  }
  if (!Number.isFinite(ms) || ms <= 0)
    throw new ScheduleDefinitionError({
      definition,
      reason: `${option} is ${JSON.stringify(input)}; expected a positive duration such as "30 seconds" or 30000 (ms)`
    })
  return ms
}

/**
 * Defines a sensor.
 * @example
 * export const sensors = [
 *   sensor("new_exports", {
 *     interval: "30 seconds",
 *     evaluate: ({ cursor }) => {
 *       const files = listNewFiles(cursor)
 *       return { runRequests: files.map((f) => ({ select: "orders", runKey: f })), cursor: files.at(-1) ?? cursor }
 *     }
 *   })
 * ]
 */
export const sensor = (name: string, options: SensorOptions): SensorDefinition => {
  const definition = `sensor ${JSON.stringify(name)}`
  if (typeof name !== "string" || !DEFINITION_NAME.test(name))
    throw new ScheduleDefinitionError({
      definition,
      reason: "the name is not allowed; use letters, digits, _ . and -"
    })
  if (typeof options.evaluate !== "function")
    throw new ScheduleDefinitionError({
      definition,
      reason: "evaluate must be a function of the sensor context"
    })
  const defaultStatus = options.defaultStatus ?? "stopped"
  if (defaultStatus !== "running" && defaultStatus !== "stopped")
    throw new ScheduleDefinitionError({
      definition,
      reason: `defaultStatus is ${JSON.stringify(defaultStatus)}; expected "running" or "stopped"`
    })
  return {
    _tag: "SensorDefinition",
    name,
    evaluate: options.evaluate,
    spec: {
      name,
      intervalMillis: millis(definition, "interval", options.interval),
      timeoutMillis: millis(definition, "timeout", options.timeout ?? "60 seconds"),
      defaultStatus
    }
  }
}

const malformedResult = (result: unknown): string | undefined => {
  if (typeof result !== "object" || result === null)
    return `evaluate returned ${String(result)}; expected { runRequests?, addPartitions?, cursor?, skipReason? }`
  const r = result as Record<string, unknown>
  if (r.runRequests !== undefined) {
    if (!Array.isArray(r.runRequests)) return "runRequests must be an array"
    for (const [i, request] of r.runRequests.entries()) {
      const problem = malformedRunRequest(request)
      if (problem !== undefined) return `runRequests[${i}]: ${problem}`
    }
  }
  if (r.addPartitions !== undefined) {
    if (!Array.isArray(r.addPartitions)) return "addPartitions must be an array of { definition, keys }"
    for (const a of r.addPartitions as Array<Record<string, unknown>>)
      if (
        typeof a?.definition !== "string" ||
        !Array.isArray(a.keys) ||
        !a.keys.every((k) => typeof k === "string")
      )
        return `addPartitions entries are { definition: string, keys: string[] }, found ${JSON.stringify(a)}`
  }
  if (r.cursor !== undefined && typeof r.cursor !== "string")
    return `cursor must be a string (serialize it yourself), found ${typeof r.cursor}`
  return undefined
}

/**
 * Runs one evaluation inside the user-code boundary, timed out after the sensor's timeout on the
 * Effect clock (so tests drive it with TestClock).
 */
export const evaluateSensor = (
  s: SensorDefinition,
  ctx: Omit<SensorContext, "signal" | "sensor">
): Effect.Effect<SensorResult, SensorFailed> => {
  const fail = (reason: string, cause?: unknown) => new SensorFailed({ sensor: s.name, reason, cause })
  const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))
  const body = Effect.callback<SensorResult, SensorFailed>((resume, signal) => {
    let out: ReturnType<SensorOptions["evaluate"]>
    try {
      out = s.evaluate({ ...ctx, sensor: s.name, signal })
    } catch (e) {
      resume(Effect.fail(fail(`evaluate threw ${describe(e)}`, e)))
      return
    }
    if (Effect.isEffect(out)) {
      resume(
        (out as Effect.Effect<SensorResult, unknown>).pipe(
          Effect.mapError((e) => fail(`evaluate failed with ${describe(e)}`, e))
        )
      )
    } else if (
      out !== null &&
      typeof out === "object" &&
      typeof (out as PromiseLike<unknown>).then === "function"
    ) {
      ;(out as Promise<SensorResult>).then(
        (value) => resume(Effect.succeed(value)),
        (e: unknown) => resume(Effect.fail(fail(`evaluate rejected with ${describe(e)}`, e)))
      )
    } else resume(Effect.succeed(out as SensorResult))
  })
  return body.pipe(
    Effect.catchDefect((defect) => Effect.fail(fail(`evaluate died with ${describe(defect)}`, defect))),
    Effect.timeoutOrElse({
      duration: s.spec.timeoutMillis,
      orElse: () =>
        Effect.fail(
          fail(
            `evaluate did not finish within ${Duration.format(Duration.millis(s.spec.timeoutMillis))}; it was interrupted`
          )
        )
    }),
    Effect.flatMap((result) => {
      const problem = malformedResult(result)
      return problem === undefined ? Effect.succeed(result) : Effect.fail(fail(problem))
    })
  )
}
