/**
 * `materia workers [--json]`: the live queue workers (pools, concurrency, what each runs) and the
 * dead-letter jobs of every pool's queue.
 */
import { DEFAULT_REDIS_URL, REDIS_URL_ENV } from "../../queue/QueueConnection.ts"
import { listWorkers } from "../../queue/Workers.ts"
import { ExitCode } from "../CliError.ts"
import { type Command, parseOptions } from "../Command.ts"

export const workersCommand: Command = {
  name: "workers",
  usage: `materia workers [--redis URL] [--prefix P] [--json]

  --redis URL   Redis of the queues (default: ${REDIS_URL_ENV}, else ${DEFAULT_REDIS_URL})
  --prefix P    key prefix in Redis (default materia)
  --json        print { workers, deadLetters } as JSON`,
  run: async (args, context) => {
    const { values } = parseOptions("workers", args, {
      redis: { type: "string" },
      prefix: { type: "string" },
      json: { type: "boolean" }
    })
    const listing = await listWorkers(
      values.redis ?? process.env[REDIS_URL_ENV] ?? DEFAULT_REDIS_URL,
      values.prefix
    )
    const out = context.output.out
    if (values.json) {
      out(JSON.stringify(listing, null, 2))
      return ExitCode.Ok
    }
    if (listing.workers.length === 0) out("No live worker.")
    else {
      out("Live workers:")
      for (const w of listing.workers) {
        out(
          `  ${w.id}  pools ${w.pools.join(",")}  concurrency ${w.concurrency}  project ${w.project} @ ${w.codeVersion}${w.stopping === true ? "  (stopping)" : ""}`
        )
        for (const step of w.running) out(`    running ${step}`)
      }
    }
    if (listing.deadLetters.length > 0) {
      out("Dead-letter jobs:")
      for (const d of listing.deadLetters)
        out(`  [${d.pool}] ${d.name} (${new Date(d.at).toISOString()}): ${d.reason}`)
    }
    return ExitCode.Ok
  }
}
