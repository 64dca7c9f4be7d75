/**
 * Choosing an executor for a run: `in-process` (the default: Effect fibers in the driving process),
 * `processes` (a pool of child processes per compute pool on this machine) or `queue` (BullMQ jobs
 * run by `materia worker` processes on any machine). The result's `runner` goes to
 * `materialize(..., { stepRunner })` (absent for in-process); close it when the driver is done.
 */
import type { AnyProject } from "@materia/assets"
import type { StepRunner } from "@materia/core"
import { UsageError } from "../cli/CliError.ts"
import { DEFAULT_REDIS_URL, REDIS_URL_ENV } from "../queue/QueueConnection.ts"
import { queueExecutor } from "../queue/QueueRunner.ts"
import { processesExecutor } from "./ProcessRunner.ts"

export const EXECUTORS = ["in-process", "processes", "queue"] as const
export type ExecutorChoice = (typeof EXECUTORS)[number]

export interface OpenedExecutor {
  readonly runner: StepRunner | undefined
  readonly close: () => Promise<void>
}

export interface ExecutorOptions {
  readonly project: AnyProject
  /** The module the project is loaded from (materia.config.ts): other processes load it too. */
  readonly projectFile: string
  readonly root: string
  /** Redis of the queue executor (default: MATERIA_REDIS_URL from `env`, else redis://127.0.0.1:6379). */
  readonly redisUrl?: string | undefined
  readonly prefix?: string | undefined
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

/** Whether `value` names an executor; otherwise a usage error listing them. */
export const parseExecutor = (value: string): ExecutorChoice => {
  if ((EXECUTORS as ReadonlyArray<string>).includes(value)) return value as ExecutorChoice
  throw new UsageError({ message: `unknown executor "${value}"; choose one of ${EXECUTORS.join(", ")}` })
}

/** Opens the chosen executor (the queue one pings Redis first and fails naming the URL). */
export const openExecutor = async (
  choice: ExecutorChoice,
  options: ExecutorOptions
): Promise<OpenedExecutor> => {
  switch (choice) {
    case "in-process":
      return { runner: undefined, close: async () => {} }
    case "processes": {
      const runner = processesExecutor(options.project, options.projectFile, options.root)
      return { runner, close: runner.close }
    }
    case "queue": {
      const runner = await queueExecutor(options.project, {
        redisUrl: options.redisUrl ?? options.env?.[REDIS_URL_ENV] ?? DEFAULT_REDIS_URL,
        prefix: options.prefix
      })
      return { runner, close: runner.close }
    }
  }
}
