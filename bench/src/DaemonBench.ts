/**
 * Benchmark: the daemon's tick latency with 1,000 schedules and 100 sensors — one `runTick` (the
 * evaluation and recording of every due tick, no run launched) on the SQLite daemon store in a fresh
 * project database and on the in-memory store. Two ticks: an idle one (nothing due: the steady
 * state, every second) and a busy one (every schedule and every sensor due at once: 1,100 ticks,
 * each committed with its queued run in its own transaction). Floors, measured in the same run: the
 * same database work done with raw better-sqlite3 statements plus cron-parser's own `next()` per
 * schedule. Run alone: `node --import tsx bench/src/DaemonBench.ts`.
 */

import { rmSync } from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { schedule, sensor } from "@materia/assets"
import { AssetGraph, type AssetSpec, noRetry } from "@materia/core"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import { type DaemonStore, makeMemoryDaemonStore } from "../../server/src/daemon/DaemonStore.ts"
import { openSqliteDaemonStore } from "../../server/src/daemon/SqliteDaemonStore.ts"
import { type Definitions, runTick, type TickCache } from "../../server/src/daemon/TickEngine.ts"
import { makeTempDir } from "./Child.ts"
import {
  figure,
  type Goal,
  ms,
  RUNS,
  renderSection,
  type Samples,
  type Section,
  sampleAsync,
  times
} from "./Measure.ts"

const SCHEDULES = 1000
const SENSORS = 100
const ASSETS = 100
const T0 = Date.UTC(2026, 1, 10, 10, 0, 30)
/** One hour later: every schedule (one run per hour, at minute i % 60) is due once. */
const BUSY_AT = T0 + 3_600_000
const TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]

/** An idle tick should leave most of a 1-second tick interval free. */
const IDLE_GOAL_MS = 50
/** The busy tick may cost at most this multiple of its floor. */
const BUSY_GOAL_RATIO = 3

const spec = (key: string): AssetSpec => ({
  key,
  kind: "asset",
  inputs: [],
  deps: [],
  group: "default",
  tags: {},
  owners: [],
  metadata: {},
  codeVersion: "v1",
  codeVersionSource: "user",
  pool: "default",
  retry: noRetry,
  ioManager: "memory",
  hasConfig: false
})

const definitions = (): Definitions => ({
  graph: AssetGraph.make(Array.from({ length: ASSETS }, (_, i) => spec(`a_${i}`))),
  schedules: Array.from({ length: SCHEDULES }, (_, i) =>
    schedule(`s_${i}`, {
      cron: `${i % 60} * * * *`,
      timezone: TIMEZONES[i % TIMEZONES.length],
      select: `a_${i % ASSETS}`,
      defaultStatus: "running"
    })
  ),
  sensors: Array.from({ length: SENSORS }, (_, i) =>
    sensor(`n_${i}`, {
      interval: "30 seconds",
      defaultStatus: "running",
      evaluate: ({ now, cursor }) => ({
        runRequests: [{ select: `a_${i % ASSETS}`, runKey: `file-${now}` }],
        cursor: String(Number(cursor ?? 0) + 1)
      })
    })
  )
})

/** States as a daemon leaves them after ticking at `at`: schedules started at T0, sensors evaluated at `at`. */
const seed = (store: DaemonStore, defs: Definitions, sensorsAt: number) =>
  Effect.gen(function* () {
    for (const s of defs.schedules)
      yield* store.setState({ kind: "schedule", name: s.name, status: "running", startedAt: T0 })
    for (const s of defs.sensors)
      yield* store.setState({
        kind: "sensor",
        name: s.name,
        status: "running",
        lastTickAt: sensorsAt,
        cursor: "0"
      })
  })

const tickAt = (defs: Definitions, store: DaemonStore, at: number, cache: TickCache) =>
  Effect.runPromise(
    Effect.gen(function* () {
      yield* TestClock.setTime(at)
      return yield* runTick(defs, store, { cache })
    }).pipe(Effect.provide(TestClock.layer()))
  )

type StoreKind = "sqlite" | "memory"

