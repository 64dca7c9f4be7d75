/**
 * The deterministic state of one execution: which steps are pending, queued, running and finished,
 * with a ready queue per pool bounded by a global and a per-pool concurrency limit. Pure and
 * steppable by hand (tests drive it on a diamond); the Effect driver in Executor.ts only calls its
 * transitions. Every transition is O(1) in the size of the plan, plus the edges it touches.
 */

export const Status = {
  Pending: 0,
  Queued: 1,
  Running: 2,
  Succeeded: 3,
  Failed: 4,
  Skipped: 5,
  Canceled: 6
} as const
export type Status = (typeof Status)[keyof typeof Status]

/** What the state needs of each plan step. */
export interface SchedulableStep {
  readonly upstream: ReadonlyArray<number>
  readonly pool: string
}

export interface Limits {
  /** Steps running at once, over all pools. */
  readonly concurrency: number
  /** Steps running at once per pool; a pool not listed is bounded by `concurrency` only. */
  readonly pools?: Readonly<Record<string, number>> | undefined
}

interface ReadyQueue {
  readonly items: Array<number>
  head: number
}

export class ExecutionState {
  readonly size: number
  readonly status: Uint8Array
  /** For a skipped step, the failed or skipped step that caused it; -1 otherwise. */
  readonly skippedBy: Int32Array
  private readonly remaining: Int32Array
  private readonly children: ReadonlyArray<Array<number>>
  private readonly poolOf: Uint16Array
  private readonly queues: ReadonlyArray<ReadyQueue>
  private readonly poolLimit: ReadonlyArray<number>
  private readonly poolRunning: Int32Array
  readonly poolNames: ReadonlyArray<string>
  private readonly concurrency: number
  private runningCount = 0
  private finishedCount = 0
  private canceledFlag = false

  constructor(steps: ReadonlyArray<SchedulableStep>, limits: Limits) {
    if (!(limits.concurrency >= 1))
      throw new RangeError(`concurrency must be at least 1, found ${String(limits.concurrency)}`)
    const n = steps.length
    this.size = n
    this.concurrency = limits.concurrency
    this.status = new Uint8Array(n)
    this.skippedBy = new Int32Array(n).fill(-1)
    this.remaining = new Int32Array(n)
    this.poolOf = new Uint16Array(n)
    const children: Array<Array<number>> = []
    for (let i = 0; i < n; i++) children.push([])
    const poolIndex = new Map<string, number>()
    const poolNames: Array<string> = []
    for (let i = 0; i < n; i++) {
      const step = steps[i]!
      let p = poolIndex.get(step.pool)
      if (p === undefined) {
        p = poolNames.length
        poolIndex.set(step.pool, p)
        poolNames.push(step.pool)
      }
      this.poolOf[i] = p
      this.remaining[i] = step.upstream.length
      for (const u of step.upstream) {
        if (!(u >= 0 && u < i)) throw new RangeError(`step ${i} waits for step ${u}, which is not before it`)
        children[u]!.push(i)
      }
    }
    this.children = children
    this.poolNames = poolNames
    this.queues = poolNames.map(() => ({ items: [], head: 0 }))
    this.poolLimit = poolNames.map((name) => {
      const limit = limits.pools?.[name]
      if (limit !== undefined && !(limit >= 1))
        throw new RangeError(`pool "${name}" limit must be at least 1, found ${String(limit)}`)
      return limit ?? Number.POSITIVE_INFINITY
    })
    this.poolRunning = new Int32Array(poolNames.length)
    for (let i = 0; i < n; i++) if (this.remaining[i] === 0) this.enqueue(i)
  }

  get running(): number {
    return this.runningCount
  }

  get finished(): number {
    return this.finishedCount
  }

  /** Every step has finished (succeeded, failed, skipped or canceled). */
  get done(): boolean {
    return this.finishedCount === this.size
  }

  get canceled(): boolean {
    return this.canceledFlag
  }

  private enqueue(i: number): void {
    this.status[i] = Status.Queued
    this.queues[this.poolOf[i]!]!.items.push(i)
  }

  /**
   * Starts the next step that fits the limits and returns its index, or -1 when none can start
   * now. Among the pools with room, the queued step earliest in the plan goes first.
   */
  next(): number {
    if (this.runningCount >= this.concurrency || this.canceledFlag) return -1
    let best = -1
    let bestPool = -1
    for (let p = 0; p < this.queues.length; p++) {
      const q = this.queues[p]!
      if (q.head === q.items.length || this.poolRunning[p]! >= this.poolLimit[p]!) continue
      const candidate = q.items[q.head]!
      if (best < 0 || candidate < best) {
        best = candidate
        bestPool = p
      }
    }
    if (best < 0) return -1
    const q = this.queues[bestPool]!
    q.head++
    if (q.head > 1024 && q.head * 2 > q.items.length) {
      q.items.splice(0, q.head)
      q.head = 0
    }
    this.status[best] = Status.Running
    this.poolRunning[bestPool]!++
    this.runningCount++
    return best
  }

  private release(i: number): void {
    this.poolRunning[this.poolOf[i]!]!--
    this.runningCount--
    this.finishedCount++
  }

  private expectRunning(i: number, transition: string): void {
    if (this.status[i] !== Status.Running)
      throw new Error(`step ${i} cannot ${transition}: it is not running (status ${this.status[i]})`)
  }

  /** A running step stored its value: its children whose inputs are all stored become queued. */
  succeed(i: number): void {
    this.expectRunning(i, "succeed")
    this.status[i] = Status.Succeeded
    this.release(i)
    for (const c of this.children[i]!)
      if (--this.remaining[c]! === 0 && this.status[c] === Status.Pending) this.enqueue(c)
  }

  /** A running step failed: its whole downstream is skipped. Returns the skipped steps. */
  fail(i: number): ReadonlyArray<number> {
    this.expectRunning(i, "fail")
    this.status[i] = Status.Failed
    this.release(i)
    return this.skipDownstream(i)
  }

  /** A running step chose not to produce a value: it and its downstream are skipped. */
  skip(i: number): ReadonlyArray<number> {
    this.expectRunning(i, "skip")
    this.status[i] = Status.Skipped
    this.release(i)
    return this.skipDownstream(i)
  }

  /** A running step was interrupted by cancellation. */
  cancelRunning(i: number): void {
    this.expectRunning(i, "be canceled")
    this.status[i] = Status.Canceled
    this.release(i)
  }

  /** Cancels the run: nothing new starts; pending and queued steps are canceled and returned. */
  cancel(): ReadonlyArray<number> {
    this.canceledFlag = true
    const canceled: Array<number> = []
    for (let i = 0; i < this.size; i++) {
      const s = this.status[i]
      if (s === Status.Pending || s === Status.Queued) {
        this.status[i] = Status.Canceled
        this.finishedCount++
        canceled.push(i)
      }
    }
    return canceled
  }

  private skipDownstream(root: number): ReadonlyArray<number> {
    const skipped: Array<number> = []
    const stack = [root]
    while (stack.length > 0) {
      const node = stack.pop()!
      for (const c of this.children[node]!) {
        if (this.status[c] !== Status.Pending) continue
        this.status[c] = Status.Skipped
        this.skippedBy[c] = root
        this.finishedCount++
        skipped.push(c)
        stack.push(c)
      }
    }
    return skipped
  }
}
