/**
 * Asset checks: validations of a value, run on the staged value before its materialization
 * commits. A failed blocking check of severity `error` keeps the value from becoming current and
 * blocks everything downstream (a circuit breaker); other failures only warn. Built-in table
 * checks (not empty, no nulls, unique, ranges...) live in @materia/assets.
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { JsonValue } from "../graph/AssetSpec.ts"
import type { RecordBatchLike } from "../io/IOManager.ts"
import type { MaterializationRecord } from "../storage/Storage.ts"

/** The definition of a check, as data. */
export interface CheckSpec {
  readonly name: string
  readonly assetKey: string
  /** A failing blocking check of severity `error` keeps the value from being committed. */
  readonly blocking: boolean
  readonly severity: "warn" | "error"
  readonly description?: string | undefined
}

/** What a check found: pass or fail, with the observed values (e.g. `{ null_count: 17 }`). */
export interface CheckResult {
  readonly passed: boolean
  readonly message?: string | undefined
  readonly metadata?: Readonly<Record<string, JsonValue>> | undefined
}

/** What a check sees: the staged value, its record batches, and the asset's current record. */
export interface CheckInput {
  readonly assetKey: string
  /** The staged value (the body's output, or loaded from the staged location). */
  readonly value: Effect.Effect<unknown, unknown>
  /** The staged value as Arrow record batches (tables only): built-ins aggregate over them. */
  readonly batches: Stream.Stream<RecordBatchLike, unknown>
  /** The materialization that is current now (before this value commits), if any. */
  readonly previous: MaterializationRecord | undefined
  /** Metadata of the staged value (rows, bytes, schema...). */
  readonly metadata: Readonly<Record<string, JsonValue>>
}

/** A check ready to run. */
export interface ExecutableCheck {
  readonly spec: CheckSpec
  readonly run: (input: CheckInput) => Effect.Effect<CheckResult, unknown>
}

/** A blocking check failed: the value stayed staged; everything downstream is skipped. */
export class CheckFailed extends Data.TaggedError("CheckFailed")<{
  readonly assetKey: string
  readonly check: string
  readonly reason: string
  /** Where the rejected value was staged, kept for inspection until retention removes it. */
  readonly stagedLocation: string | undefined
}> {
  override get message(): string {
    const where = this.stagedLocation === undefined ? "" : ` (rejected value kept at ${this.stagedLocation})`
    return `check "${this.check}" on asset "${this.assetKey}" failed: ${this.reason}${where}`
  }
  readonly retryable = false
}
