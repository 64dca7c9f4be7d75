/**
 * A body's decision not to produce a value (a conditional branch): return `new Skip(reason)` —
 * `skip(reason)` in the DSL. The step and its downstream are skipped with that reason, the run is
 * not a failure, and the planner does not plan the step again until an input or its code changes.
 */
export class Skip {
  readonly _tag = "MateriaSkip"
  constructor(readonly reason: string) {}
}

/** Whether a body's result is a skip decision (recognized by tag across module copies). */
export const isSkip = (u: unknown): u is Skip =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "MateriaSkip"