const measureEngine = async (kind: StoreKind, busy: boolean, defs: Definitions): Promise<Samples> => {
  let dir = ""
  let store: DaemonStore | undefined
  let cache: TickCache = new Map()
  const at = busy ? BUSY_AT : T0 + 10_000
  const samples = await sampleAsync(
    RUNS,
    async () => {
      const report = await tickAt(defs, store!, at, cache)
      const expected = busy ? SCHEDULES + SENSORS : 0
      if (report.ticks.length !== expected)
        throw new Error(`expected ${expected} ticks, recorded ${report.ticks.length}`)
    },
    {
      before: async () => {
        cache = new Map()
        if (kind === "sqlite") {
          dir = makeTempDir("daemon")
          store = await Effect.runPromise(openSqliteDaemonStore(join(dir, "materia.db")))
        } else store = makeMemoryDaemonStore()
        await Effect.runPromise(seed(store, defs, busy ? BUSY_AT - 60_000 : T0 + 10_000))
        // As in a running daemon, the tick follows one that filled the cache of next due times.
        await tickAt(defs, store, T0 + 9_000, cache)
      },
      after: async () => {
        await Effect.runPromise(store!.close())
        if (dir !== "") rmSync(dir, { recursive: true, force: true })
      }
    }
  )
  return samples
}

interface CronParserModule {
  readonly CronExpressionParser: {
    parse(expression: string, options: { tz: string; currentDate: number }): { next(): { getTime(): number } }
  }
}

