/**
 * Taking over from a daemon of another host: its runs' pids are another machine's, so they are never
 * judged here (a local process that happens to have that pid changes nothing, nor does its absence);
 * each run ends when the metadata store says its Materia run ended — by itself or by the dead-run
 * monitor's verdict — and one whose Materia run never appears is lost after the grace. A daemon
 * records, when it launches a run, its host, its own lease owner id and the Materia run's id.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AssetGraph, makeMemoryStorage, type RunEvent } from "@materia/core"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { afterAll, describe, expect, it } from "vitest"
import { runDaemon } from "./Daemon.ts"
import { makeMemoryDaemonStore, type QueuedRun } from "./DaemonStore.ts"
import { thisHost } from "./RunLauncher.ts"
import { watchRunIn } from "./RunWatch.ts"

const dir = mkdtempSync(join(tmpdir(), "materia-daemon-test-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
// A stand-in for the CLI: the launched process exits at once.
const bin = join(dir, "exit.mjs")
writeFileSync(bin, "process.exit(0)\n")
const target = { configFile: join(dir, "materia.config.ts"), root: dir, logDir: join(dir, "runs"), bin }
const definitions = { graph: AssetGraph.make([]), schedules: [], sensors: [] }

const T0 = Date.parse("2026-03-01T10:00:00Z")
const started = (runId: string, at: number): RunEvent => ({
  _tag: "RunStarted",
  runId,
  at,
  project: "p",
  targets: ["a"],
  steps: [{ key: "a", reasons: ["missing"] }]
})
const queued = (id: string): QueuedRun => ({
  id,
  tickId: "t",
  kind: "schedule",
  name: "nightly",
  request: { select: ["a"] },
  status: "queued",
  enqueuedAt: T0
})

const test = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, TestClock.layer()))

describe("a daemon taking over", () => {
  it("follows runs launched on another host through the metadata store, never their pids", () =>
    test(
      Effect.gen(function* () {
        const store = makeMemoryDaemonStore()
        const storage = makeMemoryStorage()
        yield* store.commitTick({
          tick: {
            tickId: "t",
            kind: "schedule",
            name: "nightly",
            tickAt: T0,
            evaluatedAt: T0,
            status: "requested",
            runIds: ["done", "dying", "never"]
          },
          runs: [queued("done"), queued("dying"), queued("never")],
          state: { kind: "schedule", name: "nightly", status: "running" }
        })
        const elsewhere = {
          status: "launched",
          launchedAt: T0,
          host: "elsewhere",
          leaseOwner: "elsewhere:7:old"
        } as const
        // A pid alive here (this very process) and one dead here: neither says anything of another host.
        yield* store.updateRun("done", { ...elsewhere, pid: process.pid, runId: "m-done" })
        yield* store.updateRun("dying", { ...elsewhere, pid: 2 ** 22 + 4321, runId: "m-dying" })
        yield* store.updateRun("never", { ...elsewhere, pid: process.pid, runId: "m-never" })
        yield* storage.append("p", [
          started("m-done", T0),
          { _tag: "RunFinished", runId: "m-done", at: T0 + 10, status: "succeeded", durationMillis: 10 },
          started("m-dying", T0)
        ])
        const lines: Array<string> = []
        yield* TestClock.setTime(T0 + 1000)
        const daemon = yield* Effect.forkChild(
          runDaemon({
            definitions,
            store,
            target,
            maxTicks: 1,
            tickIntervalMillis: 1000,
            adoptGraceMillis: 60_000,
            watchRun: watchRunIn(storage, "p"),
            log: (line) => lines.push(line)
          })
        )
        yield* TestClock.adjust(10)
        const byId = () => Effect.map(store.runs(), (runs) => new Map(runs.map((r) => [r.id, r])))
        let runs = yield* byId()
        expect(runs.get("done")).toMatchObject({ status: "succeeded", runId: "m-done", endedAt: T0 + 1000 })
        expect(runs.get("dying")?.status).toBe("launched")
        expect(runs.get("never")?.status).toBe("launched")
        expect(lines.join("\n")).toContain(
          "watching run dying of schedule nightly (launched on elsewhere by elsewhere:7:old) through its Materia run m-dying"
        )

        // The dead-run monitor ends the Materia run whose driver died.
        yield* storage.append("p", [
          {
            _tag: "RunFinished",
            runId: "m-dying",
            at: T0 + 1500,
            status: "failed",
            durationMillis: 1500,
            reason: "its driver stopped heartbeating"
          }
        ])
        yield* TestClock.adjust(1000)
        runs = yield* byId()
        expect(runs.get("dying")).toMatchObject({
          status: "failed",
          runId: "m-dying",
          error: "its driver stopped heartbeating"
        })
        expect(runs.get("never")?.status).toBe("launched")

        yield* TestClock.adjust(60_000)
        runs = yield* byId()
        expect(runs.get("never")).toMatchObject({ status: "lost" })
        expect(runs.get("never")?.error).toContain("Materia run m-never never appeared in the metadata store")
        yield* TestClock.adjust(1000)
        yield* Fiber.join(daemon)
      })
    ))

  it("records the host, its lease owner id and the Materia run id of each run it launches", () =>
    test(
      Effect.gen(function* () {
        const store = makeMemoryDaemonStore()
        yield* store.commitTick({
          tick: {
            tickId: "t",
            kind: "schedule",
            name: "nightly",
            tickAt: T0,
            evaluatedAt: T0,
            status: "requested",
            runIds: ["r1"]
          },
          runs: [queued("r1")],
          state: { kind: "schedule", name: "nightly", status: "running" }
        })
        yield* TestClock.setTime(T0)
        const controller = new AbortController()
        const lines: Array<string> = []
        const daemon = yield* Effect.forkChild(
          runDaemon({
            definitions,
            store,
            target,
            signal: controller.signal,
            log: (line) => lines.push(line)
          })
        )
        yield* TestClock.adjust(10)
        const [run] = yield* store.runs()
        const owner = /^daemon (\S+):/.exec(lines.find((l) => l.startsWith("daemon ")) ?? "")?.[1]
        expect(run).toMatchObject({ status: "launched", host: thisHost(), leaseOwner: owner })
        expect(run?.leaseOwner).toMatch(new RegExp(`^${thisHost()}:${process.pid}:`))
        expect(run?.runId).toMatch(/^20260301T100000-[0-9a-f]{8}$/)
        expect(run?.pid).toBeTypeOf("number")
        controller.abort()
        yield* TestClock.adjust(1000)
        yield* Fiber.join(daemon)
      })
    ))
})
