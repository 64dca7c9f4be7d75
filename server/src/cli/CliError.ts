/**
 * Errors the CLI reports itself, each with the exit code it maps to: 2 for bad usage or bad
 * definitions (the message says what to type instead), 1 for a failed run, 130 for a cancel.
 */
import * as Data from "effect/Data"

export const ExitCode = { Ok: 0, Failed: 1, Usage: 2, Canceled: 130 } as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** Bad usage: an unknown option, a missing argument, a project that does not load. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
