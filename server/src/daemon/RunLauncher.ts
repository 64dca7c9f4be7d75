/**
 * Launches a queued run in its own process — `materia materialize --select … [--partitions …]
 * --json` through the CLI bin — so a body can never take the daemon down. Its stdout (the JSON
 * result) and stderr go to files under `.materia/daemon/runs/`, so a restarted daemon can still
 * read the outcome of a run launched by the one before it.
 */
import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs"
import { hostname } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import type { RunRequest } from "@materia/assets"
import type { QueuedRun } from "./DaemonStore.ts"

/** The CLI entry of this package (`server/bin/materia.mjs`). */
export const MATERIA_BIN = resolve(fileURLToPath(import.meta.url), "../../../bin/materia.mjs")

/** Where and how runs are launched. */
export interface LaunchTarget {
  /** The project module (materia.config.ts). */
  readonly configFile: string
  /** The project root: the processes' working directory. */
  readonly root: string
  /** Folder of the runs' output files. */
  readonly logDir: string
  /** The CLI bin; `MATERIA_BIN` by default. */
  readonly bin?: string | undefined
}

/** A launched process and how it ended. */
export interface LaunchedProcess {
  readonly pid: number
  readonly exited: Promise<number | null>
}

/** What the run's process reported. */
export interface RunOutcome {
  readonly status: "succeeded" | "failed"
  readonly runId?: string | undefined
  readonly error?: string | undefined
}

/**
 * A Materia run id for a run the daemon launches (sortable: its launch time, then random), chosen
 * before the process starts so that any daemon can find the run in the metadata store.
 */
export const newMateriaRunId = (now: number): string =>
  `${new Date(now)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "")}-${crypto.randomUUID().slice(0, 8)}`

/** The `materia` arguments of a request; `runId`: the Materia run's id (a backfill's runs are its own). */
export const materializeArgs = (request: RunRequest, configFile: string, runId?: string): Array<string> => {
  if (request.backfillId !== undefined)
    return ["backfill", "resume", request.backfillId, "--json", "--project", configFile]
  const id = runId === undefined ? [] : ["--run-id", runId]
  if (request.fromFailure !== undefined)
    return ["materialize", "--from-failure", request.fromFailure, ...id, "--json", "--project", configFile]
  const select = typeof request.select === "string" ? request.select : request.select.join(",")
  return [
    "materialize",
    "--select",
    select,
    ...(request.partitions === undefined || request.partitions.length === 0
      ? []
      : ["--partitions", request.partitions.join(",")]),
    ...(request.config === undefined ? [] : ["--config", JSON.stringify(request.config)]),
    ...id,
    "--json",
    "--project",
    configFile
  ]
}

const outputFiles = (logDir: string, id: string) => ({
  out: join(logDir, `${id}.json`),
  err: join(logDir, `${id}.log`)
})

/** Starts the run's process; its output goes to files named after the queued run's id. */
export const launchRun = (run: QueuedRun, target: LaunchTarget): LaunchedProcess => {
  mkdirSync(target.logDir, { recursive: true })
  const files = outputFiles(target.logDir, run.id)
  const out = openSync(files.out, "w")
  const err = openSync(files.err, "w")
  try {
    const child = spawn(
      process.execPath,
      [target.bin ?? MATERIA_BIN, ...materializeArgs(run.request, target.configFile, run.runId)],
      { cwd: target.root, stdio: ["ignore", out, err], env: { ...process.env, MATERIA_DAEMON_RUN: run.id } }
    )
    const exited = new Promise<number | null>((resolveExit) => {
      child.once("exit", (code) => resolveExit(code))
      child.once("error", () => resolveExit(null))
    })
    if (child.pid === undefined) throw new Error(`could not start ${process.execPath} for run ${run.id}`)
    return { pid: child.pid, exited }
  } finally {
    closeSync(out)
    closeSync(err)
  }
}

/** Whether process `pid` of this host is alive. */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** This host's name, for lease owners and the host of each launched run. */
export const thisHost = (): string => hostname()

/**
 * Reads what a finished run's process reported: its JSON result, or the end of its stderr.
 * Undefined when it left nothing (it was killed before reporting).
 */
export const readOutcome = (logDir: string, id: string, exitCode?: number | null): RunOutcome | undefined => {
  const files = outputFiles(logDir, id)
  const text = existsSync(files.out) ? readFileSync(files.out, "utf8").trim() : ""
  const stderr = existsSync(files.err) ? readFileSync(files.err, "utf8").trim() : ""
  const tail = stderr.split("\n").slice(-5).join("\n")
  if (text !== "") {
    try {
      const parsed = JSON.parse(text) as {
        runId?: string
        status?: string
        steps?: Array<{ key: string; error?: string }>
        backfill?: { status?: string; reason?: string }
      }
      // `materia backfill resume --json` reports the backfill; its runs are the backfill's own.
      const result: { runId?: string; status?: string; steps?: Array<{ key: string; error?: string }> } =
        parsed.backfill === undefined
          ? parsed
          : {
              ...(parsed.backfill.status === undefined ? {} : { status: parsed.backfill.status }),
              ...(parsed.steps === undefined ? {} : { steps: parsed.steps })
            }
      const failedStep = result.steps?.find((s) => s.error !== undefined)
      return {
        status: result.status === "succeeded" ? "succeeded" : "failed",
        ...(result.runId === undefined ? {} : { runId: result.runId }),
        ...(result.status === "succeeded"
          ? {}
          : {
              error:
                failedStep === undefined ? `run ${result.status}` : `${failedStep.key}: ${failedStep.error}`
            })
      }
    } catch {
      // Not JSON: fall through to stderr.
    }
  }
  if (exitCode === 0) return { status: "succeeded" }
  if (tail !== "" || (exitCode !== undefined && exitCode !== null))
    return { status: "failed", error: tail === "" ? `exit code ${exitCode}` : tail }
  return undefined
}
