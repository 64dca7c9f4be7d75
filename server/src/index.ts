/**
 * @materia/server: the control plane. Today: the `materia` CLI (`runCli` for embedding and tests).
 */
export { commands, runCli } from "./cli/Cli.ts"
export { ExitCode, UsageError } from "./cli/CliError.ts"
export type { Command, CommandContext } from "./cli/Command.ts"
export { makeOutput, type Output } from "./cli/Output.ts"