/** The least code doing the busy tick's work: cron-parser per schedule, then raw inserts per tick. */
const measureFloor = async (busy: boolean): Promise<Samples> => {
  const requireFromAssets = createRequire(
    fileURLToPath(new URL("../../assets/package.json", import.meta.url))
  )
  const { CronExpressionParser } = requireFromAssets("cron-parser") as CronParserModule
  let dir = ""
  let db: Database.Database | undefined
  return sampleAsync(
    RUNS,
    async () => {
      const states = db!.prepare("SELECT kind, name, last_tick_at FROM floor_state").all()
      if (states.length !== SCHEDULES + SENSORS) throw new Error("floor: states missing")
      if (!busy) return
      const crons = Array.from({ length: SCHEDULES }, (_, i) =>
        CronExpressionParser.parse(`${i % 60} * * * *`, {
          tz: TIMEZONES[i % TIMEZONES.length]!,
          currentDate: T0
        })
      )
      const insertTick = db!.prepare("INSERT INTO floor_ticks (tick_id, payload) VALUES (?, ?)")
      const insertRun = db!.prepare("INSERT INTO floor_runs (id, tick_id, payload) VALUES (?, ?, ?)")
      const upsert = db!.prepare("UPDATE floor_state SET last_tick_at = ? WHERE kind = ? AND name = ?")
      const commit = db!.transaction((id: string, name: string, kind: string, at: number) => {
        insertTick.run(id, JSON.stringify({ name, at }))
        insertRun.run(`r-${id}`, id, JSON.stringify({ select: name }))
        upsert.run(at, kind, name)
      })
      for (let i = 0; i < SCHEDULES; i++) {
        const at = crons[i]!.next().getTime()
        commit.immediate(`schedule:s_${i}@${at}`, `s_${i}`, "schedule", at)
      }
      for (let i = 0; i < SENSORS; i++)
        commit.immediate(`sensor:n_${i}@${BUSY_AT}`, `n_${i}`, "sensor", BUSY_AT)
    },
    {
      before: async () => {
        dir = makeTempDir("daemon-floor")
        db = new Database(join(dir, "floor.db"))
        db.pragma("journal_mode = WAL")
        db.pragma("synchronous = NORMAL")
        db.exec(`CREATE TABLE floor_state (kind TEXT, name TEXT, last_tick_at REAL, PRIMARY KEY (kind, name));
          CREATE TABLE floor_ticks (tick_id TEXT PRIMARY KEY, payload TEXT);
          CREATE TABLE floor_runs (id TEXT PRIMARY KEY, tick_id TEXT, payload TEXT)`)
        const insert = db.prepare("INSERT INTO floor_state VALUES (?, ?, ?)")
        for (let i = 0; i < SCHEDULES; i++) insert.run("schedule", `s_${i}`, T0)
        for (let i = 0; i < SENSORS; i++) insert.run("sensor", `n_${i}`, T0)
      },
      after: async () => {
        db!.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }
  )
}

/** Runs the daemon benchmark. */
export const daemonBench = async (): Promise<Section> => {
  const loadAtStart = os.loadavg()[0]!
  const defs = definitions()
  const idleSqlite = figure(await measureEngine("sqlite", false, defs))
  const idleMemory = figure(await measureEngine("memory", false, defs))
  const idleFloor = figure(await measureFloor(false))
  const busySqlite = figure(await measureEngine("sqlite", true, defs))
  const busyMemory = figure(await measureEngine("memory", true, defs))
  const busyFloor = figure(await measureFloor(true))
  const row = (name: string, f: { wall: number; cpu: number }, floor: { wall: number; cpu: number }) => [
    name,
    `${ms(f.wall)} / ${ms(f.cpu)}`,
    `${times(f.wall / floor.wall)} / ${times(f.cpu / floor.cpu)}`
  ]
  const goals: Array<Goal> = [
    {
      name: `idle tick, ${SCHEDULES} schedules + ${SENSORS} sensors, SQLite store, CPU time`,
      target: `< ${IDLE_GOAL_MS} ms`,
      actual: `${ms(idleSqlite.cpu)} ms (wall ${ms(idleSqlite.wall)} ms)`,
      met: idleSqlite.cpu < IDLE_GOAL_MS
    },
    {
      name: `busy tick (${SCHEDULES + SENSORS} ticks recorded), SQLite store, CPU time vs raw better-sqlite3 + cron-parser`,
      target: `≤ ${BUSY_GOAL_RATIO}× the floor`,
      actual: `${ms(busySqlite.cpu)} ms vs ${ms(busyFloor.cpu)} ms: ${times(busySqlite.cpu / busyFloor.cpu)} (wall ${ms(busySqlite.wall)} ms vs ${ms(busyFloor.wall)} ms)`,
      met: busySqlite.cpu <= BUSY_GOAL_RATIO * busyFloor.cpu
    }
  ]
  return {
    title: "The daemon's tick latency: 1,000 schedules and 100 sensors",
    summary:
      `One \`runTick\` (server/src/daemon/TickEngine.ts) over ${SCHEDULES} schedules (hourly at minute i mod 60, ` +
      `four timezones, ${ASSETS} assets) and ${SENSORS} sensors (every 30 s, one run request each), on the ` +
      "SQLite daemon store in a fresh database file (WAL, synchronous = NORMAL) and on the in-memory store. " +
      "Each measured tick follows an untimed one (as in a running daemon, which keeps each schedule's next due " +
      "time between ticks). Idle: nothing due (the steady state between ticks). Busy: " +
      `every schedule and sensor due at once, ${SCHEDULES + SENSORS} ticks each committed with its queued run ` +
      "and state in one transaction. Floors: the same rows written with raw better-sqlite3 prepared statements " +
      "(one transaction per tick) plus cron-parser's `next()` per schedule; the idle floor reads the state " +
      `table once. ${RUNS} timed runs after warm-ups, a fresh store per run; medians.`,
    tables: [
      {
        header: ["tick", "ms (wall / CPU)", "vs floor (wall / CPU)"],
        rows: [
          row("idle, SQLite store", idleSqlite, idleFloor),
          row("idle, in-memory store", idleMemory, idleFloor),
          row("idle floor (one SELECT of the states)", idleFloor, idleFloor),
          row("busy, SQLite store", busySqlite, busyFloor),
          row("busy, in-memory store", busyMemory, busyFloor),
          row("busy floor (raw inserts + cron-parser)", busyFloor, busyFloor)
        ]
      }
    ],
    goals,
    notes: [
      `1-minute load average ${loadAtStart.toFixed(1)} at the start and ${os.loadavg()[0]!.toFixed(1)} at the end, on ` +
        `${os.cpus().length} cores: goals use CPU time, which other processes disturb less than wall time.`,
      "The engine's own CPU is mostly cron-parser (luxon's timezone offsets): one `next()` per due schedule, " +
        "as the floor; an idle tick compares each schedule's cached next due time with the clock."
    ]
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const section = await daemonBench()
  process.stdout.write(`${renderSection(section)}\n`)
}
