/**
 * Declarative automation: an asset says when it should be materialized — `eager()` (an upstream
 * was updated), `onCron(expr)` (once per cron tick, after every upstream updated since the tick),
 * `missing()` (it, or some of its partitions, were never materialized) — composed with `and`, `or`
 * and `not`. An evaluation is pure: it reads an `AutomationContext` and returns a decision with a
 * human reason, which the daemon records whether or not it requests a run.
 */
import * as Duration from "effect/Duration"
import { type Cron, parseCron } from "./Cron.ts"
import { ScheduleDefinitionError } from "./RunRequest.ts"

/** What a condition sees of one asset at one evaluation (times are epoch ms). */
export interface AutomationContext {
  readonly key: string
  readonly now: number
  /** The latest materialization of the asset (of any partition), if any. */
  readonly materializedAt: number | undefined
  /** Each upstream asset and its latest materialization. */
  readonly upstream: ReadonlyArray<{ readonly key: string; readonly materializedAt: number | undefined }>
  /** A run materializing this asset is queued or running. */
  readonly inProgress: boolean
  /** For a partitioned asset: its closed partitions that have never been materialized. */
  readonly missingPartitions?: ReadonlyArray<string> | undefined
  /** The asset's freshness policy (`freshness: { maxAge }`), in milliseconds. */
  readonly freshnessMillis?: number | undefined
}

/** Whether to request a run, why, and (for partitioned assets) of which partitions. */
export interface AutomationDecision {
  readonly requested: boolean
  readonly reason: string
  readonly partitions?: ReadonlyArray<string> | undefined
}

/** A composable condition. */
export interface AutomationCondition {
  readonly description: string
  readonly evaluate: (ctx: AutomationContext) => AutomationDecision
}

const iso = (t: number): string => new Date(t).toISOString()
const list = (keys: ReadonlyArray<string>): string => keys.join(", ")

/**
 * Materialize whenever an upstream was updated after the asset's latest materialization (or the
 * asset was never materialized), unless a run of it is in progress or an upstream is missing.
 * @example
 * automate("features", eager())
 */
export const eager = (): AutomationCondition => ({
  description: "eager",
  evaluate(ctx) {
    if (ctx.inProgress) return { requested: false, reason: `a run of ${ctx.key} is already in progress` }
    const missing = ctx.upstream.filter((u) => u.materializedAt === undefined).map((u) => u.key)
    if (missing.length > 0)
      return { requested: false, reason: `waiting for upstream ${list(missing)}: never materialized` }
    if (ctx.materializedAt === undefined)
      return { requested: true, reason: `${ctx.key} was never materialized` }
    const updated = ctx.upstream.filter((u) => u.materializedAt! > ctx.materializedAt!).map((u) => u.key)
    return updated.length > 0
      ? { requested: true, reason: `upstream ${list(updated)} updated since ${iso(ctx.materializedAt)}` }
      : { requested: false, reason: "no upstream updated since the latest materialization" }
  }
})

/**
 * Materialize once per cron tick, as soon as every upstream was updated after that tick.
 * @example
 * automate("daily_report", onCron("0 6 * * *", { timezone: "Europe/Berlin" }))
 */
export const onCron = (expression: string, options?: { readonly timezone?: string }): AutomationCondition => {
  const cron: Cron = parseCron(expression, {
    timezone: options?.timezone,
    owner: `automation condition onCron(${JSON.stringify(expression)})`
  })
  return {
    description: `onCron(${cron.expression}${cron.timezone === "UTC" ? "" : ` in ${cron.timezone}`})`,
    evaluate(ctx) {
      const tick = cron.latest(ctx.now)
      if (tick === undefined) return { requested: false, reason: `no tick of ${cron.expression} yet` }
      if (ctx.materializedAt !== undefined && ctx.materializedAt >= tick)
        return { requested: false, reason: `already materialized since the tick at ${iso(tick)}` }
      if (ctx.inProgress) return { requested: false, reason: `a run of ${ctx.key} is already in progress` }
      const stale = ctx.upstream
        .filter((u) => u.materializedAt === undefined || u.materializedAt < tick)
        .map((u) => u.key)
      return stale.length > 0
        ? {
            requested: false,
            reason: `waiting for upstream ${list(stale)} to update after the tick at ${iso(tick)}`
          }
        : {
            requested: true,
            reason: `the tick at ${iso(tick)} passed${ctx.upstream.length > 0 ? " and every upstream updated since" : ""}`
          }
    }
  }
}

/**
 * Materialize what was never materialized: the asset, or its missing closed partitions.
 * @example
 * automate("daily_orders", missing())
 */
/**
 * The asset's latest materialization is older than its freshness policy (`asset(..., { freshness:
 * { maxAge: "1 day" } })`), or than `maxAge` when given: the freshness policy, enforced by the daemon.
 *
 * @example automate("daily_report", overdue())
 */
