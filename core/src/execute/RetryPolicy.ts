/**
 * Retry policies: when a failed attempt is tried again, and after how long. A policy comes from an
 * asset's `retry` options (attempts, backoff, delay, jitter) or from an Effect `Schedule`; either
 * way `attempts` counts every attempt, and errors marked non-retryable fail at once.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type { RetrySpec } from "../graph/AssetSpec.ts"
import { isRetryable } from "./StepErrors.ts"

/** Given the attempt that just failed (1-based) and its error: the delay before the next, or `undefined` to give up. */
export type RetryDecider = (attempt: number, error: unknown) => Effect.Effect<number | undefined>

/** The delay before attempt `attempt + 1` under a backoff spec, before jitter. */
export const backoffDelay = (spec: RetrySpec, attempt: number): number => {
  const base =
    spec.backoff === "constant"
      ? spec.delayMillis
      : spec.backoff === "linear"
        ? spec.delayMillis * attempt
        : spec.delayMillis * 2 ** (attempt - 1)
  return Math.min(base, spec.maxDelayMillis)
}

/** Makes a fresh decider for one step (a Schedule keeps state across its attempts). */
export const makeRetryDecider = (
  spec: RetrySpec,
  schedule?: Schedule.Schedule<unknown, unknown> | undefined
): Effect.Effect<RetryDecider> => {
  if (schedule === undefined)
    return Effect.succeed((attempt, error) => {
      if (attempt >= spec.attempts || !isRetryable(error)) return Effect.succeed(undefined)
      const delay = backoffDelay(spec, attempt)
      if (!spec.jitter) return Effect.succeed(delay)
      return Effect.map(Random.next, (r) => Math.round(delay * (0.5 + r)))
    })
  return Effect.map(Schedule.toStep(schedule), (step) => (attempt: number, error: unknown) => {
    if (attempt >= spec.attempts || !isRetryable(error)) return Effect.succeed(undefined)
    return Effect.clockWith((clock) => step(clock.currentTimeMillisUnsafe(), error)).pipe(
      Effect.map(([, delay]): number | undefined => Duration.toMillis(delay)),
      Pull.catchDone(() => Effect.succeed(undefined)),
      Effect.catch(() => Effect.succeed(undefined))
    )
  })
}
