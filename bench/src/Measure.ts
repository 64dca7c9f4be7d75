/**
 * Timing and reporting for the benchmarks: run each figure several times after a warm-up (in
 * rounds, a full GC before each run) and keep the median, judge each goal (met or missed), and
 * render sections as Markdown for RESULTS.md and the console.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/** How many timed runs make one figure. */
export const RUNS = 5

/**
 * Untimed warm-up rounds of in-process figures: two, so that optimized code is in place even when
 * the background compiler is slowed by a busy machine.
 */
export const WARMUP_ROUNDS = 2

/** The median of the samples (the mean of the middle two for an even count). */
export const median = (samples: ReadonlyArray<number>): number => {
  if (samples.length === 0) throw new RangeError("median of no samples")
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * The timed runs of one figure, in milliseconds: wall time, and CPU time of this process (user +
 * system, all threads). CPU time is less disturbed by other processes on a shared machine.
 */
export interface Samples {
  readonly wall: ReadonlyArray<number>
  readonly cpu: ReadonlyArray<number>
}

/**
 * A full garbage collection, run before each timed run (untimed) so that one run's garbage is not
 * collected inside the next. `--expose-gc` set at run time; a no-op if V8 refuses it.
 */
export const collectGarbage: () => void = (() => {
  try {
    setFlagsFromString("--expose-gc")
    return runInNewContext("gc") as () => void
  } catch {
    return () => {}
  }
})()

const cpuMillis = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

const timed = (fn: () => void): { wall: number; cpu: number } => {
  collectGarbage()
  const cpuStart = cpuMillis()
  const start = performance.now()
  fn()
  return { wall: performance.now() - start, cpu: cpuMillis() - cpuStart }
}

/**
 * Times several figures in rounds: each round runs every figure once (after a full GC), so that
 * changing load on the machine hits them alike, after WARMUP_ROUNDS untimed rounds.
 */
export const sampleRounds = <K extends string>(
  runs: number,
  figures: Readonly<Record<K, () => void>>
): Record<K, Samples> => {
  const names = Object.keys(figures) as Array<K>
  const out = {} as Record<K, { wall: Array<number>; cpu: Array<number> }>
  for (const name of names) out[name] = { wall: [], cpu: [] }
  for (let round = -WARMUP_ROUNDS; round < runs; round++)
    for (const name of names) {
      const t = timed(figures[name])
      if (round < 0) continue
      out[name].wall.push(t.wall)
      out[name].cpu.push(t.cpu)
    }
  return out
}

/** Untimed work around each run of `sampleAsync` (opening and closing a store, say). */
export interface AroundRun {
  readonly before?: (() => Promise<void>) | undefined
  readonly after?: (() => Promise<void>) | undefined
}

/**
 * Times asynchronous work `runs` times after WARMUP_ROUNDS untimed runs (a full GC before each
 * timed run); each run is awaited before the next starts. `around` runs untimed before and after
 * every run, warm-ups included.
 */
export const sampleAsync = async (
  runs: number,
  fn: () => Promise<void>,
  around: AroundRun = {}
): Promise<Samples> => {
  const once = async (timed: boolean) => {
    await around.before?.()
    collectGarbage()
    const cpuStart = cpuMillis()
    const start = performance.now()
    await fn()
    const sample = { wall: performance.now() - start, cpu: cpuMillis() - cpuStart }
    await around.after?.()
    if (timed) {
      wall.push(sample.wall)
      cpu.push(sample.cpu)
    }
  }
  const wall: Array<number> = []
  const cpu: Array<number> = []
  for (let w = 0; w < WARMUP_ROUNDS; w++) await once(false)
  for (let r = 0; r < runs; r++) await once(true)
  return { wall, cpu }
}

/** Times one run of asynchronous work (after a full GC, untimed): its result, wall and CPU ms. */
export const timeAsync = async <A>(
  fn: () => Promise<A>
): Promise<{ value: A; wall: number; cpu: number }> => {
  collectGarbage()
  const cpuStart = cpuMillis()
  const start = performance.now()
  const value = await fn()
  return { value, wall: performance.now() - start, cpu: cpuMillis() - cpuStart }
}

/** Median wall and CPU milliseconds of a figure. */
export interface Figure {
  readonly wall: number
  readonly cpu: number
}

export const figure = (samples: Samples): Figure => ({ wall: median(samples.wall), cpu: median(samples.cpu) })

/**
 * `a` over `b` where run i of each was measured in the same round: the median of the per-round
 * ratios. Load that changes between rounds cancels out better than in a ratio of medians.
 */
export const pairedRatio = (a: Samples, b: Samples): Figure => {
  const ratios = (x: ReadonlyArray<number>, y: ReadonlyArray<number>) => {
    if (x.length !== y.length)
      throw new RangeError(`paired samples differ in length: ${x.length} vs ${y.length}`)
    return median(x.map((v, i) => v / y[i]!))
  }
  return { wall: ratios(a.wall, b.wall), cpu: ratios(a.cpu, b.cpu) }
}

/** A goal a benchmark is held to, with what was measured. */
export interface Goal {
  readonly name: string
  readonly target: string
  readonly actual: string
  readonly met: boolean
}

export interface Table {
  readonly caption?: string | undefined
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  /** Left-align every column (text); otherwise columns after the first are right-aligned (numbers). */
  readonly text?: boolean | undefined
}

/** One benchmark's results: what it measures, its tables, its goals and notes. */
export interface Section {
  readonly title: string
  readonly summary: string
  readonly tables: ReadonlyArray<Table>
  readonly goals: ReadonlyArray<Goal>
  readonly notes: ReadonlyArray<string>
}

export const markdownTable = (table: Table): string => {
  const line = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`
  const align = table.header.map((_, i) => (i === 0 || table.text === true ? "---" : "---:"))
  const body = [line(table.header), line(align), ...table.rows.map(line)].join("\n")
  return table.caption === undefined ? body : `${table.caption}\n\n${body}`
}

export const verdict = (goal: Goal): string =>
  `${goal.met ? "met" : "MISSED"}: ${goal.name}: ${goal.actual} (goal ${goal.target})`

export const renderSection = (section: Section): string => {
  const parts = [`## ${section.title}`, section.summary, ...section.tables.map(markdownTable)]
  if (section.goals.length > 0) parts.push(section.goals.map((g) => `- **${verdict(g)}**`).join("\n"))
  if (section.notes.length > 0) parts.push(section.notes.map((n) => `- ${n}`).join("\n"))
  return parts.filter((p) => p !== "").join("\n\n")
}

/** Milliseconds with a precision that suits their size. */
export const ms = (millis: number): string => {
  const size = Math.abs(millis)
  return size < 1 ? millis.toFixed(3) : size < 100 ? millis.toFixed(2) : millis.toFixed(0)
}

export const micros = (value: number): string => (value < 10 ? value.toFixed(2) : value.toFixed(1))

export const times = (ratio: number): string => `${ratio.toFixed(2)}×`

export const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1)

/** Integers with thin thousands separators: 100 000. */
export const count = (n: number): string => Math.round(n).toLocaleString("en-US").replace(/,/g, " ")
