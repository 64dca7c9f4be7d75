import { rm } from "node:fs/promises"
import { join } from "node:path"
import {
  type AnyProject,
  type MaterializeOptions,
  materialize,
  type RunEvent,
  type RunResult
} from "@materia/assets"
import { describe, expect, it } from "vitest"
import { makeProcessRunner } from "../../../server/src/worker/ProcessRunner.ts"
import { executorSuite, fixtureProject, SUITE_TIMEOUT } from "./ExecutorSuite.ts"

// Vitest transforms the test's copy of the project, so its automatic code versions differ from the
// children's (tsx): the suite runs without the code version check, tested on its own below.
executorSuite(
  "processes",
  async (_project, file, root) => {
    const runner = makeProcessRunner({
      projectFile: file,
      values: { root },
      size: 2,
      cancelGraceMillis: 1000
    })
    return { runner, close: runner.close }
  },
  { isolates: true, elsewhere: true }
)

describe("the processes executor", () => {
  const runWith = (
    project: AnyProject,
    root: string,
    runner: ReturnType<typeof makeProcessRunner>,
    key: string
  ) =>
    materialize(
      project,
      [key] as never,
      {
        root,
        raiseOnError: false,
        output: "off",
        stepRunner: runner
      } as MaterializeOptions<AnyProject>
    ) as Promise<RunResult<AnyProject>>

  it(
    "refuses to run a step in a child that loaded other code than the driver's, naming both versions",
    async () => {
      const { root, file, project } = await fixtureProject(
        join(import.meta.dirname, "fixtures/suite.ts"),
        "stale"
      )
      const runner = makeProcessRunner({
        projectFile: file,
        values: { root },
        size: 1,
        codeVersion: "0123456789abcdef"
      })
      try {
        const result = await runWith(project, root, runner, "base")
        const error = result.step("base")!.error as Error
        expect(error.message).toMatch(
          /code version [0-9a-f]{16} of project "executor_suite", but the driver runs code version 0123456789abcdef/
        )
        expect(result.step("base")!.attempts).toBe(1)
      } finally {
        await runner.close()
        await rm(root, { recursive: true, force: true })
      }
    },
    SUITE_TIMEOUT
  )

  it(
    "names what to do for a module that exports no project, and for values kept by the memory IO manager",
    async () => {
      const { root, file, project } = await fixtureProject(
        join(import.meta.dirname, "fixtures/memory.ts"),
        "memory"
      )
      const broken = makeProcessRunner({ projectFile: join(root, "missing.ts"), values: { root }, size: 1 })
      const runner = makeProcessRunner({ projectFile: file, values: { root }, size: 1 })
      try {
        const noModule = await runWith(project, root, broken, "kept")
        expect((noModule.step("kept")!.error as Error).message).toContain("export it from materia.config.ts")
        const memory = await runWith(project, root, runner, "kept")
        expect((memory.step("kept")!.error as Error).message).toContain(
          'asset "kept" is stored by the memory IO manager'
        )
        expect(memory.step("kept")!.attempts).toBe(1)
      } finally {
        await broken.close()
        await runner.close()
        await rm(root, { recursive: true, force: true })
      }
    },
    SUITE_TIMEOUT
  )

  it(
    "runs up to attemptsPerChild attempts at once in a busy child, never more, and one per child while children are idle",
    async () => {
      const { root, file, project } = await fixtureProject(
        join(import.meta.dirname, "fixtures/window.ts"),
        "window"
      )
      /** Runs the selection; what each step recorded: its process and the most steps it saw at once there. */
      const recorded = async (
        runner: ReturnType<typeof makeProcessRunner>,
        selection: ReadonlyArray<string>
      ) => {
        const seen: Array<{ pid: number; peak: number }> = []
        const result = (await materialize(
          project,
          selection as never,
          {
            root,
            raiseOnError: false,
            output: "off",
            force: true,
            stepRunner: runner,
            onEvent: (e: RunEvent) => {
              if (e._tag === "Materialization") seen.push(e.metadata as { pid: number; peak: number })
            }
          } as MaterializeOptions<AnyProject>
        )) as RunResult<AnyProject>
        expect(result.status).toBe("succeeded")
        return seen
      }
      // One child, three at once: the six steps meet in two groups of three (one at a time never would).
      const one = makeProcessRunner({ projectFile: file, values: { root }, size: 1, attemptsPerChild: 3 })
      // Two idle children: two steps go one to each.
      const two = makeProcessRunner({
        projectFile: file,
        values: { root },
        size: 2,
        env: { MATERIA_TEST_TOGETHER: "1" }
      })
      try {
        const grouped = await recorded(one, ["*"])
        expect(grouped).toHaveLength(6)
        expect(new Set(grouped.map((m) => m.pid)).size).toBe(1)
        expect(Math.max(...grouped.map((m) => m.peak))).toBe(3)
        const spread = await recorded(two, ["s1", "s2"])
        expect(new Set(spread.map((m) => m.pid)).size).toBe(2)
      } finally {
        await one.close()
        await two.close()
        await rm(root, { recursive: true, force: true })
      }
    },
    SUITE_TIMEOUT
  )

  it(
    "fails the other attempts of a child killed for an attempt that would not stop as WorkerCrashed, retried by their policy",
    async () => {
      const { root, file, project } = await fixtureProject(
        join(import.meta.dirname, "fixtures/shared.ts"),
        "shared"
      )
      const runner = makeProcessRunner({
        projectFile: file,
        values: { root },
        size: 1,
        attemptsPerChild: 2,
        cancelGraceMillis: 500
      })
      const events: Array<RunEvent> = []
      try {
        // Loaded before the run: both attempts reach the child (a timeout while it loads would
        // only take spin out of its queue).
        await runner.start("default")
        const result = (await materialize(
          project,
          ["spin", "neighbour"] as never,
          {
            root,
            raiseOnError: false,
            output: "off",
            stepRunner: runner,
            onEvent: (e: RunEvent) => events.push(e)
          } as MaterializeOptions<AnyProject>
        )) as RunResult<AnyProject>
        expect((result.step("spin")!.error as { _tag: string })._tag).toBe("StepTimeout")
        expect(result.step("neighbour")).toMatchObject({ status: "succeeded", attempts: 2 })
        const retried = events.find((e) => e._tag === "StepRetrying" && e.key === "neighbour")
        expect(retried).toMatchObject({ error: { tag: "WorkerCrashed" } })
      } finally {
        await runner.close()
        await rm(root, { recursive: true, force: true })
      }
    },
    SUITE_TIMEOUT
  )
})
