/**
 * `materia sensors list|start|stop|tick|history`: the project's sensors, starting and stopping
 * them, evaluating one now (the tick and its queued runs are recorded; a running daemon launches
 * them) and the tick history.
 */
import { openLocalStore } from "@materia/assets"
import * as Effect from "effect/Effect"
import { findDefinition, openDaemonProject } from "../../daemon/DaemonProject.ts"
import { listSensors } from "../../daemon/InstigatorListing.ts"
import { effectiveState, runTick, setStatus, type TickReport } from "../../daemon/TickEngine.ts"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { json, table, timestamp } from "../Output.ts"
import { tickLines } from "./SchedulesCommand.ts"
import { run } from "./Shared.ts"

export const sensorsCommand: Command = {
  name: "sensors",
  usage: `materia sensors list [--json]
materia sensors start <name>
materia sensors stop <name>
materia sensors tick <name> [--json]                   evaluate it now and record the tick
materia sensors history <name> [--limit N] [--json]   recorded ticks, newest first

  --project FILE  the project module (default: the nearest materia.config.ts)

Sensors are the config module's export \`sensors\` (sensor(name, { interval, evaluate })).`,
  run: async (args, context) => {
    const { values, positionals } = parseOptions(
      "sensors",
      args,
      { json: { type: "boolean" }, limit: { type: "string" }, project: { type: "string" } },
      true
    )
    const out = context.output.out
    const [action = "list", name, ...extra] = positionals
    if (extra.length > 0)
      throw new UsageError({ message: `materia sensors: unexpected arguments ${extra.join(" ")}` })
    const { definitions, store, root } = await openDaemonProject(values.project, context)
    try {
      const now = Date.now()
      switch (action) {
        case "list": {
          const rows = (await run(listSensors(definitions, store, now))).map((l) => ({
            name: l.definition.name,
            intervalMillis: l.definition.spec.intervalMillis,
            status: l.state.status,
            cursor: l.state.cursor,
            lastTick: l.lastTick?.tick
          }))
          if (values.json) out(json(rows))
          else if (rows.length === 0)
            out("No sensors: export const sensors = [sensor(name, { interval, evaluate })] from the config.")
          else
            for (const line of table(
              ["SENSOR", "INTERVAL", "STATUS", "CURSOR", "LAST TICK"],
              rows.map((r) => [
                r.name,
                `${r.intervalMillis / 1000}s`,
                r.status,
                r.cursor ?? "-",
                r.lastTick === undefined ? "-" : `${timestamp(r.lastTick.tickAt)} ${r.lastTick.status}`
              ])
            ))
              out(line)
          return ExitCode.Ok
        }
        case "start":
        case "stop": {
          const s = findDefinition("sensor", definitions.sensors, name)
          await run(setStatus(store, "sensor", s.name, action === "start" ? "running" : "stopped", now))
          out(`sensor ${s.name} is ${action === "start" ? "running" : "stopped"}`)
          return ExitCode.Ok
        }
        case "tick": {
          const s = findDefinition("sensor", definitions.sensors, name)
          // Evaluate this one sensor now, as if running and due, keeping its stored cursor.
          const stored = await run(store.state("sensor", s.name))
          const state = effectiveState("sensor", s.name, s.spec.defaultStatus, stored)
          await run(store.setState({ ...state, status: "running", lastTickAt: undefined }))
          let report: TickReport
          try {
            const local = await openLocalStore(root)
            try {
              report = await run(
                runTick({ ...definitions, schedules: [], sensors: [s], automations: [] }, store, {
                  materializations: (other, keys) =>
                    Effect.runPromise(
                      Effect.map(
                        local.storage.snapshot(other, keys),
                        (snapshot) => new Map(keys.map((k) => [k, snapshot.get(k)?.latest?.at]))
                      )
                    )
                })
              )
            } finally {
              await local.close()
            }
          } finally {
            const after = await run(store.state("sensor", s.name))
            await run(store.setState({ ...(after ?? state), status: state.status }))
          }
          const tick = report.ticks[0]
          if (values.json) out(json(tick ?? null))
          else if (tick === undefined) out(`sensor ${s.name}: no tick recorded`)
          else for (const line of tickLines([tick])) out(line)
          return tick?.status === "failed" ? ExitCode.Failed : ExitCode.Ok
        }
        case "history": {
          const s = findDefinition("sensor", definitions.sensors, name)
          const ticks = await run(
            store.ticks({
              kind: "sensor",
              name: s.name,
              limit: positiveInt("sensors", "limit", values.limit) ?? 20
            })
          )
          if (values.json) out(json(ticks))
          else if (ticks.length === 0) out(`sensor ${s.name} has no recorded tick yet`)
          else for (const line of tickLines(ticks)) out(line)
          return ExitCode.Ok
        }
        default:
          throw new UsageError({
            message: `materia sensors: unknown action "${action}"; expected list, start, stop, tick or history`
          })
      }
    } finally {
      await Effect.runPromise(store.close())
    }
  }
}
