/**
 * Acceptance test of several `materia materialize` processes writing one project at once: four
 * disjoint chains, one process each, all succeed without lock errors and every run keeps all of
 * its events.
 */
import { describe, expect, it } from "vitest"
import { MaterializeOutput, RunShowOutput, RunsOutput } from "./CliJson.ts"
import { CHAIN_LENGTH, CHAINS } from "./fixtures/chains.ts"
import { CLI_TEST_TIMEOUT, decodeOutput, makeTempProject, transcript } from "./TempProject.ts"

const countBy = (values: ReadonlyArray<string>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1
  return counts
}

describe("materia: concurrent processes on one project", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("four processes materializing disjoint groups at once all succeed with every event recorded", async ({
    onTestFinished
  }) => {
    const p = await makeTempProject("chains.ts", onTestFinished)
    // All four start on a project without a database: they also race to create and migrate it.
    const results = await Promise.all(
      CHAINS.map((group) => p.materia("materialize", "--select", `group:${group}`, "--json"))
    )
    for (const result of results) {
      expect(result.code, transcript(result)).toBe(0)
      expect(result.stderr).not.toMatch(/database is locked/i)
    }
    const runIds = results.map((r) => decodeOutput(MaterializeOutput, r).runId)

    const listed = await p.materia("runs", "--json", "--limit", "10")
    expect(listed.code, transcript(listed)).toBe(0)
    const runs = decodeOutput(RunsOutput, listed)
    expect(runs.map((r) => r.runId).sort()).toEqual([...runIds].sort())
    expect(runs.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"])

    const shown = await Promise.all(runIds.map((id) => p.materia("runs", "show", id, "--json")))
    for (const [index, result] of shown.entries()) {
      expect(result.code, transcript(result)).toBe(0)
      const { events } = decodeOutput(RunShowOutput, result)
      expect(events.every((e) => e.runId === runIds[index])).toBe(true)
      expect(countBy(events.map((e) => e._tag))).toEqual({
        RunStarted: 1,
        StepStarted: CHAIN_LENGTH,
        Materialization: CHAIN_LENGTH,
        StepSucceeded: CHAIN_LENGTH,
        RunFinished: 1
      })
      expect(events[0]!._tag).toBe("RunStarted")
      expect(events.at(-1)!._tag).toBe("RunFinished")
      // Each step of the group, each with its own three events.
      const group = CHAINS[index]!
      const perStep = countBy(events.flatMap((e) => (e.key === undefined ? [] : [e.key])))
      expect(Object.keys(perStep).sort()).toEqual(
        Array.from({ length: CHAIN_LENGTH }, (_, i) => `${group}_${String(i).padStart(2, "0")}`)
      )
      expect(Object.values(perStep).every((n) => n === 3)).toBe(true)
    }
  })
})
