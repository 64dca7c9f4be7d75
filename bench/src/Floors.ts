/**
 * The floors the benchmarks compare Materia to: the least work that does the same job. A Kahn
 * topological sort keyed by strings (for planning), and two bare executors over the same graph: one
 * Effect fiber and Deferred per task under a Semaphore, and a Promise ready queue.
 */
import { Deferred, Effect, Semaphore } from "effect"

/** Kahn's algorithm over a string-keyed adjacency map (key → children), with a plain FIFO queue. */
export const kahnByKey = (children: ReadonlyMap<string, ReadonlyArray<string>>): Array<string> => {
  const indegree = new Map<string, number>()
  for (const key of children.keys()) indegree.set(key, 0)
  for (const cs of children.values()) for (const c of cs) indegree.set(c, indegree.get(c)! + 1)
  const queue: Array<string> = []
  for (const [key, degree] of indegree) if (degree === 0) queue.push(key)
  for (let head = 0; head < queue.length; head++)
    for (const c of children.get(queue[head]!)!) {
      const degree = indegree.get(c)! - 1
      indegree.set(c, degree)
      if (degree === 0) queue.push(c)
    }
  return queue
}

/**
 * One fiber and one Deferred per task: a task awaits its parents' Deferreds, runs `body` holding
 * one of `concurrency` permits, then completes its own Deferred. Resolves to the completed count.
 */
export const effectExecutor = (
  parents: ReadonlyArray<ReadonlyArray<number>>,
  concurrency: number,
  body: Effect.Effect<unknown>
): Effect.Effect<number> =>
  Effect.gen(function* () {
    const semaphore = yield* Semaphore.make(concurrency)
    const done = yield* Effect.forEach(parents, () => Deferred.make<void>())
    yield* Effect.forEach(
      parents,
      (own, i) =>
        Effect.forEach(own, (p) => Deferred.await(done[p]!), { discard: true }).pipe(
          Effect.andThen(Semaphore.withPermits(semaphore, 1)(body)),
          Effect.andThen(Deferred.succeed(done[i]!, undefined))
        ),
      { concurrency: "unbounded", discard: true }
    )
    return done.filter((d) => Deferred.isDoneUnsafe(d)).length
  })

/**
 * A ready queue of Promises: indegree counters, a task starts when its last parent finishes, at
 * most `concurrency` at once. Resolves to the completed count.
 */
export const promiseExecutor = (
  parents: ReadonlyArray<ReadonlyArray<number>>,
  children: ReadonlyArray<ReadonlyArray<number>>,
  concurrency: number,
  body: () => unknown
): Promise<number> =>
  new Promise((resolve, reject) => {
    const n = parents.length
    const remaining = Int32Array.from(parents, (ps) => ps.length)
    const ready: Array<number> = []
    for (let i = 0; i < n; i++) if (remaining[i] === 0) ready.push(i)
    let head = 0
    let running = 0
    let finished = 0
    const task = async (_i: number) => body()
    const finish = (i: number) => {
      running--
      finished++
      for (const c of children[i]!) if (--remaining[c]! === 0) ready.push(c)
      if (finished === n) resolve(finished)
      else pump()
    }
    const pump = () => {
      while (running < concurrency && head < ready.length) {
        const i = ready[head++]!
        running++
        task(i).then(() => finish(i), reject)
      }
    }
    if (n === 0) resolve(0)
    else pump()
  })