export const overdue = (maxAge?: Duration.Input): AutomationCondition => {
  const given = maxAge === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(maxAge))
  return {
    description: maxAge === undefined ? "overdue" : `overdue(${String(maxAge)})`,
    evaluate(ctx) {
      const limit = given ?? ctx.freshnessMillis
      if (limit === undefined)
        return {
          requested: false,
          reason: `${ctx.key} has no freshness policy; give it freshness: { maxAge } or write overdue("1 day")`
        }
      if (ctx.inProgress) return { requested: false, reason: `a run of ${ctx.key} is already in progress` }
      if (ctx.materializedAt === undefined)
        return { requested: true, reason: `${ctx.key} was never materialized` }
      const age = ctx.now - ctx.materializedAt
      return age > limit
        ? {
            requested: true,
            reason: `materialized ${iso(ctx.materializedAt)}, older than its ${limit} ms freshness policy`
          }
        : { requested: false, reason: `fresh: materialized ${iso(ctx.materializedAt)}, within ${limit} ms` }
    }
  }
}

export const missing = (): AutomationCondition => ({
  description: "missing",
  evaluate(ctx) {
    if (ctx.missingPartitions !== undefined) {
      const keys = ctx.missingPartitions
      return keys.length === 0
        ? { requested: false, reason: "every closed partition is materialized" }
        : {
            requested: true,
            reason: `${keys.length} partition${keys.length === 1 ? "" : "s"} missing (${list(keys.slice(0, 5))}${keys.length > 5 ? ", …" : ""})`,
            partitions: keys
          }
    }
    return ctx.materializedAt === undefined
      ? { requested: true, reason: `${ctx.key} was never materialized` }
      : { requested: false, reason: `${ctx.key} exists (materialized ${iso(ctx.materializedAt)})` }
  }
})

const mergePartitions = (
  decisions: ReadonlyArray<AutomationDecision>,
  combine: "intersect" | "union"
): ReadonlyArray<string> | undefined => {
  const sets = decisions.map((d) => d.partitions).filter((p): p is ReadonlyArray<string> => p !== undefined)
  if (sets.length === 0) return undefined
  if (combine === "union") return [...new Set(sets.flat())].sort()
  return sets.reduce((acc, s) => acc.filter((k) => s.includes(k)))
}

/** Requested when every condition is; the partitions are those all of them request. */
export const and = (...conditions: ReadonlyArray<AutomationCondition>): AutomationCondition => {
  if (conditions.length === 0)
    throw new ScheduleDefinitionError({
      definition: "automation condition and()",
      reason: "give at least one condition"
    })
  return {
    description: `and(${conditions.map((c) => c.description).join(", ")})`,
    evaluate(ctx) {
      const decisions = conditions.map((c) => c.evaluate(ctx))
      const failing = decisions.findIndex((d) => !d.requested)
      if (failing >= 0)
        return {
          requested: false,
          reason: `${conditions[failing]!.description}: ${decisions[failing]!.reason}`
        }
      const partitions = mergePartitions(decisions, "intersect")
      if (partitions !== undefined && partitions.length === 0)
        return { requested: false, reason: "the conditions request no partition in common" }
      return {
        requested: true,
        reason: decisions.map((d, i) => `${conditions[i]!.description}: ${d.reason}`).join("; and "),
        ...(partitions === undefined ? {} : { partitions })
      }
    }
  }
}

/** Requested when any condition is; the partitions are those any of them requests. */
export const or = (...conditions: ReadonlyArray<AutomationCondition>): AutomationCondition => {
  if (conditions.length === 0)
    throw new ScheduleDefinitionError({
      definition: "automation condition or()",
      reason: "give at least one condition"
    })
  return {
    description: `or(${conditions.map((c) => c.description).join(", ")})`,
    evaluate(ctx) {
      const decisions = conditions.map((c) => c.evaluate(ctx))
      const requested = decisions.filter((d) => d.requested)
      if (requested.length === 0)
        return {
          requested: false,
          reason: decisions.map((d, i) => `${conditions[i]!.description}: ${d.reason}`).join("; nor ")
        }
      const partitions = mergePartitions(requested, "union")
      return {
        requested: true,
        reason: decisions
          .flatMap((d, i) => (d.requested ? [`${conditions[i]!.description}: ${d.reason}`] : []))
          .join("; or "),
        ...(partitions === undefined ? {} : { partitions })
      }
    }
  }
}

/** Requested when the condition is not (a whole-asset decision: partitions are dropped). */
export const not = (condition: AutomationCondition): AutomationCondition => ({
  description: `not(${condition.description})`,
  evaluate(ctx) {
    const d = condition.evaluate(ctx)
    return { requested: !d.requested, reason: `not: ${d.reason}` }
  }
})

/** An asset (by key) and the condition that decides when it is materialized. */
export interface AutomationDefinition {
  readonly _tag: "AutomationDefinition"
  readonly key: string
  readonly condition: AutomationCondition
}

/**
 * Attaches a condition to an asset key.
 * @example
 * export const automations = [automate("features", eager()), automate("report", onCron("0 6 * * *"))]
 */
export const automate = (key: string, condition: AutomationCondition): AutomationDefinition => ({
  _tag: "AutomationDefinition",
  key,
  condition
})
