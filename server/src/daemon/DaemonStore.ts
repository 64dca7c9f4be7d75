/**
 * What the daemon keeps: the state of each schedule and sensor (running or stopped, cursor, last
 * tick), the tick history, the run queue with the run keys already launched, and the lease that lets
 * one daemon at a time work on a store. One small interface with three implementations held to one
 * suite (`DaemonStoreSuite.ts`): in memory here, SQLite in the project's own database file
 * (`SqliteDaemonStore.ts`) and PostgreSQL beside a production project's metadata (`PostgresDaemonStore.ts`).
 */
import type { RunRequest } from "@materia/assets"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/**
 * What a tick evaluates or what made a queued run: a schedule, a sensor, an asset's automation
 * condition (named by its key), a queued backfill, or an asset's freshness policy (named by its key;
 * its ticks never request runs).
 */
export type InstigatorKind = "schedule" | "sensor" | "automation" | "backfill" | "freshness"

/** The stored state of one schedule or sensor. */
export interface InstigatorState {
  readonly kind: InstigatorKind
  readonly name: string
  readonly status: "running" | "stopped"
  /** When it was last started: a schedule never ticks for times before. */
  readonly startedAt?: number | undefined
  /** Schedules: the scheduled time of the last recorded tick; sensors: when it was last evaluated. */
  readonly lastTickAt?: number | undefined
  /** Sensors: the cursor of the last successful evaluation; freshness: the last verdict (`fresh` or `overdue`). */
  readonly cursor?: string | undefined
}

/**
 * `requested` launched runs, `skipped` requested none (with a reason), `failed` hit an error;
 * freshness ticks say `fresh` or `overdue` (with the reason), and request no run.
 */
export type TickStatus = "requested" | "skipped" | "failed" | "fresh" | "overdue"

/** One recorded tick. */
export interface TickRecord {
  /** The idempotency key: `schedule:<name>@<scheduled time>` or `sensor:<name>@<evaluation time>`. */
  readonly tickId: string
  readonly kind: InstigatorKind
  readonly name: string
  /** Schedules: the scheduled time; sensors: the evaluation time. */
  readonly tickAt: number
  /** When the daemon evaluated it (later than `tickAt` when catching up). */
  readonly evaluatedAt: number
  readonly status: TickStatus
  /** The queued runs this tick created. */
  readonly runIds: ReadonlyArray<string>
  readonly skipReason?: string | undefined
  /** Why it requested what it did (automation conditions explain every decision). */
  readonly reason?: string | undefined
  readonly error?: string | undefined
  /** Sensors: the cursor after this tick. */
  readonly cursor?: string | undefined
}

/** `queued` → `launched` → `succeeded` | `failed`; `lost` when its process vanished without a result. */
export type QueuedRunStatus = "queued" | "launched" | "succeeded" | "failed" | "lost"

/** One run requested by a tick, from queueing to its end. */
export interface QueuedRun {
  readonly id: string
  readonly tickId: string
  readonly kind: InstigatorKind
  readonly name: string
  readonly request: RunRequest
  readonly status: QueuedRunStatus
  readonly enqueuedAt: number
  readonly launchedAt?: number | undefined
  readonly endedAt?: number | undefined
  /** The launched process, on `host`. */
  readonly pid?: number | undefined
  /**
   * The Materia run id: chosen by the daemon when it launches the run (`materia materialize
   * --run-id`), so any daemon can find the run in the metadata store; a backfill's runs have none.
   */
  readonly runId?: string | undefined
  readonly error?: string | undefined
  /** The host the run was launched on: only a daemon on that host can judge its `pid`. */
  readonly host?: string | undefined
  /** The lease owner id of the daemon that launched it. */
  readonly leaseOwner?: string | undefined
}

/** What `updateRun` may change. */
export type QueuedRunPatch = Partial<
  Pick<QueuedRun, "status" | "launchedAt" | "endedAt" | "pid" | "runId" | "error" | "host" | "leaseOwner">
>

/** What `commitTick` did: whether it recorded the tick, the tick as stored, and the run keys it dropped. */
export interface CommitResult {
  readonly committed: boolean
  readonly tick: TickRecord
  readonly droppedRunKeys: ReadonlyArray<string>
}

/** What `prune` deleted; `runIds` name the runs whose output files may go too. */
export interface PruneResult {
  readonly ticks: number
  readonly runIds: ReadonlyArray<string>
  readonly runKeys: number
}

/** Runs in these states are over; only they are pruned. */
export const ENDED: ReadonlyArray<QueuedRunStatus> = ["succeeded", "failed", "lost"]

/** The result of asking for the lease. */
export type LeaseResult =
  | { readonly acquired: true }
  | { readonly acquired: false; readonly holder: string; readonly expiresAt: number }

/** Who holds the lease, until when (a lease past `expiresAt` is free to take). */
export interface LeaseHolder {
  readonly holder: string
  readonly expiresAt: number
}

/** Why a daemon store operation failed: names the store and the operation. */
export class DaemonStoreError extends Data.TaggedError("DaemonStoreError")<{
  readonly operation: string
  readonly message: string
  readonly cause?: unknown
}> {}

