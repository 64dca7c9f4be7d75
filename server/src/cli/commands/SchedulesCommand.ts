/**
 * `materia schedules list|start|stop|preview|history`: the project's schedules, their status and
 * next tick, starting and stopping them (the running daemon picks the change up at its next tick),
 * the next scheduled times with what each would launch, and the tick history.
 */
import { scheduleTick } from "@materia/assets"
import * as Effect from "effect/Effect"
import { type DaemonProject, findDefinition, openDaemonProject } from "../../daemon/DaemonProject.ts"
import type { TickRecord } from "../../daemon/DaemonStore.ts"
import { listSchedules } from "../../daemon/InstigatorListing.ts"
import { setStatus } from "../../daemon/TickEngine.ts"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { json, table, timestamp } from "../Output.ts"
import { run } from "./Shared.ts"

/** Tick history lines, shared with `materia sensors history`. */
export const tickLines = (ticks: ReadonlyArray<TickRecord>): Array<string> =>
  table(
    ["TICK", "EVALUATED", "STATUS", "RUNS", "DETAIL"],
    ticks.map((t) => [
      timestamp(t.tickAt),
      timestamp(t.evaluatedAt),
      t.status,
      String(t.runIds.length),
      t.error ?? t.skipReason ?? ""
    ])
  )

const withProject = async <A>(
  explicit: string | undefined,
  context: Parameters<Command["run"]>[1],
  f: (p: DaemonProject) => Promise<A>
): Promise<A> => {
  const p = await openDaemonProject(explicit, context)
  try {
    return await f(p)
  } finally {
    await Effect.runPromise(p.store.close())
  }
}

export const schedulesCommand: Command = {
  name: "schedules",
  usage: `materia schedules list [--json]
materia schedules start <name>
materia schedules stop <name>
materia schedules preview <name> [--count N] [--json]   the next N scheduled times and their runs
materia schedules history <name> [--limit N] [--json]   recorded ticks, newest first

  --project FILE  the project module (default: the nearest materia.config.ts)

Schedules are the config module's export \`schedules\` (schedule(name, { cron, select, ... })).`,
  run: async (args, context) => {
    const { values, positionals } = parseOptions(
      "schedules",
      args,
      {
        json: { type: "boolean" },
        count: { type: "string" },
        limit: { type: "string" },
        project: { type: "string" }
      },
      true
    )
    const out = context.output.out
    const [action = "list", name, ...extra] = positionals
    if (extra.length > 0)
      throw new UsageError({ message: `materia schedules: unexpected arguments ${extra.join(" ")}` })
    return withProject(values.project, context, async ({ definitions, store }) => {
      const now = Date.now()
      switch (action) {
        case "list": {
          const rows = (await run(listSchedules(definitions, store, now))).map((l) => ({
            name: l.definition.name,
            cron: l.definition.spec.cron,
            timezone: l.definition.spec.timezone,
            select: l.definition.spec.select,
            status: l.state.status,
            nextTickAt: l.nextTicks[0],
            lastTick: l.lastTick?.tick
          }))
          if (values.json) out(json(rows))
          else if (rows.length === 0)
            out("No schedules: export const schedules = [schedule(name, { cron, select })] from the config.")
          else
            for (const line of table(
              ["SCHEDULE", "CRON", "TIMEZONE", "STATUS", "NEXT", "LAST TICK"],
              rows.map((r) => [
                r.name,
                r.cron,
                r.timezone,
                r.status,
                timestamp(r.nextTickAt),
                r.lastTick === undefined ? "-" : `${timestamp(r.lastTick.tickAt)} ${r.lastTick.status}`
              ])
            ))
              out(line)
          return ExitCode.Ok
        }
        case "start":
        case "stop": {
          const s = findDefinition("schedule", definitions.schedules, name)
          await run(setStatus(store, "schedule", s.name, action === "start" ? "running" : "stopped", now))
          out(
            action === "start"
              ? `schedule ${s.name} is running: next tick ${timestamp(s.cron.next(now))} (a running materia daemon launches it)`
              : `schedule ${s.name} is stopped`
          )
          return ExitCode.Ok
        }
        case "preview": {
          const s = findDefinition("schedule", definitions.schedules, name)
          const count = positiveInt("schedules", "count", values.count) ?? 5
          const ticks = []
          let t = now
          for (let i = 0; i < count; i++) {
            const next = s.cron.next(t)
            if (next === undefined) break
            let result: ReturnType<typeof scheduleTick> | { error: string }
            try {
              result = scheduleTick(definitions.graph, s, next)
            } catch (error) {
              result = { error: error instanceof Error ? error.message : String(error) }
            }
            ticks.push({ scheduledAt: next, ...result })
            t = next
          }
          if (values.json) out(json({ schedule: s.spec, ticks }))
          else
            for (const line of table(
              ["SCHEDULED", "SELECT", "PARTITIONS", "DETAIL"],
              ticks.map((tick) => {
                const request = "runRequests" in tick ? tick.runRequests[0] : undefined
                return [
                  timestamp(tick.scheduledAt),
                  s.spec.select.join(","),
                  request?.partitions?.join(",") ?? "-",
                  "error" in tick ? tick.error : (tick.skipReason ?? "")
                ]
              })
            ))
              out(line)
          return ExitCode.Ok
        }
        case "history": {
          const s = findDefinition("schedule", definitions.schedules, name)
          const ticks = await run(
            store.ticks({
              kind: "schedule",
              name: s.name,
              limit: positiveInt("schedules", "limit", values.limit) ?? 20
            })
          )
          if (values.json) out(json(ticks))
          else if (ticks.length === 0) out(`schedule ${s.name} has no recorded tick yet`)
          else for (const line of tickLines(ticks)) out(line)
          return ExitCode.Ok
        }
        default:
          throw new UsageError({
            message: `materia schedules: unknown action "${action}"; expected list, start, stop, preview or history`
          })
      }
    })
  }
}
