/**
 * The `materia` command line: dispatches to the commands and maps every error to a message and an
 * exit code (0 success or nothing to do, 1 a step failed, 2 bad usage or bad definitions, 130
 * canceled). `runCli` does no process-level IO itself, so tests call it in process.
 */
import { ExitCode, UsageError } from "./CliError.ts"
import type { Command, CommandContext } from "./Command.ts"

/**
 * The commands, each loaded only when it runs: `materia plan` never loads the HTTP server, BullMQ or
 * DuckDB, and `materia --help` loads none of them.
 */
export interface CommandEntry {
  readonly name: string
  /** One line for `materia --help`. */
  readonly summary: string
  readonly load: () => Promise<Command>
}

export const commands: ReadonlyArray<CommandEntry> = [
  {
    name: "plan",
    summary: "show what is stale and why, without running anything",
    load: async () => (await import("./commands/PlanCommand.ts")).planCommand
  },
  {
    name: "materialize",
    summary: "run what is stale in a selection, with live progress",
    load: async () => (await import("./commands/MaterializeCommand.ts")).materializeCommand
  },
  {
    name: "backfill",
    summary: "materialize partitions as a recorded, resumable backfill (CI: reports, exit codes)",
    load: async () => (await import("./commands/BackfillCommand.ts")).backfillCommand
  },
  {
    name: "partitions",
    summary: "show an asset's partitions (paged), or list/add/delete dynamic partition keys",
    load: async () => (await import("./commands/PartitionsCommand.ts")).partitionsCommand
  },
  {
    name: "assets",
    summary: "list assets with their status, last materialization and data version",
    load: async () => (await import("./commands/AssetsCommand.ts")).assetsCommand
  },
  {
    name: "check",
    summary: "run the checks of selected assets on their current values",
    load: async () => (await import("./commands/CheckCommand.ts")).checkCommand
  },
  {
    name: "runs",
    summary: "list runs, or show one run's steps, errors and logs (runs show <id>)",
    load: async () => (await import("./commands/RunsCommand.ts")).runsCommand
  },
  {
    name: "wipe",
    summary: "forget the materializations of selected assets (they become missing)",
    load: async () => (await import("./commands/WipeCommand.ts")).wipeCommand
  },
  {
    name: "gc",
    summary: "delete old runs and superseded values (retention), never a current value",
    load: async () => (await import("./commands/GcCommand.ts")).gcCommand
  },
  {
    name: "query",
    summary: "run a read-only SQL query over the materialized table assets (DuckDB)",
    load: async () => (await import("./commands/QueryCommand.ts")).queryCommand
  },
  {
    name: "dev",
    summary:
      "serve the HTTP API and the web UI, and run the daemon; reloads the project's code when it changes",
    load: async () => (await import("./commands/DevCommand.ts")).devCommand
  },
  {
    name: "daemon",
    summary: "run schedules and sensors: tick, queue and launch their runs (Ctrl-C stops)",
    load: async () => (await import("./commands/DaemonCommand.ts")).daemonCommand
  },
  {
    name: "schedules",
    summary: "list, start, stop and preview schedules; their tick history",
    load: async () => (await import("./commands/SchedulesCommand.ts")).schedulesCommand
  },
  {
    name: "sensors",
    summary: "list, start, stop and tick sensors; their tick history",
    load: async () => (await import("./commands/SensorsCommand.ts")).sensorsCommand
  },
  {
    name: "worker",
    summary: "run steps of the queue executor for one or more pools",
    load: async () => (await import("./commands/WorkerCommand.ts")).workerCommand
  },
  {
    name: "workers",
    summary: "list live queue workers, their pools and steps, and dead-letter jobs",
    load: async () => (await import("./commands/WorkersCommand.ts")).workersCommand
  }
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
      context.output.out((await command.load()).usage)
      return ExitCode.Ok
    }
    return await (await command.load()).run(args, context)
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
