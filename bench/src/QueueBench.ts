/**
 * Distributed execution: 2,000 independent valueless no-op steps (bodies that return nothing to
 * store) through the `queue` executor (BullMQ on the Redis at 127.0.0.1:6379, a fresh key prefix)
 * with 1 and 4 local `materia worker` processes, and through the `processes` executor beside a bare
 * child-process round trip (the same number of IPC request/answer pairs to as many echoing
 * children). The driver uses the in-memory store, so the figures are the executors'. Run as a
 * script with `echo`, this module is the floor's echoing child.
 */
import { type ChildProcess, fork, spawn } from "node:child_process"
import { rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type AnyProject, materialize, memoryStore } from "@materia/assets"
import { loadProject } from "../../server/src/cli/ProjectLoader.ts"
import { makeQueueRunner } from "../../server/src/queue/QueueRunner.ts"
import { makeProcessRunner } from "../../server/src/worker/ProcessRunner.ts"
import { projectCodeVersion } from "../../server/src/worker/WorkerProtocol.ts"
import { makeTempDir, ROOT } from "./Child.ts"
import { type Goal, median, micros, ms, type Section, times } from "./Measure.ts"

const STEPS = 2000
const ROUNDS = 3
const REDIS_URL = "redis://127.0.0.1:6379"
/** Steps in flight: the driver's concurrency. */
const IN_FLIGHT = 64
/** Children per worker (the worker's --concurrency) and of the processes executor: the cores. */
const CHILDREN = 2

const mode = process.argv[1] === fileURLToPath(import.meta.url) ? process.argv[2] : undefined
if (mode === "echo") {
  process.on("message", (m: unknown) => process.send!(m))
  process.on("disconnect", () => process.exit(0))
}

const projectSource = `import { asset, defineProject } from "@materia/assets"
const assets = Array.from({ length: ${STEPS} }, (_, i) =>
  asset(\`noop_\${String(i).padStart(4, "0")}\`, { pool: "cpu" }, () => undefined)
)
export default defineProject({ name: "queue_bench", assets, concurrency: ${IN_FLIGHT} })
`

const runAll = async (project: AnyProject, root: string, stepRunner: unknown): Promise<number> => {
  const store = memoryStore()
  const start = performance.now()
  const result = await materialize(project, ["*"], {
    root,
    storage: store,
    force: true,
    output: "off",
    raiseOnError: false,
    stepRunner
  } as never)
  const wall = performance.now() - start
  if (result.status !== "succeeded" || result.steps.length !== STEPS) {
    const failed = result.steps.find((s) => s.status !== "succeeded")
    throw new Error(
      `the bench run ended ${result.status} with ${result.steps.length} steps: ${failed?.key} ${failed?.status} ${String(failed?.error)}`
    )
  }
  return wall
}

const startWorkers = async (root: string, prefix: string, count: number): Promise<Array<ChildProcess>> =>
  Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ChildProcess>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              join(ROOT, "server/bin/materia.mjs"),
              "worker",
              "--pool",
              "cpu",
              "--concurrency",
              String(CHILDREN),
              "--redis",
              REDIS_URL,
              "--prefix",
              prefix
            ],
            { cwd: root, stdio: ["ignore", "pipe", "inherit"] }
          )
          let text = ""
          child.stdout!.on("data", (chunk: Buffer) => {
            text += chunk.toString()
            if (text.includes("serving")) resolve(child)
          })
          child.once("exit", (code) => reject(new Error(`a worker exited (${code}) before serving: ${text}`)))
        })
    )
  )

const stopAll = (children: ReadonlyArray<ChildProcess>) =>
  Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve()
          c.once("exit", () => resolve())
          c.kill("SIGTERM")
        })
    )
  )

