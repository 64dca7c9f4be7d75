/**
 * `materia materialize --executor`: the same run through a pool of child processes, values passed
 * through the local store, and a clear usage error for an unknown executor or unreachable Redis.
 */
import { describe, expect, it } from "vitest"
import { CLI_TEST_TIMEOUT, makeTempProject, transcript } from "./TempProject.ts"

describe("materia materialize --executor", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("runs every step in child processes and records the same run", async ({ onTestFinished }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    const result = await p.materia("materialize", "--select", "*", "--executor", "processes", "--json")
    expect(result.code, transcript(result)).toBe(0)
    const run = JSON.parse(result.stdout) as { steps: Array<{ key: string; status: string }> }
    expect(run.steps.map((s) => s.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
      "succeeded",
      "succeeded"
    ])
    const plan = await p.materia("plan")
    expect(plan.stdout).toContain("Nothing to do")
  })

  it("refuses an unknown executor and names an unreachable Redis without its password", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    const unknown = await p.materia("materialize", "--select", "*", "--executor", "threads")
    expect(unknown.code, transcript(unknown)).toBe(2)
    expect(unknown.stderr).toContain("in-process, processes, queue")
    const redis = await p.materia(
      "materialize",
      "--select",
      "*",
      "--executor",
      "queue",
      "--redis",
      "redis://:hunter2@127.0.0.1:1"
    )
    expect(redis.code, transcript(redis)).not.toBe(0)
    expect(redis.stderr).toContain("127.0.0.1:1")
    expect(redis.stderr).not.toContain("hunter2")
  })
})
