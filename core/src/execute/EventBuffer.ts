/**
 * The executor's event path: every event goes to the listeners at once and into a buffer that is
 * appended to storage in batches. `commit` is a group commit: steps that finish together share one
 * storage transaction, and each returns only once its materialization is durable. When a shared
 * batch fails, each materialization is retried alone, so one bad commit fails only its own step.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { EventListener, MaterializationEvent, RunEvent } from "../events/RunEvent.ts"
import type { StorageApi, StorageError } from "../storage/Storage.ts"
import { writingThrough } from "./OutputCapture.ts"

export interface EventBuffer {
  /** Sends an event to the listeners and buffers it for storage. */
  readonly emit: (event: RunEvent) => void
  /** Appends everything buffered so far. */
  readonly flush: Effect.Effect<void, StorageError>
  /**
   * Emits a materialization (or, for a step over several partitions, one per partition, committed
   * together) and returns once it and everything before it is durable.
   */
  readonly commit: (
    event: MaterializationEvent | ReadonlyArray<MaterializationEvent>
  ) => Effect.Effect<void, StorageError>
}

interface Committer {
  readonly events: ReadonlyArray<MaterializationEvent>
  readonly done: Deferred.Deferred<void, StorageError>
}

/** Makes the event buffer of one run. */
export const makeEventBuffer = (
  storage: StorageApi,
  project: string,
  listeners: ReadonlyArray<EventListener>
): EventBuffer => {
  let buffer: Array<RunEvent> = []
  let committing = false
  let committers: Array<Committer> = []

  const emit = (event: RunEvent): void => {
    buffer.push(event)
    if (listeners.length > 0) writingThrough(() => notify(event))
  }
  const notify = (event: RunEvent) => {
    for (const listener of listeners)
      try {
        listener(event)
      } catch {
        // A listener (a reporter, a UI stream) must never break the run.
      }
  }

  const flush = Effect.suspend(() => {
    if (buffer.length === 0) return Effect.void
    const batch = buffer
    buffer = []
    return Effect.tapError(storage.append(project, batch), () =>
      Effect.sync(() => {
        buffer = [...batch, ...buffer]
      })
    )
  })

  /** Appends the buffer for the joined committers; on failure, each materialization alone. */
  const appendFor = (joined: ReadonlyArray<Committer>): Effect.Effect<void> => {
    const batch = buffer
    buffer = []
    return Effect.flatMap(Effect.exit(storage.append(project, batch)), (exit) => {
      if (Exit.isSuccess(exit) || joined.length <= 1) {
        if (Exit.isFailure(exit)) buffer = [...batch.filter((e) => e._tag !== "Materialization"), ...buffer]
        for (const c of joined) Deferred.doneUnsafe(c.done, exit)
        return Effect.void
      }
      const others = batch.filter((e) => e._tag !== "Materialization")
      return Effect.andThen(
        Effect.exit(storage.append(project, others)),
        Effect.forEach(
          joined,
          (c) =>
            Effect.map(Effect.exit(storage.append(project, c.events)), (one) =>
              Deferred.doneUnsafe(c.done, one)
            ),
          { discard: true }
        )
      )
    })
  }

  // The leader appends the batch, then keeps appending for committers that arrived meanwhile.
  const lead: Effect.Effect<void> = Effect.suspend(() => {
    if (committers.length === 0) {
      committing = false
      return Effect.void
    }
    const joined = committers
    committers = []
    return Effect.andThen(appendFor(joined), lead)
  })

  const commit = (event: MaterializationEvent | ReadonlyArray<MaterializationEvent>) =>
    Effect.suspend((): Effect.Effect<void, StorageError> => {
      const events = Array.isArray(event)
        ? (event as ReadonlyArray<MaterializationEvent>)
        : [event as MaterializationEvent]
      for (const e of events) emit(e)
      const done = Deferred.makeUnsafe<void, StorageError>()
      committers.push({ events, done })
      if (committing) return Deferred.await(done)
      committing = true
      // One yield lets steps finishing in the same tick join this batch.
      return Effect.andThen(
        Effect.uninterruptible(Effect.andThen(Effect.yieldNow, lead)),
        Deferred.await(done)
      )
    })

  return { emit, flush, commit }
}
