/**
 * `materia daemon`: evaluates the project's schedules and sensors in ticks and launches their runs,
 * each in its own process, until Ctrl-C. Only one daemon per store works at a time; a second one
 * says who holds the lease and waits for it.
 */
import { join } from "node:path"
import { gc, openConfiguredStore } from "@materia/assets"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { runDaemon } from "../../daemon/Daemon.ts"
import { openDaemonProject } from "../../daemon/DaemonProject.ts"
import { endedRunsOf } from "../../daemon/EndedRuns.ts"
import { observeAssets } from "../../daemon/ObserveAssets.ts"
import { parseTagLimit, type TagLimit } from "../../daemon/RunQueue.ts"
import { watchRunIn } from "../../daemon/RunWatch.ts"
import type { CatchUp } from "../../daemon/TickEngine.ts"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { timestamp } from "../Output.ts"
import { run } from "./Shared.ts"

export const daemonCommand: Command = {
  name: "daemon",
  usage: `materia daemon [options]

  --tick-interval MS        time between ticks (default 1000)
  --max-concurrent-runs N   runs at once (default 4)
  --tag-limit LIMITS        per-tag limits, comma-separated key=value:N or key:N (e.g. team=ml:1,gpu:2)
  --catch-up POLICY         after downtime: latest (default) runs the last missed tick of each
                            schedule, all runs every missed tick up to --catch-up-limit
  --catch-up-limit N        most missed ticks per schedule with --catch-up all (default 10)
  --lease-ttl MS            a daemon silent this long loses its lease (default 30000)
  --automation-interval MS  time between evaluations of each automation condition (default 30000)
  --keep DURATION           forget ticks, ended runs, their output and run keys older than this
                            (default "30 days"; a sensor may launch a forgotten run key again)
  --ticks N                 stop after N ticks, once their runs have ended
  --project FILE            the project module (default: the nearest materia.config.ts)

Schedules, sensors and automation conditions are the config module's exports \`schedules\`,
\`sensors\` and \`automations\`. Each run is
\`materia materialize --select … --json\` in its own process; its output is kept under
.materia/daemon/runs/.`,
  run: async (args, context) => {
    const { values } = parseOptions("daemon", args, {
      "tick-interval": { type: "string" },
      "max-concurrent-runs": { type: "string" },
      "tag-limit": { type: "string" },
      "catch-up": { type: "string" },
      "catch-up-limit": { type: "string" },
      "lease-ttl": { type: "string" },
      ticks: { type: "string" },
      "automation-interval": { type: "string" },
      keep: { type: "string" },
      project: { type: "string" }
    })
    const policy = values["catch-up"] ?? "latest"
    if (policy !== "latest" && policy !== "all")
      throw new UsageError({ message: `materia daemon: --catch-up expects latest or all, found "${policy}"` })
    const catchUp: CatchUp =
      policy === "latest"
        ? { policy }
        : { policy, limit: positiveInt("daemon", "catch-up-limit", values["catch-up-limit"]) ?? 10 }
    const tagLimits: Array<TagLimit> = []
    for (const text of (values["tag-limit"] ?? "").split(",").filter((t) => t.trim() !== "")) {
      const limit = parseTagLimit(text.trim())
      if (limit === undefined)
        throw new UsageError({
          message: `materia daemon: --tag-limit expects key=value:N or key:N (N ≥ 1), found "${text}"`
        })
      tagLimits.push(limit)
    }
    let keepMillis: number | undefined
    if (values.keep !== undefined) {
      const parsed = Duration.fromInput(values.keep as Duration.Input)
      keepMillis = parsed._tag === "Some" ? Duration.toMillis(parsed.value) : Number.NaN
      if (!Number.isFinite(keepMillis) || keepMillis <= 0)
        throw new UsageError({
          message: `materia daemon: --keep expects a duration such as "30 days" or "12 hours", found "${values.keep}"`
        })
    }
    const daemon = await openDaemonProject(values.project, context)
    const local = await openConfiguredStore(daemon.root, daemon.project.storage, process.env)
    const project = daemon.project.name
    const log = (line: string) => context.output.out(`${timestamp(Date.now())} ${line}`)
    try {
      await run(
        runDaemon({
          definitions: daemon.definitions,
          store: daemon.store,
          target: {
            configFile: daemon.file,
            root: daemon.root,
            logDir: join(daemon.root, ".materia", "daemon", "runs")
          },
          tickIntervalMillis: positiveInt("daemon", "tick-interval", values["tick-interval"]),
          leaseTtlMillis: positiveInt("daemon", "lease-ttl", values["lease-ttl"]),
          maxTicks: positiveInt("daemon", "ticks", values.ticks),
          catchUp,
          limits: {
            maxConcurrentRuns:
              positiveInt("daemon", "max-concurrent-runs", values["max-concurrent-runs"]) ?? 4,
            tagLimits
          },
          log,
          signal: context.signal,
          runRetry: daemon.project.runRetry,
          queuedBackfills: () =>
            Effect.map(local.storage.backfills(project, { limit: 100 }), (list) =>
              list.filter((b) => b.status === "queued").map((b) => b.backfillId)
            ),
          retention:
            daemon.project.retention === undefined
              ? undefined
              : () =>
                  Effect.map(gc(daemon.project, local, daemon.project.retention!), (r) =>
                    r.runs.length + r.values.length === 0
                      ? undefined
                      : `deleted ${r.runs.length} run(s) and ${r.values.length} value(s)${r.failures.length > 0 ? `; ${r.failures.length} value(s) could not be deleted` : ""}`
                  ),
          observeAssets: observeAssets(local.storage, project, daemon.definitions.graph),
          watchRun: watchRunIn(local.storage, project),
          alerts: daemon.project.alerts,
          project,
          endedRuns: (other, since) => Effect.runPromise(endedRunsOf(local.storage, other, since)),
          materializations: (other, keys) =>
            Effect.runPromise(
              Effect.map(
                local.storage.snapshot(other, keys),
                (snapshot) => new Map(keys.map((k) => [k, snapshot.get(k)?.latest?.at]))
              )
            ),
          keepMillis,
          automationIntervalMillis: positiveInt(
            "daemon",
            "automation-interval",
            values["automation-interval"]
          ),
          addPartitions: (add) =>
            Effect.forEach(add, (a) => local.storage.addDynamicPartitions(project, a.definition, a.keys), {
              discard: true
            })
        })
      )
    } finally {
      await Effect.runPromise(daemon.store.close())
      await local.close()
    }
    log("daemon stopped")
    return ExitCode.Ok
  }
}
