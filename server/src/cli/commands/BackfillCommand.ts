/**
 * `materia backfill`: materialize a selection over many partitions from CI, as a recorded,
 * resumable backfill with progress, reports and exit codes.
 *
 *   materia backfill --select S [--partitions P] [--only-stale] [--concurrency N]
 *                    [--report-junit FILE] [--report-json FILE] [--dry-run [--json]]
 *   materia backfill list | status <id> | cancel <id> | resume <id>
 *
 * Exit codes: 0 every requested partition materialized or already fresh, 1 a step failed or was
 * blocked by a check, 2 bad usage, 130 canceled.
 */
import { writeFileSync } from "node:fs"
import { resolve } from "node:path"
import {
  type BackfillResult,
  backfill,
  backfillJson,
  backfillJUnit,
  backfillState,
  cancelBackfill,
  githubAnnotations,
  planBackfill,
  queueBackfill,
  resumeBackfill
} from "@materia/assets"
import { type BackfillRecord, formatDuration, formatReason, stepLabel } from "@materia/core"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, type CommandContext, parseOptions, positiveInt } from "../Command.ts"
import { json, table, timestamp } from "../Output.ts"
import { nothingChanged, openProject, run } from "./Shared.ts"

const usage = `materia backfill --select S [--partitions P] [options]
materia backfill list [--limit N] [--json]
materia backfill status <id> [--json]
materia backfill cancel <id>
materia backfill resume <id> [--concurrency N] [--report-junit FILE] [--report-json FILE]

  --select S            the assets (selection syntax, e.g. daily_sales+ or changed-since:origin/main+)
  --partitions P        KEY, FROM...TO (2026-01-01...2026-01-31), a list A,B, *, or per dimension
                        DIM=SEL;DIM=SEL (date=2026-01-01...2026-01-07;region=eu,us); default *
  --only-stale          only partitions that are stale (default: re-materialize every requested one)
  --concurrency N       steps running at once (default: the project's)
  --report-junit FILE   write a JUnit XML report (one test case per asset × partition)
  --report-json FILE    write a JSON report
  --dry-run             print the plan without running (--json: as JSON)
  --queue               record the backfill for \`materia daemon\` to run, and exit
  --json                machine-readable output
  --project FILE        the project module (default: the nearest materia.config.ts)

Progress goes to the terminal (redrawn) or, in CI, as a plain line every 10 s. With
GITHUB_ACTIONS=true, failed steps become error annotations. A backfill whose process stopped
beating for 30 s is shown as dead; resume runs only what it has not materialized yet.

Exit codes: 0 every requested partition materialized or already fresh, 1 a step failed or was
blocked by a check, 2 bad usage, 130 canceled.`

const progressLine = (record: BackfillRecord, startedAt: number, now: number): string => {
  const p = record.progress
  const finished = p.succeeded + p.failed + p.skipped + p.canceled
  const remaining = Math.max(0, p.total - p.fresh - finished - p.running)
  const elapsed = now - startedAt
  const rate = finished / Math.max(1, elapsed)
  const eta =
    finished > 0 && remaining + p.running > 0
      ? ` · about ${formatDuration((remaining + p.running) / rate)} left`
      : ""
  return `backfill ${record.backfillId}: ${p.succeeded} done · ${p.running} running · ${p.failed} failed · ${remaining} remaining${p.fresh > 0 ? ` · ${p.fresh} fresh` : ""} · ${formatDuration(elapsed)} elapsed${eta}`
}

/** Live progress: redrawn on a terminal, a plain line every 10 s elsewhere (CI logs). */
const progressPrinter = (context: CommandContext) => {
  const stream = context.output.stdout
  const tty = stream.isTTY === true
  const startedAt = Date.now()
  let last = 0
  let latest: BackfillRecord | undefined
  return {
    onProgress: (record: BackfillRecord) => {
      latest = record
      const now = Date.now()
      if (tty) {
        if (now - last < 100) return
        last = now
        stream.write(`\r\u001b[2K${progressLine(record, startedAt, now)}`)
      } else if (now - last >= 10_000) {
        last = now
        stream.write(`${progressLine(record, startedAt, now)}\n`)
      }
    },
    done: () => {
      if (latest === undefined) return
      const line = progressLine(latest, startedAt, Date.now())
      stream.write(tty ? `\r\u001b[2K${line}\n` : `${line}\n`)
    }
  }
}

