/**
 * Why a step fails. User code runs inside a boundary: whatever it throws, rejects or fails with
 * becomes a `UserCodeError` carrying the user's stack, never confused with a framework bug.
 */
import * as Data from "effect/Data"
import type { ErrorInfo } from "../events/RunEvent.ts"

/** The asset's body threw, rejected, or failed its Effect. */
export class UserCodeError extends Data.TaggedError("UserCodeError")<{
  readonly assetKey: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `asset "${this.assetKey}" failed: ${causeMessage(this.cause)}`
  }
  /** The user's stack when the cause is an Error. */
  get userStack(): string | undefined {
    return this.cause instanceof Error ? this.cause.stack : undefined
  }
}

/** The step ran longer than its `timeout`; it was interrupted and its signal aborted. */
export class StepTimeout extends Data.TaggedError("StepTimeout")<{
  readonly assetKey: string
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `asset "${this.assetKey}" timed out after ${this.timeoutMillis} ms; raise its timeout option or make it faster`
  }
}

/** The value a body returned does not match the asset's declared schema. */
export class OutputValidationError extends Data.TaggedError("OutputValidationError")<{
  readonly assetKey: string
  readonly expected: string
  readonly issues: string
}> {
  override get message(): string {
    return `asset "${this.assetKey}" returned a value that does not match its schema (expected ${this.expected}): ${this.issues}`
  }
}

/**
 * Throw (or fail an Effect with) this from a body to fail the step at once, without retries:
 * for errors that another attempt cannot fix (bad input data, a missing file).
 */
export class NonRetryableError extends Error {
  readonly retryable = false
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
    this.name = "NonRetryableError"
  }
}

const causeMessage = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "string") return cause
  try {
    return JSON.stringify(cause) ?? String(cause)
  } catch {
    return String(cause)
  }
}

/** Whether another attempt may succeed: false for validation failures and errors marked non-retryable. */
export const isRetryable = (error: unknown): boolean => {
  if (error instanceof OutputValidationError) return false
  const cause = error instanceof UserCodeError ? error.cause : error
  if (typeof cause === "object" && cause !== null && (cause as { retryable?: unknown }).retryable === false)
    return false
  return true
}

/** The recorded form of an error: tag, message, the user's stack. */
export const toErrorInfo = (error: unknown): ErrorInfo => {
  const tag =
    typeof error === "object" && error !== null && typeof (error as { _tag?: unknown })._tag === "string"
      ? (error as { _tag: string })._tag
      : error instanceof Error
        ? error.name
        : "Unknown"
  const message = error instanceof Error ? error.message : causeMessage(error)
  const stack =
    error instanceof UserCodeError ? error.userStack : error instanceof Error ? error.stack : undefined
  return stack === undefined
    ? { tag, message, retryable: isRetryable(error) }
    : { tag, message, stack, retryable: isRetryable(error) }
}
