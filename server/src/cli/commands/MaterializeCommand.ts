/**
 * `materia materialize --select S [--partitions P] [--force] [--concurrency N] [--from-failure RUN | --from-run RUN]`:
 * runs what is stale with live progress. Exit 0 on success or nothing to do, 1 when a step
 * failed, 130 when canceled (Ctrl-C).
 */
import { materializeEffect, type RunResult, reexecuteEffect } from "@materia/assets"
import { consoleReporter } from "@materia/core"
import * as Effect from "effect/Effect"
import { openExecutor, parseExecutor } from "../../worker/Executors.ts"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { json } from "../Output.ts"
import { nothingChanged, openProject, run } from "./Shared.ts"

/** `--config '{"asset": {...}}'`: a JSON object of run configuration by asset key. */
const parseConfig = (text: string | undefined): Readonly<Record<string, unknown>> | undefined => {
  if (text === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new UsageError({
      message: `materia materialize: --config must be JSON, e.g. '{"train": {"epochs": 3}}'; ${error instanceof Error ? error.message : String(error)}`
    })
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new UsageError({
      message: `materia materialize: --config must be a JSON object of run configuration by asset key, found ${Array.isArray(parsed) ? "an array" : typeof parsed}`
    })
  return parsed as Record<string, unknown>
}

export const materializeCommand: Command = {
  name: "materialize",
  usage: `materia materialize --select S [options]

  --select S          the targets (selection syntax); stale upstream runs too
  --partitions P      partitions of the partitioned targets: KEY, FROM...TO, A,B, *, or per
                      dimension DIM=SEL;DIM=SEL (default: every partition); for many
                      partitions from CI, prefer \`materia backfill\`
  --force             run the targets even when fresh
  --config JSON       run configuration by asset key, e.g. '{"train": {"epochs": 3}}' (checked
                      against each asset's config schema before anything runs)
  --concurrency N     steps running at once (default: the project's, 8)
  --executor E        where steps run: in-process (default), processes (a child-process pool per
                      pool), queue (BullMQ workers started with \`materia worker\`; Redis from
                      --redis or MATERIA_REDIS_URL, default redis://127.0.0.1:6379)
  --redis URL         the Redis of the queue executor
  --from-failure RUN  run again only the failed, skipped and canceled steps of run RUN
  --from-run RUN      run again the steps of run RUN that --select picks (all without --select)
  --run-id ID         the new run's id (default: its start time and a random suffix); the
                      daemon chooses it so that any daemon can follow the run
  --json              print the result as JSON instead of live progress
  --project FILE      the project module (default: the nearest materia.config.ts)

Exit codes: 0 success or nothing to do, 1 a step failed, 2 bad usage, 130 canceled.`,
  run: async (args, context) => {
    const { values } = parseOptions("materialize", args, {
      select: { type: "string" },
      partitions: { type: "string" },
      config: { type: "string" },
      force: { type: "boolean" },
      concurrency: { type: "string" },
      executor: { type: "string" },
      redis: { type: "string" },
      "from-failure": { type: "string" },
      "from-run": { type: "string" },
      "run-id": { type: "string" },
      json: { type: "boolean" },
      project: { type: "string" }
    })
    const fromFailure = values["from-failure"]
    const fromRun = values["from-run"]
    if (fromFailure !== undefined && fromRun !== undefined)
      throw new UsageError({ message: "materia materialize: give --from-failure or --from-run, not both" })
    if (fromFailure !== undefined && values.select !== undefined)
      throw new UsageError({
        message:
          "materia materialize: --from-failure runs the failed steps of a run; use --from-run RUN --select S to choose steps"
      })
    if (values.select === undefined && fromFailure === undefined && fromRun === undefined)
      throw new UsageError({
        message: "materia materialize: --select S is required (e.g. --select '+model', or '*')"
      })
    const concurrency = positiveInt("materialize", "concurrency", values.concurrency)
    const config = parseConfig(values.config)
    const opened = await openProject(values.project, context, values.select)
    const { project, store, root } = opened
    const choice = parseExecutor(values.executor ?? "in-process")
    if (
      !values.json &&
      fromFailure === undefined &&
      fromRun === undefined &&
      nothingChanged(opened, context.output.out)
    )
      return ExitCode.Ok
    const executor = await openExecutor(choice, {
      project,
      projectFile: opened.file,
      root,
      redisUrl: values.redis,
      env: process.env
    })
    const reporter = values.json ? undefined : consoleReporter({ stream: context.output.stdout })
    const common = {
      ...(executor.runner === undefined ? {} : { stepRunner: executor.runner }),
      ...(config === undefined ? {} : { config }),
      storage: store,
      root,
      signal: context.signal,
      raiseOnError: false,
      // The reporter shows what bodies print; --json output stays clean.
      output: "capture",
      concurrency,
      ...(values["run-id"] === undefined ? {} : { runId: values["run-id"] }),
      onEvent: reporter === undefined ? [] : [reporter.listener]
    } as const
    let result: RunResult
    try {
      result = await run(
        fromFailure !== undefined || fromRun !== undefined
          ? reexecuteEffect(project, { ...common, fromFailure, fromRun, selection: values.select })
          : materializeEffect(project, [values.select!] as ReadonlyArray<string>, {
              ...common,
              force: values.force,
              partitions: values.partitions
            }).pipe(Effect.map((r) => r as RunResult))
      )
    } finally {
      reporter?.close()
      await executor.close()
    }
    if (values.json)
      context.output.out(
        json({
          runId: result.runId,
          status: result.status,
          durationMillis: result.durationMillis,
          steps: result.steps.map((s) => ({
            key: s.key,
            ...(s.partition === undefined ? {} : { partition: s.partition }),
            status: s.status,
            attempts: s.attempts,
            durationMillis: s.durationMillis,
            error:
              s.error instanceof Error
                ? s.error.message
                : s.error === undefined
                  ? undefined
                  : String(s.error),
            skipReason: s.skipReason
          }))
        })
      )
    else if (result.steps.length === 0) context.output.out("Nothing to materialize: the selection is fresh.")
    return result.status === "succeeded"
      ? ExitCode.Ok
      : result.status === "canceled"
        ? ExitCode.Canceled
        : ExitCode.Failed
  }
}