const exitOf = (result: BackfillResult): (typeof ExitCode)[keyof typeof ExitCode] =>
  result.record.status === "canceled"
    ? ExitCode.Canceled
    : result.record.status === "failed" || result.steps.some((s) => s.status === "failed")
      ? ExitCode.Failed
      : ExitCode.Ok

const writeReports = (
  result: BackfillResult,
  values: { readonly "report-junit"?: string | undefined; readonly "report-json"?: string | undefined },
  context: CommandContext
) => {
  if (values["report-junit"] !== undefined)
    writeFileSync(resolve(context.cwd, values["report-junit"]), backfillJUnit(result))
  if (values["report-json"] !== undefined)
    writeFileSync(resolve(context.cwd, values["report-json"]), backfillJson(result))
  if (process.env.GITHUB_ACTIONS === "true")
    for (const line of githubAnnotations(result)) context.output.out(line)
}

const summarize = (result: BackfillResult, context: CommandContext) => {
  const out = context.output.out
  const r = result.record
  const p = r.progress
  out(
    `Backfill ${r.backfillId} ${r.status}: ${p.succeeded} succeeded, ${p.failed} failed, ${p.skipped} skipped, ${p.canceled} canceled${p.fresh > 0 ? `, ${p.fresh} already fresh` : ""} (of ${p.total}).`
  )
  const failed = result.steps.filter((s) => s.status === "failed")
  for (const step of failed.slice(0, 20))
    out(`  FAILED ${stepLabel(step)}: ${(step.error ?? "").split("\n")[0]}`)
  if (failed.length > 20) out(`  … and ${failed.length - 20} more (see the reports)`)
  if (r.status !== "succeeded") out(`Resume it with: materia backfill resume ${r.backfillId}`)
}

const recordRow = (r: BackfillRecord, now: number) => [
  r.backfillId,
  backfillState(r, now),
  `${r.progress.succeeded}/${r.progress.total}`,
  String(r.progress.failed),
  r.select,
  r.partitions,
  timestamp(r.createdAt)
]

