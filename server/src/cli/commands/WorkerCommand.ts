/**
 * `materia worker --pool P [--pool Q] [--concurrency N]`: a queue worker serving the given pools of
 * the project (see QueueWorker). Runs until SIGTERM or SIGINT, then finishes the steps it runs and
 * exits 0.
 */
import { parseArgs } from "node:util"
import { DEFAULT_REDIS_URL, REDIS_URL_ENV, redactRedisUrl } from "../../queue/QueueConnection.ts"
import { startQueueWorker } from "../../queue/QueueWorker.ts"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, positiveInt } from "../Command.ts"
import { findConfig, loadProject } from "../ProjectLoader.ts"

export const workerCommand: Command = {
  name: "worker",
  usage: `materia worker --pool P [--pool Q ...] [--concurrency N] [--redis URL] [--project FILE]

  --pool P              a pool (compute class) this worker serves; repeat for several
  --concurrency N       steps run at once per pool, each in its own child process (default 1)
  --redis URL           Redis of the queues (default: ${REDIS_URL_ENV}, else ${DEFAULT_REDIS_URL})
  --prefix P            key prefix in Redis (default materia)
  --lock-duration MS    a step's lease; a worker silent that long loses it (default 30000)
  --stalled-interval MS how often lost leases are looked for (default 30000)
  --project FILE        the project module (default: the nearest materia.config.ts)

Stops on SIGTERM or SIGINT after finishing the steps it runs.`,
  run: async (args, context) => {
    let values: Record<string, string | boolean | Array<string> | undefined>
    try {
      values = parseArgs({
        args: [...args],
        strict: true,
        options: {
          pool: { type: "string", multiple: true },
          concurrency: { type: "string" },
          redis: { type: "string" },
          prefix: { type: "string" },
          "lock-duration": { type: "string" },
          "stalled-interval": { type: "string" },
          project: { type: "string" }
        }
      }).values
    } catch (error) {
      throw new UsageError({
        message: `materia worker: ${error instanceof Error ? error.message : String(error)}; see materia worker --help`
      })
    }
    const pools = (values.pool as Array<string> | undefined) ?? []
    if (pools.length === 0)
      throw new UsageError({ message: "materia worker: give at least one --pool (e.g. --pool cpu)" })
    const { file, root } = await loadProject(findConfig(values.project as string | undefined, context.cwd))
    const redisUrl = (values.redis as string | undefined) ?? process.env[REDIS_URL_ENV] ?? DEFAULT_REDIS_URL
    const worker = await startQueueWorker({
      projectFile: file,
      root,
      redisUrl,
      prefix: values.prefix as string | undefined,
      pools,
      concurrency: positiveInt("worker", "concurrency", values.concurrency as string | undefined),
      lockDurationMillis: positiveInt(
        "worker",
        "lock-duration",
        values["lock-duration"] as string | undefined
      ),
      stalledIntervalMillis: positiveInt(
        "worker",
        "stalled-interval",
        values["stalled-interval"] as string | undefined
      ),
      log: (line) => context.output.out(line)
    })
    context.output.out(
      `worker ${worker.id} serving ${pools.join(", ")} (code version ${worker.codeVersion}) on ${redactRedisUrl(redisUrl)}`
    )
    await new Promise<void>((resolve) => {
      if (context.signal.aborted) return resolve()
      context.signal.addEventListener("abort", () => resolve(), { once: true })
      process.once("SIGTERM", () => resolve())
    })
    context.output.out(`worker ${worker.id} stopping: finishing the steps it runs`)
    await worker.close()
    context.output.out(`worker ${worker.id} stopped`)
    return ExitCode.Ok
  }
}
