/**
 * What every CLI command receives and returns: its arguments, where it prints, the working
 * directory and a cancel signal; it resolves to an exit code.
 */
import { parseArgs } from "node:util"
import type { ExitCode } from "./CliError.ts"
import { UsageError } from "./CliError.ts"
import type { Output } from "./Output.ts"

export interface CommandContext {
  readonly cwd: string
  readonly output: Output
  /** Aborted on SIGINT: a run in progress is canceled. */
  readonly signal: AbortSignal
}

export interface Command {
  readonly name: string
  readonly usage: string
  readonly run: (args: ReadonlyArray<string>, context: CommandContext) => Promise<ExitCode>
}

/** One option: a string value or a flag. */
export interface OptionSpec {
  readonly type: "string" | "boolean"
  readonly short?: string
}

/** Parsed options: each string option a string, each flag a boolean, when given. */
export interface Parsed<O extends Readonly<Record<string, OptionSpec>>> {
  readonly values: { readonly [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string }
  readonly positionals: ReadonlyArray<string>
}

/** Parses options strictly: an unknown option or a missing value is a usage error naming it. */
export const parseOptions = <const O extends Readonly<Record<string, OptionSpec>>>(
  command: string,
  args: ReadonlyArray<string>,
  options: O,
  allowPositionals = false
): Parsed<O> => {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, strict: true, allowPositionals })
    return { values: values as Parsed<O>["values"], positionals }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new UsageError({ message: `materia ${command}: ${message}; see materia ${command} --help` })
  }
}

/** A positive integer option, or a usage error naming the option and what was found. */
export const positiveInt = (command: string, name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError({
      message: `materia ${command}: --${name} expects an integer ≥ 1, found "${value}"`
    })
  return n
}
