import { rm } from "node:fs/promises"
import { join } from "node:path"
import { type AnyProject, type MaterializeOptions, materialize, type RunResult } from "@materia/assets"
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
})