/** `STEPS` request/answer pairs over IPC to `CHILDREN` echoing children, `IN_FLIGHT` at once. */
const bareRoundTrips = async (): Promise<number> => {
  const children = Array.from({ length: CHILDREN }, () =>
    fork(fileURLToPath(import.meta.url), ["echo"], {
      execArgv: ["--import", import.meta.resolve("tsx")],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
  )
  const ask = (child: ChildProcess, message: unknown) =>
    new Promise<void>((resolve) => {
      child.once("message", () => resolve())
      child.send(message as object)
    })
  // Warm up: every child answered once.
  await Promise.all(children.map((c) => ask(c, { warm: true })))
  const start = performance.now()
  let next = 0
  await Promise.all(
    children.map(async (child) => {
      while (next < STEPS) {
        next++
        await ask(child, { type: "run", id: next, step: { key: `noop_${next}` } })
      }
    })
  )
  const wall = performance.now() - start
  for (const c of children) c.kill()
  return wall
}

/** The processes executor's and the floor's timed runs (ms), interleaved round by round. */
const processesFigures = async (
  project: AnyProject,
  file: string,
  root: string,
  codeVersion: string
): Promise<{ readonly processes: Array<number>; readonly bare: Array<number> }> => {
  const processes = makeProcessRunner({ projectFile: file, values: { root }, size: CHILDREN, codeVersion })
  const processSamples: Array<number> = []
  const bareSamples: Array<number> = []
  try {
    // Warm-up: the children's code is compiled and optimized (it takes a few runs).
    for (let r = 0; r < 3; r++) await runAll(project, root, processes)
    for (let r = 0; r < ROUNDS; r++) {
      processSamples.push(await runAll(project, root, processes))
      bareSamples.push(await bareRoundTrips())
    }
  } finally {
    await processes.close()
  }
  return { processes: processSamples, bare: bareSamples }
}

export const queueBench = async (): Promise<Section> => {
  const root = makeTempDir("queue-bench")
  const file = join(root, "materia.config.ts")
  writeFileSync(file, projectSource)
  try {
    const { project } = await loadProject(file)
    const codeVersion = projectCodeVersion(project)
    const queueFigures = new Map<number, Array<number>>()
    for (const workers of [1, 4]) {
      const prefix = `bench${process.pid}w${workers}`
      const children = await startWorkers(root, prefix, workers)
      const runner = await makeQueueRunner({
        redisUrl: REDIS_URL,
        prefix,
        project: project.name,
        codeVersion
      })
      try {
        await runAll(project, root, runner) // warm-up: every worker's children started
        const samples: Array<number> = []
        for (let r = 0; r < ROUNDS; r++) samples.push(await runAll(project, root, runner))
        queueFigures.set(workers, samples)
      } finally {
        await runner.close()
        await stopAll(children)
      }
    }
    const { processes: processSamples, bare: bareSamples } = await processesFigures(
      project,
      file,
      root,
      codeVersion
    )
    const perStep = (samples: ReadonlyArray<number>) => median(samples) / STEPS
    const one = perStep(queueFigures.get(1)!)
    const four = perStep(queueFigures.get(4)!)
    const proc = perStep(processSamples)
    const bare = perStep(bareSamples)
    const ratio = median(processSamples.map((p, i) => p / bareSamples[i]!))
    const goals: Array<Goal> = [
      {
        name: "queue executor, 4 local workers: time per no-op step",
        target: "< 2 ms",
        actual: `${ms(four)} ms`,
        met: four < 2
      },
      {
        name: "processes executor vs a bare child-process round trip",
        target: "≤ 3×",
        actual: `${times(ratio)} (${micros(proc * 1000)} µs vs ${micros(bare * 1000)} µs per step)`,
        met: ratio <= 3
      }
    ]
    return {
      title: "Distributed execution: the queue and processes executors",
      summary: `${STEPS.toLocaleString("en-US")} independent no-op steps whose bodies return nothing to store, ${IN_FLIGHT} in flight, through \`materialize\` with the in-memory store; each worker runs ${CHILDREN} child processes (its \`--concurrency\`), the processes executor ${CHILDREN} children (the cores). Medians of ${ROUNDS} timed runs after warm-up runs (one for the queue, three for the processes executor).`,
      tables: [
        {
          header: ["executor", "ms per run", "ms per step", "steps/s"],
          rows: [
            ...[1, 4].map((w) => {
              const t = median(queueFigures.get(w)!)
              return [
                `queue, ${w} worker${w > 1 ? "s" : ""} × ${CHILDREN} children`,
                ms(t),
                ms(t / STEPS),
                String(Math.round((STEPS / t) * 1000))
              ]
            }),
            [
              `processes, ${CHILDREN} children`,
              ms(median(processSamples)),
              ms(proc),
              String(Math.round(1000 / proc))
            ],
            [
              `floor: bare IPC round trip to ${CHILDREN} children`,
              ms(median(bareSamples)),
              ms(bare),
              String(Math.round(1000 / bare))
            ]
          ]
        }
      ],
      goals,
      notes: [
        `Scaling from 1 to 4 workers: ${times(one / four)} the throughput. Workers, their children, Redis and the driver share the machine's cores, so the figures move with its load (timed runs: 1 worker ${queueFigures.get(1)!.map(ms).join(", ")} ms; 4 workers ${queueFigures.get(4)!.map(ms).join(", ")} ms).`,
        "The processes executor: a simple attempt (no partitions, no checks) runs directly in the child (about 9 µs of CPU for a no-op, against about 110 µs as a one-step run of the in-process executor); with more steps in flight than children, each child runs up to `attemptsPerChild` (8) attempts at once, and attempt messages travel in one batch per tick each way (here about 8 per write). The floor keeps one request in flight per child, so part of the executor's standing against it is pipelining the floor does not do.",
        "A queue step is a BullMQ job: the driver adds it, a worker takes it, checks the driver's heartbeat, runs the body in a child process (one IPC round trip), and completes it; the driver learns of it from the queue's event stream and commits."
      ]
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

/**
 * `tsx bench/src/QueueBench.ts processes`: the processes executor's part alone (no Redis), printed;
 * for profiling and for re-measuring that row without the queue runs beside it.
 */
const processesAlone = async (): Promise<void> => {
  const root = makeTempDir("processes-bench")
  const file = join(root, "materia.config.ts")
  writeFileSync(file, projectSource)
  try {
    const { project } = await loadProject(file)
    const { processes, bare } = await processesFigures(project, file, root, projectCodeVersion(project))
    const ratio = median(processes.map((p, i) => p / bare[i]!))
    process.stdout.write(
      `processes, ${CHILDREN} children: ${processes.map(ms).join(", ")} ms per run (median ${ms(median(processes))}, ${micros((median(processes) / STEPS) * 1000)} µs per step)\n` +
        `floor, bare IPC round trip to ${CHILDREN} children: ${bare.map(ms).join(", ")} ms per run (median ${ms(median(bare))}, ${micros((median(bare) / STEPS) * 1000)} µs per step)\n` +
        `ratio (median of per-round ratios): ${times(ratio)}\n`
    )
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

if (mode === "processes") await processesAlone()
