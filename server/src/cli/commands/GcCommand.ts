/**
 * `materia gc [--keep-runs D] [--keep-values N] [--dry-run] [--json]`: deletes ended runs older than
 * D (events, logs) and values beyond the newest N of each asset and partition; the current value of
 * every asset and partition, and running runs, are never deleted. Defaults come from the project's
 * `retention` option.
 */
import { gc, type RetentionPolicy } from "@materia/assets"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { json, table, timestamp } from "../Output.ts"
import { openProject, run } from "./Shared.ts"

export const gcCommand: Command = {
  name: "gc",
  usage: `materia gc [--keep-runs DURATION] [--keep-values N] [--dry-run] [--json] [--project FILE]

  --keep-runs D    delete ended runs older than D ("30 days", "12 hours"), with their events and logs
  --keep-values N  keep the newest N values of each asset and partition (the current one included)
  --dry-run        print what would be deleted, delete nothing
  --json           print as JSON
  --project FILE   the project module (default: the nearest materia.config.ts)

Defaults: the project's defineProject({ retention: { runs, values } }). The current value of every
asset and partition and every running run are kept; a value of a deleted run goes with it unless it
is current. The daemon runs the same policy every hour.`,
  run: async (args, context) => {
    const { values } = parseOptions("gc", args, {
      "keep-runs": { type: "string" },
      "keep-values": { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      project: { type: "string" }
    })
    const { project, store } = await openProject(values.project, context)
    const keepValues = positiveInt("gc", "keep-values", values["keep-values"])
    const policy: RetentionPolicy = {
      runs: values["keep-runs"] ?? project.retention?.runs,
      values: keepValues ?? project.retention?.values
    }
    if (policy.runs === undefined && policy.values === undefined)
      throw new UsageError({
        message:
          "materia gc: no retention policy; pass --keep-runs '30 days' and/or --keep-values 5, or set defineProject({ retention })"
      })
    const result = await run(gc(project, store, policy, { dryRun: values["dry-run"] }))
    const out = context.output.out
    if (values.json) {
      out(json(result))
      return result.failures.length > 0 ? ExitCode.Failed : ExitCode.Ok
    }
    const verb = result.dryRun ? "Would delete" : "Deleted"
    out(`${verb} ${result.runs.length} run(s) and ${result.values.length} value(s).`)
    if (result.values.length > 0)
      for (const line of table(
        ["ASSET", "PARTITION", "RUN", "MATERIALIZED", "WHY"],
        result.values.map((v) => [v.key, v.partition ?? "-", v.runId, timestamp(v.at), v.why])
      ))
        out(`  ${line}`)
    for (const f of result.failures) out(`  could not delete ${f.value.handle.location}: ${f.error}`)
    return result.failures.length > 0 ? ExitCode.Failed : ExitCode.Ok
  }
}