export const backfillCommand: Command = {
  name: "backfill",
  usage,
  run: async (args, context) => {
    const { values, positionals } = parseOptions(
      "backfill",
      args,
      {
        select: { type: "string" },
        partitions: { type: "string" },
        "only-stale": { type: "boolean" },
        concurrency: { type: "string" },
        "report-junit": { type: "string" },
        "report-json": { type: "string" },
        "dry-run": { type: "boolean" },
        queue: { type: "boolean" },
        json: { type: "boolean" },
        limit: { type: "string" },
        project: { type: "string" }
      },
      true
    )
    const out = context.output.out
    const [verb, id, ...extra] = positionals
    if (extra.length > 0)
      throw new UsageError({ message: `materia backfill: unexpected arguments ${extra.join(" ")}` })
    const concurrency = positiveInt("backfill", "concurrency", values.concurrency)

    if (verb === undefined) {
      if (values.select === undefined)
        throw new UsageError({
          message:
            "materia backfill: --select S is required (e.g. --select daily_sales --partitions 2026-01-01...2026-01-31)"
        })
      const opened = await openProject(values.project, context, values.select)
      const { project, store } = opened
      if (!values.json && nothingChanged(opened, out)) return ExitCode.Ok
      const request = {
        select: values.select,
        partitions: values.partitions,
        onlyStale: values["only-stale"]
      }
      if (values["dry-run"]) {
        const { plan } = await run(planBackfill(project, store, request))
        if (values.json)
          out(
            json({
              select: values.select,
              partitions: values.partitions ?? "*",
              onlyStale: values["only-stale"] === true,
              steps: plan.steps.map((s) => ({
                key: s.key,
                ...(s.partition === undefined ? {} : { partition: s.partition }),
                reasons: s.reasons.map(formatReason),
                upstream: s.upstream
              }))
            })
          )
        else {
          const perAsset = new Map<string, number>()
          for (const s of plan.steps) perAsset.set(s.key, (perAsset.get(s.key) ?? 0) + 1)
          out(`Dry run: ${plan.steps.length} step(s) would run.`)
          for (const line of table(
            ["ASSET", "STEPS", "FIRST"],
            [...perAsset].map(([key, count]) => [
              key,
              String(count),
              stepLabel(plan.steps.find((s) => s.key === key)!)
            ])
          ))
            out(`  ${line}`)
        }
        return ExitCode.Ok
      }
      if (values.queue) {
        const record = await run(
          queueBackfill(project, store, { ...request, ...(concurrency === undefined ? {} : { concurrency }) })
        )
        if (values.json) out(json(record))
        else
          out(
            `Queued backfill ${record.backfillId} (${record.progress.total} step(s) planned now); materia daemon runs it. Follow it with: materia backfill status ${record.backfillId}`
          )
        return ExitCode.Ok
      }
      const printer = values.json ? undefined : progressPrinter(context)
      const result = await run(
        backfill(project, store, {
          ...request,
          concurrency,
          signal: context.signal,
          onProgress: printer?.onProgress
        })
      ).finally(() => printer?.done())
      writeReports(result, values, context)
      if (values.json) out(json({ backfill: result.record, steps: result.steps }))
      else summarize(result, context)
      return exitOf(result)
    }

    const { project, store } = await openProject(values.project, context)
    const now = Date.now()
    switch (verb) {
      case "list": {
        const list = await run(
          store.storage.backfills(project.name, {
            limit: positiveInt("backfill", "limit", values.limit) ?? 20
          })
        )
        if (values.json) out(json(list.map((r) => ({ ...r, state: backfillState(r, now) }))))
        else if (list.length === 0)
          out("No backfills yet: materia backfill --select S --partitions P starts one.")
        else
          for (const line of table(
            ["BACKFILL", "STATE", "DONE", "FAILED", "SELECT", "PARTITIONS", "CREATED"],
            list.map((r) => recordRow(r, now))
          ))
            out(line)
        return ExitCode.Ok
      }
      case "status":
      case "cancel":
      case "resume": {
        if (id === undefined)
          throw new UsageError({
            message: `materia backfill ${verb}: give the backfill id (materia backfill list shows them)`
          })
        if (verb === "cancel") {
          const record = await run(cancelBackfill(store, project, id))
          out(
            record.status === "canceled"
              ? `Backfill ${id} canceled; a running driver stops at its next heartbeat. Resume it with: materia backfill resume ${id}`
              : `Backfill ${id} is ${record.status}; nothing to cancel.`
          )
          return ExitCode.Ok
        }
        if (verb === "resume") {
          const printer = values.json ? undefined : progressPrinter(context)
          const result = await run(
            resumeBackfill(project, store, id, {
              concurrency,
              signal: context.signal,
              onProgress: printer?.onProgress
            })
          ).finally(() => printer?.done())
          writeReports(result, values, context)
          if (values.json) out(json({ backfill: result.record, steps: result.steps }))
          else summarize(result, context)
          return exitOf(result)
        }
        const record = await run(store.storage.backfill(id))
        if (record === undefined || record.project !== project.name)
          throw new UsageError({
            message: `materia backfill status: no backfill "${id}" in project "${project.name}"; materia backfill list shows them`
          })
        const state = backfillState(record, now)
        if (values.json) out(json({ ...record, state }))
        else {
          out(
            `Backfill ${record.backfillId}: ${state}${record.reason === undefined ? "" : ` (${record.reason})`}`
          )
          out(
            `  select ${record.select}   partitions ${record.partitions}${record.onlyStale ? "   only stale" : ""}`
          )
          const p = record.progress
          out(
            `  ${p.succeeded} succeeded · ${p.failed} failed · ${p.skipped} skipped · ${p.canceled} canceled · ${p.running} running · ${p.fresh} fresh · of ${p.total}`
          )
          out(
            `  created ${timestamp(record.createdAt)} · last heartbeat ${timestamp(record.heartbeatAt)}${record.driver === undefined ? "" : ` by process ${record.driver.pid} on ${record.driver.host}`}`
          )
          if (record.runIds.length > 0) out(`  runs: ${record.runIds.join(", ")}`)
          if (state === "dead")
            out(`  Its process stopped; resume it with: materia backfill resume ${record.backfillId}`)
        }
        return ExitCode.Ok
      }
      default:
        throw new UsageError({
          message: `materia backfill: unknown subcommand "${verb}"; expected list, status, cancel or resume (or --select to start one)`
        })
    }
  }
}