export interface DaemonStore {
  readonly state: (
    kind: InstigatorKind,
    name: string
  ) => Effect.Effect<InstigatorState | undefined, DaemonStoreError>
  readonly states: () => Effect.Effect<ReadonlyArray<InstigatorState>, DaemonStoreError>
  /** Writes the whole state: what start and stop use (the only writers of `status` and `startedAt`). */
  readonly setState: (state: InstigatorState) => Effect.Effect<void, DaemonStoreError>
  /**
   * Stores `state` only when nothing is stored for it yet (the daemon recording when a definition
   * running by default was first seen); a state stored meanwhile (a stop) is kept. Returns whether
   * it stored it.
   */
  readonly initState: (state: InstigatorState) => Effect.Effect<boolean, DaemonStoreError>
  /**
   * Records a tick, its queued runs and what the tick owns of the state in one transaction. A tick
   * whose id is already recorded changes nothing (`committed: false`). Runs whose run key this
   * schedule or sensor already used are dropped and listed in `droppedRunKeys`; the stored tick
   * lists only the runs kept (and is `skipped` when none is left of a `requested` tick).
   *
   * Of `state`, only `lastTickAt` and `cursor` are written over a stored state: `status` and
   * `startedAt` belong to start and stop (`setState`), so a stop landing between the daemon's read
   * of the state and this commit is kept. With no stored state, `state` is stored as it is (a
   * definition running by default, ticked for the first time).
   */
  readonly commitTick: (input: {
    readonly tick: TickRecord
    readonly runs: ReadonlyArray<QueuedRun>
    readonly state: InstigatorState
  }) => Effect.Effect<CommitResult, DaemonStoreError>
  /** Ticks, newest first. */
  readonly ticks: (filter?: {
    readonly kind?: InstigatorKind
    readonly name?: string
    readonly limit?: number
  }) => Effect.Effect<ReadonlyArray<TickRecord>, DaemonStoreError>
  /** Queued runs in queue order (oldest first), optionally of some statuses or one tick. */
  readonly runs: (filter?: {
    readonly status?: ReadonlyArray<QueuedRunStatus>
    readonly tickId?: string
  }) => Effect.Effect<ReadonlyArray<QueuedRun>, DaemonStoreError>
  readonly updateRun: (id: string, patch: QueuedRunPatch) => Effect.Effect<void, DaemonStoreError>
  /**
   * Takes the lease when free or expired, renews it when `owner` holds it, takes it over when
   * `replacing` is the holder (one known to be dead); otherwise says who holds it.
   */
  readonly acquireLease: (
    owner: string,
    now: number,
    ttlMillis: number,
    replacing?: string
  ) => Effect.Effect<LeaseResult, DaemonStoreError>
  /**
   * Retention: deletes ticks evaluated before `before`, runs that ended before it and run keys
   * first used before it (a sensor may launch such a key again). Queued and launched runs stay.
   */
  readonly prune: (before: number) => Effect.Effect<PruneResult, DaemonStoreError>
  /** The lease as stored, expired or not; undefined when no daemon holds it or it was released. */
  readonly lease: () => Effect.Effect<LeaseHolder | undefined, DaemonStoreError>
  /** Gives the lease up if `owner` holds it. */
  readonly releaseLease: (owner: string) => Effect.Effect<void, DaemonStoreError>
  readonly close: () => Effect.Effect<void>
}

const runKeyOf = (kind: InstigatorKind, name: string, runKey: string): string =>
  `${kind}\u0000${name}\u0000${runKey}`

/** Applies the run-key rule of `commitTick`: the runs kept and the run keys dropped. */
export const dedupeRuns = (
  runs: ReadonlyArray<QueuedRun>,
  seen: (runKey: string) => boolean
): { readonly kept: ReadonlyArray<QueuedRun>; readonly dropped: ReadonlyArray<string> } => {
  const kept: Array<QueuedRun> = []
  const dropped: Array<string> = []
  const inTick = new Set<string>()
  for (const run of runs) {
    const key = run.request.runKey
    if (key !== undefined && (seen(key) || inTick.has(key))) dropped.push(key)
    else {
      if (key !== undefined) inTick.add(key)
      kept.push(run)
    }
  }
  return { kept, dropped }
}

/** The tick as stored once duplicate run keys are dropped. */
export const storedTick = (
  tick: TickRecord,
  kept: ReadonlyArray<QueuedRun>,
  dropped: ReadonlyArray<string>
): TickRecord => {
  if (dropped.length === 0) return tick
  const note = `run key${dropped.length === 1 ? "" : "s"} already launched: ${dropped.slice(0, 5).join(", ")}${dropped.length > 5 ? ", …" : ""}`
  return {
    ...tick,
    runIds: kept.map((r) => r.id),
    ...(kept.length === 0 && tick.status === "requested"
      ? { status: "skipped" as const, skipReason: note }
      : { skipReason: tick.skipReason ?? note })
  }
}

