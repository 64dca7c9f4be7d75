/**
 * `materia dev`'s daemon state comes from the store's lease, not from the daemon's log lines: a real
 * daemon child under its supervisor holds the lease (running); another holder takes it (waiting,
 * naming it); once that holder releases it, the child's daemon takes it back silently (its log says
 * nothing about it) and the supervisor says running again, with the child's own id.
 */
import { setTimeout as sleep } from "node:timers/promises"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { openSqliteDaemonStore } from "../../../server/src/daemon/SqliteDaemonStore.ts"
import { makeDaemonSupervisor } from "../../../server/src/dev/DaemonSupervisor.ts"
import { CLI_TEST_TIMEOUT, makeTempProject } from "../cli/TempProject.ts"

const FIXTURE = "../../server/fixtures/scheduled.ts"

describe("the daemon supervisor of materia dev", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("reads who holds the lease from the store", async ({ onTestFinished }) => {
    const project = await makeTempProject(FIXTURE, onTestFinished)
    const lines: Array<string> = []
    const supervisor = makeDaemonSupervisor({
      configFile: project.path("materia.config.ts"),
      options: ["--tick-interval", "100"],
      log: (line) => lines.push(line)
    })
    onTestFinished(() => supervisor.close())
    const until = async (what: string, ok: () => boolean) => {
      while (!ok()) {
        const info = supervisor.info()
        if (info.state === "failed" || info.state === "restarting")
          throw new Error(
            `waiting for ${what}, the daemon is ${info.state}: ${info.message}\n${lines.join("\n")}`
          )
        await sleep(50)
      }
    }
    await supervisor.restart()
    await until("the daemon to hold the lease", () => supervisor.info().state === "running")
    const first = supervisor.info()
    expect(first.leaseHolder).toContain(`:${first.pid}:`)

    const store = await Effect.runPromise(openSqliteDaemonStore(project.path(".materia", "materia.db")))
    onTestFinished(() => Effect.runPromise(store.close()))
    const thief = "elsewhere:1:thief"
    expect(
      await Effect.runPromise(store.acquireLease(thief, Date.now(), 600_000, first.leaseHolder!))
    ).toEqual({ acquired: true })
    await until("the daemon to wait for the thief", () => supervisor.info().state === "waiting")
    expect(supervisor.info()).toMatchObject({ leaseHolder: thief, pid: first.pid })
    expect(supervisor.info().message).toContain(thief)

    const linesBefore = lines.length
    await Effect.runPromise(store.releaseLease(thief))
    await until("the daemon to take the lease back", () => supervisor.info().state === "running")
    expect(supervisor.info().leaseHolder).toBe(first.leaseHolder)
    // Taken back without a word in its log: only the lease says it.
    expect(lines.slice(linesBefore).join("\n")).not.toMatch(/ticking every/)
  })
})
