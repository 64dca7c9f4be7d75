/**
 * The `materia` command line: dispatches to the commands and maps every error to a message and an
 * exit code (0 success or nothing to do, 1 a step failed, 2 bad usage or bad definitions, 130
 * canceled). `runCli` does no process-level IO itself, so tests call it in process.
 */
import { ExitCode, UsageError } from "./CliError.ts"
import type { Command, CommandContext } from "./Command.ts"
import { assetsCommand } from "./commands/AssetsCommand.ts"
import { backfillCommand } from "./commands/BackfillCommand.ts"
import { checkCommand } from "./commands/CheckCommand.ts"
import { daemonCommand } from "./commands/DaemonCommand.ts"
import { devCommand } from "./commands/DevCommand.ts"
import { gcCommand } from "./commands/GcCommand.ts"
import { materializeCommand } from "./commands/MaterializeCommand.ts"
import { partitionsCommand } from "./commands/PartitionsCommand.ts"
import { planCommand } from "./commands/PlanCommand.ts"
import { queryCommand } from "./commands/QueryCommand.ts"
import { runsCommand } from "./commands/RunsCommand.ts"
import { schedulesCommand } from "./commands/SchedulesCommand.ts"
import { sensorsCommand } from "./commands/SensorsCommand.ts"
import { wipeCommand } from "./commands/WipeCommand.ts"
import { workerCommand } from "./commands/WorkerCommand.ts"
import { workersCommand } from "./commands/WorkersCommand.ts"

export const commands: ReadonlyArray<Command> = [
  planCommand,
  materializeCommand,
  backfillCommand,
  partitionsCommand,
  assetsCommand,
  checkCommand,
  runsCommand,
  wipeCommand,
  gcCommand,
  queryCommand,
  devCommand,
  daemonCommand,
  schedulesCommand,
  sensorsCommand,
  workerCommand,
  workersCommand
]

const help = (): string =>
  [
    "materia — a data-aware, asset-centric orchestrator",
    "",
    "Usage: materia <command> [options]   (materia <command> --help for its options)",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`),
    "",
    "The project is the default export of the nearest materia.config.ts (or --project FILE)."
  ].join("\n")

/** Errors that are the user's input or definitions rather than a run's failure. */
const USAGE_TAGS = new Set([
  "UsageError",
  "PartitionRequestError",
  "BackfillError",
  "InvalidCron",
  "ScheduleDefinitionError",
  "RetentionPolicyError",
  "InvalidPartitionMapping",
  "InvalidPartitionKey",
  "NotAGitRepository",
  "UnknownGitRef",
  "NoMergeBase",
  "SelectionError",
  "StaleUpstream",
  "ConfigError",
  "InvalidAssetKey",
  "DuplicateAssetKey",
  "UnknownDependency",
  "DependencyCycle"
])

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && typeof (error as { _tag?: unknown })._tag === "string"
    ? (error as { _tag: string })._tag
    : undefined

/** Runs one command line; resolves to its exit code. */
export const runCli = async (argv: ReadonlyArray<string>, context: CommandContext): Promise<ExitCode> => {
  const [name, ...args] = argv
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    context.output.out(help())
    return name === undefined ? ExitCode.Usage : ExitCode.Ok
  }
  const command = commands.find((c) => c.name === name)
  try {
    if (command === undefined)
      throw new UsageError({
        message: `unknown command "${name}"; commands: ${commands.map((c) => c.name).join(", ")}`
      })
    if (args.includes("--help") || args.includes("-h")) {
      context.output.out(command.usage)
      return ExitCode.Ok
    }
    return await command.run(args, context)
  } catch (error) {
    const tag = tagOf(error)
    const message = error instanceof Error ? error.message : String(error)
    context.output.err(`error: ${message}`)
    if (tag !== undefined && USAGE_TAGS.has(tag)) return ExitCode.Usage
    if (tag === undefined && error instanceof Error && error.stack !== undefined)
      context.output.err(error.stack)
    return ExitCode.Failed
  }
}
