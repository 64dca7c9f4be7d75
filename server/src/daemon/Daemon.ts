/**
 * The daemon loop: hold the store's lease (a second daemon says who holds it and waits), then every
 * tick interval renew it, evaluate the due ticks, reap the runs that ended and launch queued runs
 * under the queue's limits, each in its own process. Restart-safe: ticks are recorded once by id
 * with their runs; a queued run is marked launched before its process starts, so a daemon killed
 * in between never launches it twice (the run is reported `lost` instead), and a run whose process
 * outlived its daemon is adopted by the next one: by its pid when it was launched on this host, and
 * through its Materia run in the metadata store when it was launched on another (`watchRun`).
 */
import { rmSync } from "node:fs"
import { join } from "node:path"
import type { AddPartitions } from "@materia/assets"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { DaemonStore, DaemonStoreError, QueuedRun, TickRecord } from "./DaemonStore.ts"
import {
  isAlive,
  type LaunchTarget,
  launchRun,
  newMateriaRunId,
  type RunOutcome,
  readOutcome,
  thisHost
} from "./RunLauncher.ts"
import { launchable, type QueueLimits } from "./RunQueue.ts"
import { queueRetry, type RunRetryPolicy, retryOf } from "./RunRetry.ts"
import type { WatchedRun } from "./RunWatch.ts"
import { type CatchUp, type Definitions, runTick, type TickCache, type TickOptions } from "./TickEngine.ts"

export interface DaemonConfig {
  readonly definitions: Definitions
  readonly store: DaemonStore
  readonly target: LaunchTarget
  /** Time between ticks; 1 second by default (enough for 6-field, seconds-resolution crons). */
  readonly tickIntervalMillis?: number | undefined
  readonly catchUp?: CatchUp | undefined
  /** 4 concurrent runs by default, no tag limits. */
  readonly limits?: QueueLimits | undefined
  /** A lease not renewed for this long is free; 30 seconds by default. */
  readonly leaseTtlMillis?: number | undefined
  readonly log?: ((line: string) => void) | undefined
  /** Stops the loop (the lease is released; launched runs keep running and are adopted next time). */
  readonly signal?: AbortSignal | undefined
  /** Stop after this many ticks (`materia daemon --ticks N`), once launched runs have ended. */
  readonly maxTicks?: number | undefined
  readonly addPartitions?: ((add: ReadonlyArray<AddPartitions>) => Effect.Effect<void, unknown>) | undefined
  readonly observeAssets?: TickOptions["observeAssets"]
  readonly materializations?: TickOptions["materializations"]
  readonly endedRuns?: TickOptions["endedRuns"]
  readonly project?: string | undefined
  /** Retention of ticks, ended runs (and their output files) and run keys; 30 days by default. */
  readonly keepMillis?: number | undefined
  /** The ids of backfills queued for the daemon (`materia backfill --queue`), read every tick. */
  readonly queuedBackfills?: (() => Effect.Effect<ReadonlyArray<string>, unknown>) | undefined
  /** Run-level retries: a failed run is re-executed from failure up to `attempts` runs in all. */
  readonly runRetry?: RunRetryPolicy | undefined
  /** The project's retention (old runs, superseded values), run with the hourly prune; says what it deleted. */
  readonly retention?: (() => Effect.Effect<string | undefined, unknown>) | undefined
  readonly automationIntervalMillis?: number | undefined
  /** The project's alerts: sent when an asset becomes overdue against its freshness policy. */
  readonly alerts?: TickOptions["alerts"]
  /**
   * Reads what the metadata store says of a run launched on another host (`watchRunIn`): its pid
   * is another machine's, so it ends when its Materia run ends. Without it such runs stay launched.
   */
  readonly watchRun?: ((run: QueuedRun) => Effect.Effect<WatchedRun, unknown>) | undefined
  /**
   * A run launched on another host whose Materia run the metadata store has not recorded this long
   * after its launch is `lost` (its process never got that far); 10 minutes by default.
   */
  readonly adoptGraceMillis?: number | undefined
}

/** Who holds a lease: `<host>:<pid>:<nonce>`. */
export const leaseOwner = (): string => `${thisHost()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`

