/**
 * The shared executor suite: one set of behaviours (values and logs passed on, retries, timeouts,
 * cancellation, blocking checks, skips, non-retryable failures) run against every executor through
 * `materialize`, each test in a fresh copy of the fixture project (its own `.materia/` store).
 */
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises"
import { join, resolve } from "node:path"
import {
  type AnyProject,
  type MaterializeOptions,
  materialize,
  type RunEvent,
  type RunResult
} from "@materia/assets"
import type { StepRunner } from "@materia/core"
import { afterEach, describe, expect, it } from "vitest"
import { loadProject } from "../../../server/src/cli/ProjectLoader.ts"

const REPO = resolve(import.meta.dirname, "../../..")
const TMP = join(REPO, "test/.tmp")
const FIXTURE = join(import.meta.dirname, "fixtures/suite.ts")

/** A guard against a hung child, not a timing assertion. */
export const SUITE_TIMEOUT = 120_000

/** A copy of a fixture as the `materia.config.ts` of a fresh folder. */
export const fixtureProject = async (
  fixture: string,
  prefix: string
): Promise<{ readonly root: string; readonly file: string; readonly project: AnyProject }> => {
  await mkdir(TMP, { recursive: true })
  const root = await mkdtemp(join(TMP, `${prefix}-`))
  const file = join(root, "materia.config.ts")
  await copyFile(fixture, file)
  const { project } = await loadProject(file)
  return { root, file, project }
}

/** How a test runs steps: a runner (or none: in-process) and its release. */
export interface ExecutorUnderTest {
  readonly runner: StepRunner | undefined
  readonly close: () => Promise<void>
}

export interface SuiteOptions {
  /** Whether a body that never yields can be stopped at its timeout (a process boundary). */
  readonly isolates: boolean
  /** Whether bodies run in another process than the test. */
  readonly elsewhere: boolean
}

export const executorSuite = (
  name: string,
  make: (project: AnyProject, file: string, root: string) => Promise<ExecutorUnderTest>,
  options: SuiteOptions
) =>
  describe(`executor suite: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = []
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c()
    })

    const setup = async () => {
      const { root, file, project } = await fixtureProject(FIXTURE, `suite-${name}`)
      const executor = await make(project, file, root)
      cleanups.push(async () => {
        await executor.close()
        await rm(root, { recursive: true, force: true })
      })
      const events: Array<RunEvent> = []
      const run = (selection: ReadonlyArray<string>, extra: { signal?: AbortSignal } = {}) =>
        materialize(
          project,
          selection as never,
          {
            root,
            raiseOnError: false,
            output: "off",
            onEvent: (e: RunEvent) => events.push(e),
            ...extra,
            stepRunner: executor.runner
          } as MaterializeOptions<AnyProject>
        ) as Promise<RunResult<AnyProject>>
      return { project, run, events, root }
    }
    const statusOf = (result: RunResult<AnyProject>) =>
      Object.fromEntries(result.steps.map((s) => [s.key, s.status]))

    it(
      "passes values between steps, records logs and metadata, and stores valueless steps",
      async () => {
        const { project, run, events } = await setup()
        const result = await run(["valueless"])
        expect(result.status).toBe("succeeded")
        expect(statusOf(result)).toEqual({ base: "succeeded", doubled: "succeeded", valueless: "succeeded" })
        expect(await result.value(project.byKey.get("doubled")! as never)).toEqual({ n: 42 })
        expect(events.some((e) => e._tag === "StepLog" && e.message === "doubling 21")).toBe(true)
        const pids = events.flatMap((e) => (e._tag === "Materialization" ? [Number(e.metadata.pid)] : []))
        expect(pids).toHaveLength(3)
        for (const pid of pids) expect(pid === process.pid).toBe(!options.elsewhere)
        // Fresh now: nothing runs again.
        const again = await run(["valueless"])
        expect(again.steps).toHaveLength(0)
      },
      SUITE_TIMEOUT
    )

    it(
      "retries a failing attempt by the step's policy, and fails at once on a non-retryable error",
      async () => {
        const { run, events } = await setup()
        const flaky = await run(["flaky"])
        expect(flaky.step("flaky")).toMatchObject({ status: "succeeded", attempts: 2 })
        expect(events.filter((e) => e._tag === "StepRetrying" && e.key === "flaky")).toHaveLength(1)
        const fatal = await run(["after_fatal"])
        expect(fatal.status).toBe("failed")
        expect(fatal.step("fatal")).toMatchObject({ status: "failed", attempts: 1 })
        const error = fatal.step("fatal")!.error as { _tag: string; message: string }
        expect(error._tag).toBe("UserCodeError")
        expect(error.message).toContain("the input is corrupt")
        expect(fatal.step("after_fatal")?.status).toBe("skipped")
      },
      SUITE_TIMEOUT
    )

    it(
      "fails a step at its timeout and aborts its signal",
      async () => {
        const { run } = await setup()
        const slow = await run(["slow"])
        expect(slow.step("slow")).toMatchObject({ status: "failed" })
        expect((slow.step("slow")!.error as { _tag: string })._tag).toBe("StepTimeout")
        if (options.isolates) {
          const spin = await run(["spin"])
          expect((spin.step("spin")!.error as { _tag: string })._tag).toBe("StepTimeout")
        }
      },
      SUITE_TIMEOUT
    )

    it(
      "cancels a running step when the run's signal aborts",
      async () => {
        const { run, events } = await setup()
        const controller = new AbortController()
        const started = run(["long"], { signal: controller.signal })
        for (
          let i = 0;
          i < 600 && !events.some((e) => e._tag === "StepLog" && e.message === "long started");
          i++
        )
          await new Promise((r) => setTimeout(r, 100))
        controller.abort()
        const result = await started
        expect(result.status).toBe("canceled")
        expect(result.step("long")?.status).toBe("canceled")
      },
      SUITE_TIMEOUT
    )

    it(
      "keeps a value a blocking check rejects from committing, and skips downstream",
      async () => {
        const { run, events } = await setup()
        const result = await run(["after_negative"])
        expect(statusOf(result)).toEqual({ negative: "failed", after_negative: "skipped" })
        expect((result.step("negative")!.error as { _tag: string })._tag).toBe("CheckFailed")
        expect(events.find((e) => e._tag === "CheckEvaluated")).toMatchObject({
          check: "positive",
          passed: false
        })
        expect(events.some((e) => e._tag === "Materialization" && e.key === "negative")).toBe(false)
      },
      SUITE_TIMEOUT
    )

    it(
      "skips a step whose body decides to skip, and its downstream",
      async () => {
        const { run } = await setup()
        const result = await run(["after_branch"])
        expect(result.status).toBe("succeeded")
        expect(result.step("branch")).toMatchObject({ status: "skipped", skipReason: "nothing new" })
        expect(result.step("after_branch")?.status).toBe("skipped")
      },
      SUITE_TIMEOUT
    )
  })
