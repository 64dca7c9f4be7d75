/**
 * @materia/server: the control plane. Today: the `materia` CLI (`runCli` for embedding and tests).
 */
export { commands, runCli } from "./cli/Cli.ts"
export { ExitCode, UsageError } from "./cli/CliError.ts"
export type { Command, CommandContext } from "./cli/Command.ts"
export { makeOutput, type Output } from "./cli/Output.ts"
export { queueExecutor } from "./queue/QueueRunner.ts"
export {
  EXECUTORS,
  type ExecutorChoice,
  type ExecutorOptions,
  type OpenedExecutor,
  openExecutor,
  parseExecutor
} from "./worker/Executors.ts"
export { processesExecutor } from "./worker/ProcessRunner.ts"
