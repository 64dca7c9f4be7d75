/**
 * The executor seam: a `StepRunner` runs ONE attempt of one step somewhere else (a child process, a
 * queue worker on another machine) — load inputs through the IO managers, run the body, validate,
 * store the output, run the checks — while the driver keeps the execution state, retries, timeouts,
 * events and the commit. Requests, results and errors are plain data so they cross a pipe or a queue.
 */
import type * as Effect from "effect/Effect"
import { CheckFailed } from "../check/Check.ts"
import type { RunEvent } from "../events/RunEvent.ts"
import type { JsonValue } from "../graph/AssetSpec.ts"
import { IOManagerError, type ValueHandle } from "../io/IOManager.ts"
import type { PartitionOptions } from "../partition/PartitionsDefinition.ts"
import type { PlanStep } from "../plan/Planner.ts"
import type { StoredAssetState } from "../storage/Storage.ts"
import { OutputValidationError, StepTimeout, UserCodeError } from "./StepErrors.ts"

/** One attempt of one step, as plain data: everything a process holding the project needs to run it. */
export interface StepAttempt {
  readonly runId: string
  readonly project: string
  /** 1-based; part of the attempt-scoped location the value is written to. */
  readonly attempt: number
  /** The plan step (its `upstream` is irrelevant elsewhere and sent empty). */
  readonly step: PlanStep
  /** Stored state of the step's asset and of its parents, with the values made earlier in this run. */
  readonly states: ReadonlyArray<readonly [string, StoredAssetState]>
  /** The same for the partitions the step reads and makes (asset key → partition → state). */
  readonly partitionStates?:
    | ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, StoredAssetState]>]>
    | undefined
  /** The partition universe's options (its `now` and dynamic keys) when the step is partitioned. */
  readonly partitionOptions?: PartitionOptions | undefined
  /** The step's decoded run configuration. */
  readonly config?: unknown
}

/** How an attempt ended well: its value stored (and checked), or the body's decision to skip. */
export type StepAttemptResult =
  | {
      readonly _tag: "Stored"
      readonly handle: ValueHandle | null
      readonly dataVersion: string
      readonly metadata: Readonly<Record<string, JsonValue>>
    }
  | { readonly _tag: "Skipped"; readonly reason: string }

/**
 * Runs attempts elsewhere. `emit` receives the attempt's live events (step logs, check results);
 * interrupting the returned Effect (a timeout, a cancel) must stop the attempt where it runs.
 * It fails with the attempt's typed error (`decodeStepError` of what the remote side encoded).
 */
export interface StepRunner {
  readonly run: (
    attempt: StepAttempt,
    emit: (event: RunEvent) => void
  ) => Effect.Effect<StepAttemptResult, unknown>
}

/** A step error as plain data. */
export interface StepErrorData {
  readonly _tag: string
  readonly message: string
  readonly assetKey?: string | undefined
  readonly stack?: string | undefined
  readonly retryable?: boolean | undefined
  readonly name?: string | undefined
  readonly fields?: Readonly<Record<string, JsonValue>> | undefined
}

const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)

/** The plain-data form of an attempt's error. */
export const encodeStepError = (error: unknown): StepErrorData => {
  if (error instanceof UserCodeError) {
    const cause = error.cause
    const retryable =
      typeof cause === "object" && cause !== null && (cause as { retryable?: unknown }).retryable === false
        ? false
        : undefined
    return {
      _tag: "UserCodeError",
      assetKey: error.assetKey,
      message: cause instanceof Error ? cause.message : String(cause),
      stack: error.userStack,
      name: cause instanceof Error ? cause.name : undefined,
      retryable
    }
  }
  if (error instanceof StepTimeout)
    return {
      _tag: "StepTimeout",
      message: error.message,
      fields: { timeoutMillis: error.timeoutMillis },
      assetKey: error.assetKey
    }
  if (error instanceof OutputValidationError)
    return {
      _tag: "OutputValidationError",
      message: error.message,
      assetKey: error.assetKey,
      fields: { expected: error.expected, issues: error.issues }
    }
  if (error instanceof CheckFailed)
    return {
      _tag: "CheckFailed",
      message: error.message,
      assetKey: error.assetKey,
      fields: {
        check: error.check,
        reason: error.reason,
        ...(error.stagedLocation === undefined ? {} : { stagedLocation: error.stagedLocation })
      }
    }
  if (error instanceof IOManagerError)
    return {
      _tag: "IOManagerError",
      message: error.message,
      assetKey: error.assetKey,
      fields: {
        ioManager: error.ioManager,
        operation: error.operation,
        reason: error.reason,
        ...(error.location === undefined ? {} : { location: error.location })
      }
    }
  const tag =
    typeof error === "object" && error !== null && typeof (error as { _tag?: unknown })._tag === "string"
      ? (error as { _tag: string })._tag
      : error instanceof Error
        ? error.name
        : "Error"
  const retryable =
    typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === false
      ? false
      : undefined
  return {
    _tag: tag,
    message: error instanceof Error ? error.message : String(error),
    stack: error instanceof Error ? error.stack : undefined,
    retryable
  }
}

/** An error another process reported, as itself. */
export class RemoteError extends Error {
  readonly _tag: string
  readonly retryable: boolean
  constructor(data: StepErrorData) {
    super(data.message)
    this._tag = data._tag
    this.name = data.name ?? data._tag
    this.retryable = data.retryable !== false
    if (data.stack !== undefined) this.stack = data.stack
  }
}

/** The typed error an encoded one stands for (tags the executor knows), else a `RemoteError`. */
export const decodeStepError = (data: StepErrorData): unknown => {
  const f = data.fields ?? {}
  const key = data.assetKey ?? ""
  switch (data._tag) {
    case "UserCodeError": {
      const cause = new RemoteError({ ...data, _tag: data.name ?? "Error" })
      return new UserCodeError({ assetKey: key, cause })
    }
    case "StepTimeout":
      return new StepTimeout({ assetKey: key, timeoutMillis: Number(f.timeoutMillis) })
    case "OutputValidationError":
      return new OutputValidationError({
        assetKey: key,
        expected: str(f.expected) ?? "",
        issues: str(f.issues) ?? ""
      })
    case "CheckFailed":
      return new CheckFailed({
        assetKey: key,
        check: str(f.check) ?? "",
        reason: str(f.reason) ?? "",
        stagedLocation: str(f.stagedLocation)
      })
    case "IOManagerError": {
      const operation = str(f.operation)
      return new IOManagerError({
        ioManager: str(f.ioManager) ?? "",
        assetKey: key,
        operation: operation === "write" || operation === "delete" ? operation : "load",
        reason: str(f.reason) ?? data.message,
        ...(str(f.location) === undefined ? {} : { location: str(f.location) })
      })
    }
    default:
      return new RemoteError(data)
  }
}
