/**
 * What every alert is: a name and a `send` that never fails, returning an outcome the caller records
 * as an event. Implementations: `webhookAlert` (Webhook.ts).
 */
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { AlertSummary } from "./AlertSummary.ts"

/** How one alert delivery went; `error` says why when `ok` is false. Recorded as an event. */
export const AlertOutcome = Schema.Struct({
  ok: Schema.Boolean,
  attempts: Schema.Number,
  /** The HTTP status of the last answer, when there was one. */
  status: Schema.optionalKey(Schema.Number),
  error: Schema.optionalKey(Schema.String),
  durationMillis: Schema.Number
})
export type AlertOutcome = typeof AlertOutcome.Type

/** An alert: `send` never fails and finishes within the alert's own time bound. */
export interface Alert {
  /** Safe to log: it never contains credentials. */
  readonly name: string
  readonly send: (summary: AlertSummary) => Effect.Effect<AlertOutcome>
}
