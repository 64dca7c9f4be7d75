/**
 * Runs an asset's checks on a staged value, in order, and reports each result as it comes. A
 * check that throws or fails is a failed check with the error as its message, never a crash.
 */

import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { CheckInput, CheckResult, ExecutableCheck } from "./Check.ts"

/** One evaluated check. */
export interface EvaluatedCheck {
  readonly check: ExecutableCheck
  readonly result: CheckResult
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Evaluates every check; `report` sees each result before the next check runs. */
export const runChecks = (
  checks: ReadonlyArray<ExecutableCheck>,
  input: CheckInput,
  report: (evaluated: EvaluatedCheck) => void
): Effect.Effect<ReadonlyArray<EvaluatedCheck>> =>
  Effect.forEach(checks, (check) =>
    Effect.map(Effect.exit(Effect.suspend(() => check.run(input))), (exit) => {
      const result: CheckResult = Exit.isSuccess(exit)
        ? exit.value
        : {
            passed: false,
            message: `the check threw: ${describe(Cause.squash(exit.cause))}`,
            metadata: { error: describe(Cause.squash(exit.cause)) }
          }
      const evaluated = { check, result }
      report(evaluated)
      return evaluated
    })
  )

/** The first failed check that blocks (blocking, severity error), if any. */
export const blockingFailure = (evaluated: ReadonlyArray<EvaluatedCheck>): EvaluatedCheck | undefined =>
  evaluated.find((e) => !e.result.passed && e.check.spec.blocking && e.check.spec.severity === "error")
