/**
 * `materia runs [--limit N] [--json]` lists runs, newest first; `materia runs show <id> [--json]`
 * shows one run: its steps with status, attempts and durations, errors with their stacks, and logs.
 */
import { foldRunEvents, formatDuration, stepLabel } from "@materia/core"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { json, table, timestamp } from "../Output.ts"
import { openProject, run } from "./Shared.ts"

export const runsCommand: Command = {
  name: "runs",
  usage: `materia runs [--limit N] [--json] [--project FILE]
materia runs show <run-id> [--json] [--project FILE]

  --limit N       at most N runs (default 20)
  --json          print as JSON
  --project FILE  the project module (default: the nearest materia.config.ts)`,
  run: async (args, context) => {
    const { values, positionals } = parseOptions(
      "runs",
      args,
      { limit: { type: "string" }, json: { type: "boolean" }, project: { type: "string" } },
      true
    )
    const out = context.output.out
    const { project, store } = await openProject(values.project, context)
    if (positionals.length === 0) {
      const runs = await run(
        store.storage.runs(project.name, { limit: positiveInt("runs", "limit", values.limit) ?? 20 })
      )
      if (values.json) out(json(runs))
      else if (runs.length === 0) out("No runs yet: materia materialize --select S starts one.")
      else
        for (const line of table(
          ["RUN", "STATUS", "STARTED", "DURATION"],
          runs.map((r) => [
            r.runId,
            r.status,
            timestamp(r.startedAt),
            r.endedAt === undefined ? "-" : formatDuration(r.endedAt - r.startedAt)
          ])
        ))
          out(line)
      return ExitCode.Ok
    }
    if (positionals[0] !== "show" || positionals.length !== 2)
      throw new UsageError({
        message: `materia runs: expected "runs" or "runs show <run-id>", found "runs ${positionals.join(" ")}"`
      })
    const runId = positionals[1]!
    const events = (await run(store.storage.events(runId))).map((e) => e.event)
    if (events.length === 0)
      throw new UsageError({
        message: `no run "${runId}" is recorded for project "${project.name}"; list runs with materia runs`
      })
    if (values.json) {
      out(json({ runId, events }))
      return ExitCode.Ok
    }
    const view = foldRunEvents(runId, events)
    const finished = events.find((e) => e._tag === "RunFinished")
    out(
      `run ${runId}: ${view.status}${view.durationMillis === undefined ? "" : ` in ${formatDuration(view.durationMillis)}`}`
    )
    if (finished?._tag === "RunFinished" && finished.reason !== undefined) out(`  ${finished.reason}`)
    const waiting = [...view.steps.values()].filter((s) => s.waiting !== undefined)
    if (waiting.length > 0)
      out(`  ${waiting.length} step${waiting.length === 1 ? "" : "s"} waiting: ${waiting[0]!.waiting}`)
    for (const line of table(
      ["STEP", "STATUS", "ATTEMPTS", "DURATION", "DETAIL"],
      [...view.steps.values()].map((s) => [
        stepLabel(s),
        s.waiting === undefined ? s.status : "waiting",
        String(s.attempts),
        s.durationMillis === undefined ? "-" : formatDuration(s.durationMillis),
        s.waiting ?? s.error?.message ?? s.skipReason ?? ""
      ])
    ))
      out(`  ${line}`)
    const errors = [...view.steps.values()].filter(
      (s) => s.status === "failed" && s.error?.stack !== undefined
    )
    for (const s of errors) {
      out("")
      out(`${stepLabel(s)} failed:`)
      for (const line of s.error!.stack!.split("\n")) out(`  ${line}`)
    }
    const logs = events.filter((e) => e._tag === "StepLog")
    if (logs.length > 0) {
      out("")
      out("logs:")
      for (const e of logs)
        if (e._tag === "StepLog") out(`  ${timestamp(e.at)} ${stepLabel(e)} ${e.level}: ${e.message}`)
    }
    return ExitCode.Ok
  }
}
