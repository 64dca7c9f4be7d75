/**
 * `materia assets [--json]`: every asset's status (fresh, stale, missing, failed, source), its last
 * materialization and data version.
 */
import { assetStatuses } from "@materia/assets"
import { ExitCode } from "../CliError.ts"
import { type Command, parseOptions } from "../Command.ts"
import { json, shortVersion, table, timestamp } from "../Output.ts"
import { openProject, run } from "./Shared.ts"

export const assetsCommand: Command = {
  name: "assets",
  usage: `materia assets [--json] [--project FILE]

  --json          print the list as JSON
  --project FILE  the project module (default: the nearest materia.config.ts)`,
  run: async (args, context) => {
    const { values } = parseOptions("assets", args, {
      json: { type: "boolean" },
      project: { type: "string" }
    })
    const { project, store } = await openProject(values.project, context)
    const rows = await run(assetStatuses(project, store))
    if (values.json) {
      context.output.out(json({ project: project.name, assets: rows }))
      return ExitCode.Ok
    }
    for (const line of table(
      ["ASSET", "STATUS", "GROUP", "MATERIALIZED", "DATA VERSION", "CHECKS", "WHY"],
      rows.map((r) => [
        r.key,
        `${r.freshness === "overdue" ? `${r.status}, overdue` : r.status}${r.partitions === undefined ? "" : ` (${r.partitions.materialized}/${r.partitions.total} partitions)`}`,
        r.group,
        timestamp(r.latest?.at),
        shortVersion(r.latest?.dataVersion),
        r.checks.length === 0
          ? "-"
          : r.checks.every((c) => c.passed)
            ? `${r.checks.length} passed`
            : `failed: ${r.checks
                .filter((c) => !c.passed)
                .map((c) => c.check)
                .join(", ")}`,
        r.reasons.join("; ")
      ])
    ))
      context.output.out(line)
    return ExitCode.Ok
  }
}