/** The state `commitTick` stores: the tick's `lastTickAt` and `cursor` with the stored status and start time. */
export const tickedState = (
  stored: InstigatorState | undefined,
  ticked: InstigatorState
): InstigatorState => {
  if (stored === undefined) return ticked
  const { lastTickAt: _lastTickAt, cursor: _cursor, ...kept } = stored
  return {
    ...kept,
    ...(ticked.lastTickAt === undefined ? {} : { lastTickAt: ticked.lastTickAt }),
    ...(ticked.cursor === undefined ? {} : { cursor: ticked.cursor })
  }
}

/** A daemon store in memory: for tests and for `materia dev` sessions that keep nothing. */
export const makeMemoryDaemonStore = (): DaemonStore => {
  const states = new Map<string, InstigatorState>()
  const ticks = new Map<string, TickRecord>()
  const tickOrder: Array<string> = []
  const runs = new Map<string, QueuedRun>()
  const runKeys = new Map<string, number>()
  let lease: { owner: string; expiresAt: number } | undefined
  const stateKey = (kind: InstigatorKind, name: string) => `${kind}\u0000${name}`
  return {
    state: (kind, name) => Effect.sync(() => states.get(stateKey(kind, name))),
    states: () =>
      Effect.sync(() =>
        [...states.values()].sort((a, b) =>
          a.kind === b.kind ? (a.name < b.name ? -1 : 1) : a.kind < b.kind ? -1 : 1
        )
      ),
    setState: (state) =>
      Effect.sync(() => {
        states.set(stateKey(state.kind, state.name), state)
      }),
    initState: (state) =>
      Effect.sync(() => {
        const key = stateKey(state.kind, state.name)
        if (states.has(key)) return false
        states.set(key, state)
        return true
      }),
    commitTick: ({ tick, runs: requested, state }) =>
      Effect.sync(() => {
        if (ticks.has(tick.tickId)) return { committed: false, tick, droppedRunKeys: [] }
        const { kept, dropped } = dedupeRuns(requested, (k) => runKeys.has(runKeyOf(tick.kind, tick.name, k)))
        const stored = storedTick(tick, kept, dropped)
        ticks.set(tick.tickId, stored)
        tickOrder.push(tick.tickId)
        for (const run of kept) {
          runs.set(run.id, run)
          if (run.request.runKey !== undefined)
            runKeys.set(runKeyOf(tick.kind, tick.name, run.request.runKey), tick.evaluatedAt)
        }
        const key = stateKey(state.kind, state.name)
        states.set(key, tickedState(states.get(key), state))
        return { committed: true, tick: stored, droppedRunKeys: dropped }
      }),
    ticks: (filter) =>
      Effect.sync(() => {
        const out: Array<TickRecord> = []
        for (let i = tickOrder.length - 1; i >= 0; i--) {
          const t = ticks.get(tickOrder[i]!)!
          if (filter?.kind !== undefined && t.kind !== filter.kind) continue
          if (filter?.name !== undefined && t.name !== filter.name) continue
          out.push(t)
          if (filter?.limit !== undefined && out.length >= filter.limit) break
        }
        return out
      }),
    runs: (filter) =>
      Effect.sync(() =>
        [...runs.values()].filter(
          (r) =>
            (filter?.status === undefined || filter.status.includes(r.status)) &&
            (filter?.tickId === undefined || r.tickId === filter.tickId)
        )
      ),
    updateRun: (id, patch) =>
      Effect.suspend(() => {
        const run = runs.get(id)
        if (run === undefined)
          return Effect.fail(
            new DaemonStoreError({
              operation: "updateRun",
              message: `no queued run ${id} in the daemon store`
            })
          )
        runs.set(id, { ...run, ...patch })
        return Effect.void
      }),
    acquireLease: (owner, now, ttlMillis, replacing) =>
      Effect.sync((): LeaseResult => {
        if (
          lease === undefined ||
          lease.owner === owner ||
          lease.owner === replacing ||
          lease.expiresAt <= now
        ) {
          lease = { owner, expiresAt: now + ttlMillis }
          return { acquired: true }
        }
        return { acquired: false, holder: lease.owner, expiresAt: lease.expiresAt }
      }),
    lease: () =>
      Effect.sync(() =>
        lease === undefined ? undefined : { holder: lease.owner, expiresAt: lease.expiresAt }
      ),
    releaseLease: (owner) =>
      Effect.sync(() => {
        if (lease?.owner === owner) lease = undefined
      }),
    prune: (before) =>
      Effect.sync(() => {
        let prunedTicks = 0
        for (let i = tickOrder.length - 1; i >= 0; i--) {
          const id = tickOrder[i]!
          if (ticks.get(id)!.evaluatedAt < before) {
            ticks.delete(id)
            tickOrder.splice(i, 1)
            prunedTicks++
          }
        }
        const runIds: Array<string> = []
        for (const [id, run] of runs)
          if (ENDED.includes(run.status) && run.endedAt !== undefined && run.endedAt < before) {
            runs.delete(id)
            runIds.push(id)
          }
        let prunedKeys = 0
        for (const [key, at] of runKeys)
          if (at < before) {
            runKeys.delete(key)
            prunedKeys++
          }
        return { ticks: prunedTicks, runIds, runKeys: prunedKeys }
      }),
    close: () => Effect.void
  }
}
