/**
 * `materia check [--select S] [--json]`: runs the checks of the selected assets on their current
 * values, without materializing anything, and records the results. Exit 1 when a check of severity
 * `error` fails.
 */
import { checkCurrent, ioManagersOf } from "@materia/assets"
import { ExitCode } from "../CliError.ts"
import { type Command, parseOptions } from "../Command.ts"
import { json, table } from "../Output.ts"
import { openProject, run } from "./Shared.ts"

export const checkCommand: Command = {
  name: "check",
  usage: `materia check [--select S] [--json] [--project FILE]

  --select S      the assets whose checks run (selection syntax; default *)
  --json          print the results as JSON
  --project FILE  the project module (default: the nearest materia.config.ts)

Exit codes: 0 every check passed (or only warnings failed), 1 a check of severity error failed.`,
  run: async (args, context) => {
    const { values } = parseOptions("check", args, {
      select: { type: "string" },
      json: { type: "boolean" },
      project: { type: "string" }
    })
    const selection = values.select ?? "*"
    const { project, store, selected } = await openProject(values.project, context, selection)
    const targets = selected!.selected
    const result = await run(checkCurrent(project, store, targets, ioManagersOf(project, store)))
    const failed = result.results.some((r) => !r.passed && r.severity === "error")
    const out = context.output.out
    if (values.json) out(json(result))
    else {
      if (result.results.length === 0)
        out("No checks ran: the selected assets have no checks, or no current value.")
      else
        for (const line of table(
          ["ASSET", "CHECK", "RESULT", "DETAIL"],
          result.results.map((r) => [
            r.assetKey,
            r.check,
            r.passed ? "passed" : r.severity === "warn" ? "warning" : "FAILED",
            [
              r.message ?? "",
              Object.entries(r.metadata)
                .filter(([, v]) => typeof v !== "object")
                .map(([k, v]) => `${k}=${String(v)}`)
                .join(" ")
            ]
              .filter((x) => x !== "")
              .join(" · ")
          ])
        ))
          out(line)
      if (result.missing.length > 0) out(`Not checked (no current value): ${result.missing.join(", ")}`)
      out(`Recorded as run ${result.runId}.`)
    }
    return failed ? ExitCode.Failed : ExitCode.Ok
  }
}