/** Whether a lease holder is a dead process of this host. */
const holderIsDead = (holder: string): boolean => {
  const [host, pid] = holder.split(":")
  return host === thisHost() && pid !== undefined && /^\d+$/.test(pid) && !isAlive(Number(pid))
}

const describeTick = (t: TickRecord): string => {
  const what = `${t.kind} ${t.name} @ ${new Date(t.tickAt).toISOString()}`
  switch (t.status) {
    case "requested":
      return `${what}: requested ${t.runIds.length} run${t.runIds.length === 1 ? "" : "s"}${t.skipReason === undefined ? "" : ` (${t.skipReason})`}`
    case "skipped":
      return `${what}: skipped (${t.skipReason ?? "no run requested"})`
    case "failed":
      return `${what}: failed: ${t.error}`
    case "fresh":
    case "overdue":
      return `${what}: ${t.status}: ${t.reason ?? ""}`
  }
}

/** Runs the daemon until `signal` aborts (or `maxTicks` ticks are done). */
export const runDaemon = (config: DaemonConfig): Effect.Effect<void, DaemonStoreError> =>
  Effect.gen(function* () {
    const { store, target, definitions } = config
    const log = config.log ?? (() => {})
    const interval = config.tickIntervalMillis ?? 1000
    const ttl = config.leaseTtlMillis ?? 30_000
    const limits = config.limits ?? { maxConcurrentRuns: 4 }
    const owner = leaseOwner()
    const host = thisHost()
    const stopped = () => config.signal?.aborted === true
    const exits = new Map<string, { code: number | null | undefined }>()
    const cache: TickCache = new Map()
    const keep = config.keepMillis ?? 30 * 86_400_000
    let prunedAt = Number.NEGATIVE_INFINITY

    /** Hourly (and at start): forget what is older than the retention. */
    const prune = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (now - prunedAt < 3_600_000) return
      prunedAt = now
      const pruned = yield* store.prune(now - keep)
      for (const id of pruned.runIds)
        for (const ext of [".json", ".log"]) rmSync(join(target.logDir, `${id}${ext}`), { force: true })
      if (pruned.ticks + pruned.runIds.length + pruned.runKeys > 0)
        log(
          `retention: forgot ${pruned.ticks} ticks, ${pruned.runIds.length} ended runs and ${pruned.runKeys} run keys older than ${new Date(now - keep).toISOString()}`
        )
      if (config.retention !== undefined) {
        // A failing gc is logged; the daemon keeps ticking and tries again next hour.
        const outcome = yield* Effect.exit(config.retention())
        if (outcome._tag === "Success" && outcome.value !== undefined) log(`retention: ${outcome.value}`)
        if (outcome._tag === "Failure") log(`retention failed: ${outcome.cause.toString().split("\n")[0]}`)
      }
    })

    /** Waits for the lease; false when stopped while waiting. */
    const acquire = Effect.gen(function* () {
      let announced = false
      let replacing: string | undefined
      while (!stopped()) {
        const now = yield* Clock.currentTimeMillis
        const lease = yield* store.acquireLease(owner, now, ttl, replacing)
        if (lease.acquired) {
          if (replacing !== undefined) log(`took over the lease of ${replacing}, whose process is gone`)
          return true
        }
        if (holderIsDead(lease.holder)) {
          replacing = lease.holder
          continue
        }
        if (!announced) {
          log(
            `another daemon (${lease.holder}) holds the lease of this store until ${new Date(lease.expiresAt).toISOString()}; waiting for it`
          )
          announced = true
        }
        yield* Effect.sleep(Math.min(interval * 2, Math.max(100, ttl / 3)))
      }
      return false
    })

    const finish = (run: QueuedRun, code: number | null | undefined, now: number) =>
      finishWith(run, readOutcome(target.logDir, run.id, code), now)

    const finishWith = (run: QueuedRun, outcome: RunOutcome | undefined, now: number) => {
      const status = outcome?.status ?? "lost"
      log(
        `run ${run.id} of ${run.kind} ${run.name} ${status}${outcome?.runId === undefined ? "" : ` (materia run ${outcome.runId})`}${outcome?.error === undefined ? "" : `: ${outcome.error}`}`
      )
      const retry =
        outcome === undefined
          ? undefined
          : retryOf(run, outcome, config.runRetry, now, () => crypto.randomUUID())
      const retried =
        retry === undefined
          ? Effect.void
          : Effect.tap(queueRetry(store, retry), (result) =>
              Effect.sync(() => {
                if (result.committed) log(`queued ${retry.run.id}: ${retry.tick.reason}`)
              })
            )
      return Effect.andThen(
        retried,
        store.updateRun(run.id, {
          status,
          endedAt: now,
          ...(outcome?.runId === undefined ? {} : { runId: outcome.runId }),
          ...(outcome === undefined
            ? { error: "its process ended without reporting a result (killed?)" }
            : outcome.error === undefined
              ? {}
              : { error: outcome.error })
        })
      )
    }

    const watched = new Set<string>()
    /** A run launched on another host: it ends when the metadata store says its Materia run ended. */
    const adopt = (run: QueuedRun, now: number) =>
      Effect.gen(function* () {
        const where = `launched on ${run.host}${run.leaseOwner === undefined ? "" : ` by ${run.leaseOwner}`}`
        if (!watched.has(run.id)) {
          watched.add(run.id)
          log(
            config.watchRun === undefined
              ? `run ${run.id} of ${run.kind} ${run.name} was ${where}: its pid is not this host's, and without the metadata store this daemon cannot tell when it ends`
              : `watching run ${run.id} of ${run.kind} ${run.name} (${where}) through ${run.request.backfillId === undefined ? `its Materia run ${run.runId ?? "(none recorded)"}` : `backfill ${run.request.backfillId}`} in the metadata store`
          )
        }
        if (config.watchRun === undefined) return
        // A store that cannot be read now is read again next tick.
        const seen = yield* Effect.result(config.watchRun(run))
        if (seen._tag === "Failure") return
        const w = seen.success
        if (w.state === "running") return
        if (w.state === "unknown") {
          if (now - (run.launchedAt ?? run.enqueuedAt) < (config.adoptGraceMillis ?? 600_000)) return
          const error = `${where}, its ${run.request.backfillId === undefined ? `Materia run ${run.runId ?? "(no id recorded)"}` : `backfill ${run.request.backfillId}`} never appeared in the metadata store: its process did not start, or died before recording it`
          log(`run ${run.id} of ${run.kind} ${run.name} lost: ${error}`)
          watched.delete(run.id)
          yield* store.updateRun(run.id, { status: "lost", endedAt: now, error })
          return
        }
        watched.delete(run.id)
        yield* finishWith(
          run,
          {
            status: w.status === "succeeded" ? "succeeded" : "failed",
            ...(w.runId === undefined ? {} : { runId: w.runId }),
            ...(w.status === "succeeded" ? {} : { error: w.reason ?? `run ${w.status}` })
          },
          now
        )
      })

    const reap = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      for (const run of yield* store.runs({ status: ["launched"] })) {
        const exit = exits.get(run.id)
        if (exit !== undefined) {
          if (exit.code === undefined) continue
          exits.delete(run.id)
          yield* finish(run, exit.code, now)
        } else if (run.host !== undefined && run.host !== host) {
          // Launched elsewhere: its pid is another machine's, never judged here.
          yield* adopt(run, now)
        } else if (run.pid === undefined) {
          log(`run ${run.id} of ${run.kind} ${run.name} lost: a daemon stopped before its process started`)
          yield* store.updateRun(run.id, {
            status: "lost",
            endedAt: now,
            error:
              "the daemon stopped between marking the run launched and starting its process; not relaunched"
          })
        } else if (!isAlive(run.pid)) {
          // Launched by an earlier daemon: adopted, and its outcome read from its output files.
          yield* finish(run, undefined, now)
        }
      }
    })

    /** Each queued backfill becomes one queued run (`materia backfill resume <id>`), once: its tick id is the backfill's. */
    const driveBackfills = Effect.gen(function* () {
      if (config.queuedBackfills === undefined) return
      const ids = yield* Effect.orElseSucceed(config.queuedBackfills(), () => [] as ReadonlyArray<string>)
      for (const backfillId of ids) {
        const now = yield* Clock.currentTimeMillis
        const tickId = `backfill:${backfillId}`
        const id = crypto.randomUUID()
        const result = yield* store.commitTick({
          tick: {
            tickId,
            kind: "backfill",
            name: backfillId,
            tickAt: now,
            evaluatedAt: now,
            status: "requested",
            runIds: [id],
            reason: `backfill ${backfillId} was queued`
          },
          runs: [
            {
              id,
              tickId,
              kind: "backfill",
              name: backfillId,
              request: { select: backfillId, backfillId },
              status: "queued",
              enqueuedAt: now
            }
          ],
          state: { kind: "backfill", name: backfillId, status: "running" }
        })
        if (result.committed) log(`queued run ${id}: backfill ${backfillId}`)
      }
    })

    const launch = Effect.gen(function* () {
      const queued = yield* store.runs({ status: ["queued"] })
      if (queued.length === 0) return
      const active = yield* store.runs({ status: ["launched"] })
      for (const run of launchable(queued, active, limits)) {
        const now = yield* Clock.currentTimeMillis
        // Marked first: a daemon killed before the process starts leaves it `lost`, never launched twice.
        // With where and by whom, and the Materia run's id, so a daemon of another host can follow it.
        const runId = run.request.backfillId === undefined ? newMateriaRunId(now) : undefined
        yield* store.updateRun(run.id, {
          status: "launched",
          launchedAt: now,
          host,
          leaseOwner: owner,
          ...(runId === undefined ? {} : { runId })
        })
        let pid: number
        try {
          const process = launchRun(runId === undefined ? run : { ...run, runId }, target)
          pid = process.pid
          const exit: { code: number | null | undefined } = { code: undefined }
          exits.set(run.id, exit)
          void process.exited.then((code) => {
            exit.code = code
          })
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          log(`run ${run.id} of ${run.kind} ${run.name} failed to start: ${message}`)
          yield* store.updateRun(run.id, { status: "failed", endedAt: now, error: message })
          continue
        }
        yield* store.updateRun(run.id, { pid })
        log(
          `launched run ${run.id} of ${run.kind} ${run.name} (pid ${pid}${runId === undefined ? "" : `, materia run ${runId}`})`
        )
      }
    })

    if (!(yield* acquire)) return
    const freshnessPolicies = definitions.graph.specs.filter(
      (spec) => spec.freshnessMillis !== undefined
    ).length
    log(
      `daemon ${owner}: ${definitions.schedules.length} schedule${definitions.schedules.length === 1 ? "" : "s"}, ${definitions.sensors.length} sensor${definitions.sensors.length === 1 ? "" : "s"}, ${definitions.automations?.length ?? 0} automation condition${definitions.automations?.length === 1 ? "" : "s"}, ${freshnessPolicies} freshness polic${freshnessPolicies === 1 ? "y" : "ies"}; ticking every ${interval} ms`
    )
    const loop = Effect.gen(function* () {
      let ticks = 0
      while (!stopped()) {
        const now = yield* Clock.currentTimeMillis
        const renewed = yield* store.acquireLease(owner, now, ttl)
        if (!renewed.acquired) {
          log(`lost the lease to ${renewed.holder}; waiting`)
          if (!(yield* acquire)) return
        }
        yield* reap
        yield* prune
        if (config.maxTicks === undefined || ticks < config.maxTicks) {
          const report = yield* runTick(definitions, store, {
            catchUp: config.catchUp,
            cache,
            addPartitions: config.addPartitions,
            observeAssets: config.observeAssets,
            materializations: config.materializations,
            endedRuns: config.endedRuns,
            project: config.project,
            automationIntervalMillis: config.automationIntervalMillis,
            alerts: config.alerts
          })
          ticks++
          for (const t of report.ticks) log(describeTick(t))
          yield* driveBackfills
        } else if ((yield* store.runs({ status: ["queued", "launched"] })).length === 0) return
        yield* launch
        yield* Effect.sleep(interval)
      }
    })
    yield* loop.pipe(Effect.ensuring(Effect.ignore(store.releaseLease(owner))))
  })
