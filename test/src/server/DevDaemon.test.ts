/**
 * `materia dev` runs `materia daemon` as a supervised child: over the HTTP API a schedule is
 * started, its tick and the run it launched appear (the run in the run list too), it is stopped;
 * a killed daemon is started again while the server keeps answering, and so is the daemon after a
 * reload; while another daemon holds the lease it waits and names it; `--no-daemon` runs none, and a project that fails to load answers the listing with a 409.
 */

import { setTimeout as sleep } from "node:timers/promises"
import { describe, it } from "vitest"
import { CLI_TEST_TIMEOUT, makeTempProject } from "../cli/TempProject.ts"
import { attachDev, startDev } from "./DevProcess.ts"

const FIXTURE = "../../server/fixtures/scheduled.ts"

interface Daemon {
  state: string
  pid: number | null
  leaseHolder: string | null
  message: string
}
interface Tick {
  tickAt: number
  status: string
  runs: Array<{ status: string; runId: string | null; select: string }>
}

describe("materia dev and its daemon", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("ticks a started schedule, launches its run, and restarts a killed daemon", async ({
    expect,
    onTestFinished
  }) => {
    const dev = await startDev(FIXTURE, onTestFinished, ["--tick-interval", "200"])
    const running = await dev.until<Daemon>("/api/v1/daemon", (d) => d.state === "running", "the daemon")
    expect(running.pid).toBeTypeOf("number")
    expect(running.leaseHolder).toContain(`:${running.pid}:`)

    const listed = await dev.api<{ schedules: Array<{ name: string; status: string; isDefault: boolean }> }>(
      "GET",
      "/api/v1/schedules"
    )
    expect(listed.body.schedules).toMatchObject([{ name: "every_five", status: "stopped", isDefault: true }])
    const started = await dev.api<{ schedule: { status: string } }>(
      "POST",
      "/api/v1/schedules/every_five/start"
    )
    expect(started.status).toBe(200)
    expect(started.body.schedule.status).toBe("running")

    // The daemon picks the start up, ticks, and its run (its own process) succeeds.
    const { ticks } = await dev.until<{ ticks: Array<Tick> }>(
      "/api/v1/schedules/every_five/ticks?limit=50",
      (body) => body.ticks.some((t) => t.runs.some((r) => r.status === "succeeded" && r.runId !== null)),
      "a tick whose run succeeded"
    )
    const tick = ticks.find((t) => t.runs.some((r) => r.status === "succeeded"))!
    expect(tick).toMatchObject({ status: "requested" })
    const run = tick.runs.find((r) => r.status === "succeeded")!
    expect(run.select).toBe("ping")
    const runs = await dev.until<{ runs: Array<{ runId: string; status: string; targets: Array<string> }> }>(
      "/api/v1/runs",
      (body) => body.runs.some((r) => r.runId === run.runId),
      "the schedule's run in the run list"
    )
    expect(runs.runs.find((r) => r.runId === run.runId)).toMatchObject({
      status: "succeeded",
      targets: ["ping"]
    })
    const stopped = await dev.api<{ schedule: { status: string; nextTicks: Array<number> } }>(
      "POST",
      "/api/v1/schedules/every_five/stop"
    )
    expect(stopped.body.schedule).toMatchObject({ status: "stopped", nextTicks: [] })

    // A daemon that dies is started again; the server answers throughout.
    process.kill(running.pid!, "SIGKILL")
    const again = await dev.until<Daemon>(
      "/api/v1/daemon",
      (d) => d.state === "running" && d.pid !== running.pid,
      "a new daemon"
    )
    expect(again.pid).not.toBe(running.pid)
    expect((await dev.api("GET", "/api/v1/project")).status).toBe(200)
    expect(dev.stderr()).toContain("the daemon exited (SIGKILL)")

    // A reload that loads starts the daemon again, with the new definitions.
    await dev.project.editConfig('skipReason: "nothing new"', 'skipReason: "still nothing"')
    const reloaded = await dev.until<Daemon>(
      "/api/v1/daemon",
      (d) => d.state === "running" && d.pid !== again.pid,
      "the daemon started again after the reload"
    )
    expect(reloaded.pid).not.toBe(again.pid)
  })

  it("waits while another daemon holds the lease, says which, and takes over when it stops", async ({
    expect,
    onTestFinished
  }) => {
    const project = await makeTempProject(FIXTURE, onTestFinished)
    const other = project.start("daemon", "--tick-interval", "200")
    let printed = ""
    other.child.stdout?.on("data", (chunk: Buffer | string) => {
      printed += chunk.toString()
    })
    const ownerLine = () => /daemon (\S+): .*ticking every/.exec(printed)
    while (ownerLine() === null) {
      if (other.child.exitCode !== null) throw new Error(`materia daemon exited:\n${printed}`)
      await sleep(50)
    }
    const owner = ownerLine()![1]!
    const dev = await attachDev(project, project.start("dev", "--port", "0", "--tick-interval", "200"))
    const waiting = await dev.until<Daemon>(
      "/api/v1/daemon",
      (d) => d.state === "waiting",
      "a waiting daemon"
    )
    expect(waiting.leaseHolder).toBe(owner)
    expect(waiting.message).toContain(owner)
    other.child.kill("SIGINT")
    const running = await dev.until<Daemon>("/api/v1/daemon", (d) => d.state === "running", "the lease taken")
    expect(running.leaseHolder).not.toBe(owner)
  })

  it("runs no daemon with --no-daemon", async ({ expect, onTestFinished }) => {
    const dev = await startDev(FIXTURE, onTestFinished, ["--no-daemon"])
    const daemon = await dev.api<Daemon>("GET", "/api/v1/daemon")
    expect(daemon.body).toMatchObject({ state: "off", pid: null })
    expect(daemon.body.message).toContain("materia daemon")
    // Start and stop still record, for a daemon running elsewhere.
    const started = await dev.api<{ schedule: { status: string } }>(
      "POST",
      "/api/v1/schedules/every_five/start"
    )
    expect(started.body.schedule.status).toBe("running")

    // A project that fails to load: the schedules cannot be listed, and the answer says why.
    await dev.project.editConfig('const ping = asset("ping"', 'const ping = asset(("ping"')
    await dev.until<{ loadError: unknown }>("/api/v1/project", (p) => p.loadError !== null, "the load error")
    const broken = await dev.api<{ error: { code: string; message: string } }>("GET", "/api/v1/schedules")
    expect(broken.status).toBe(409)
    expect(broken.body.error.code).toBe("LoadError")
    expect(broken.body.error.message).toContain("materia.config.ts")
  })
})
