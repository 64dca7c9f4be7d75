/**
 * `materia plan [--select S] [--partitions P] [--force] [--json]`: what is stale and why, without
 * running anything.
 */

import { prepareRun } from "@materia/assets"
import { formatReason, stepLabel } from "@materia/core"
import { ExitCode } from "../CliError.ts"
import { type Command, parseOptions } from "../Command.ts"
import { json, table } from "../Output.ts"
import { nothingChanged, openProject, run } from "./Shared.ts"

export const planCommand: Command = {
  name: "plan",
  usage: `materia plan [--select S] [--partitions P] [--force] [--json] [--project FILE]

  --select S      the targets (selection syntax; default *): stale upstream is planned too
  --partitions P  partitions of the partitioned targets: KEY, FROM...TO, A,B, *, or per
                  dimension DIM=SEL;DIM=SEL (default: every partition)
  --force         plan the targets even when fresh
  --json          print the plan as JSON
  --project FILE  the project module (default: the nearest materia.config.ts)`,
  run: async (args, context) => {
    const { values } = parseOptions("plan", args, {
      select: { type: "string" },
      partitions: { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
      project: { type: "string" }
    })
    const opened = await openProject(values.project, context, values.select ?? "*")
    const { project, store } = opened
    const out = context.output.out
    if (!values.json && nothingChanged(opened, out)) return ExitCode.Ok
    const targets = opened.selected!.selected
    const { plan } = await run(
      prepareRun(project, store, targets, { force: values.force }, { partitions: values.partitions })
    )
    if (values.json) {
      out(
        json({
          project: project.name,
          targets: plan.targets,
          steps: plan.steps.map((s) => ({
            key: s.key,
            ...(s.partition === undefined ? {} : { partition: s.partition }),
            reasons: s.reasons.map(formatReason),
            conditional: s.conditional,
            pool: s.pool
          })),
          loaded: plan.loaded
        })
      )
      return ExitCode.Ok
    }
    if (plan.steps.length === 0) {
      out(`Nothing to do: all ${plan.targets.length} selected asset(s) and their upstream are fresh.`)
      return ExitCode.Ok
    }
    out(`${plan.steps.length} step(s) to run for ${plan.targets.length} selected asset(s):`)
    for (const line of table(
      ["ASSET", "WHY"],
      plan.steps.map((s) => [stepLabel(s), s.reasons.map(formatReason).join("; ")])
    ))
      out(`  ${line}`)
    if (plan.loaded.length > 0) out(`Loaded as stored: ${plan.loaded.join(", ")}`)
    return ExitCode.Ok
  }
}
