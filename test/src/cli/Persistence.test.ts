/**
 * Acceptance tests of persistence through the `materia` CLI, each command a real process: what one
 * process materializes, the next one finds fresh; a changed body re-runs exactly it and its
 * downstream; an upstream that reproduces its value leaves its downstream fresh.
 */
import { describe, it } from "vitest"
import { AssetsOutput, keysOf, MaterializeOutput, PlanOutput, statusByKey } from "./CliJson.ts"
import { CLI_TEST_TIMEOUT, decodeOutput, makeTempProject, transcript } from "./TempProject.ts"

const ALL = ["clean", "greeting", "raw", "report", "stats"]

// Each test has its own project: they run side by side, one child process each at a time.
describe.concurrent("materia: persistence across processes", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("a second materialize finds everything fresh and does nothing", async ({ expect, onTestFinished }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    const first = await p.materia("materialize", "--select", "*", "--json")
    expect(first.code, transcript(first)).toBe(0)
    const run = decodeOutput(MaterializeOutput, first)
    expect(keysOf(run).sort()).toEqual(ALL)
    expect(run.steps.every((s) => s.status === "succeeded")).toBe(true)

    const second = await p.materia("materialize", "--select", "*")
    expect(second.code, transcript(second)).toBe(0)
    expect(second.stdout).toContain("Nothing to materialize")

    const plan = await p.materia("plan")
    expect(plan.code, transcript(plan)).toBe(0)
    expect(plan.stdout).toContain("Nothing to do")
  })

  it("a changed body makes exactly that asset and its downstream stale, and only they run", async ({
    expect,
    onTestFinished
  }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    const seeded = await p.materia("materialize", "--select", "*")
    expect(seeded.code, transcript(seeded)).toBe(0)
    await p.editConfig("total + x, 0", "total + 10 * x, 0")

    const planned = await p.materia("plan", "--json")
    expect(planned.code, transcript(planned)).toBe(0)
    const plan = decodeOutput(PlanOutput, planned)
    expect(keysOf(plan)).toEqual(["stats", "report"])
    expect(plan.steps[0]!.reasons.some((r) => r.includes("code version changed"))).toBe(true)

    const ran = await p.materia("materialize", "--select", "*", "--json")
    expect(ran.code, transcript(ran)).toBe(0)
    const run = decodeOutput(MaterializeOutput, ran)
    expect(run.steps.map((s) => [s.key, s.status])).toEqual([
      ["stats", "succeeded"],
      ["report", "succeeded"]
    ])
  })

  it("an upstream that reproduces its value leaves its downstream fresh", async ({
    expect,
    onTestFinished
  }) => {
    const p = await makeTempProject("pipeline.ts", onTestFinished)
    const first = decodeOutput(MaterializeOutput, await p.materia("materialize", "--select", "*", "--json"))
    expect(first.status).toBe("succeeded")
    // Another body (so another code version) that returns the same sorted list.
    await p.editConfig("[...raw].sort((a, b) => a - b)", "raw.slice().sort((x, y) => x - y)")

    const ran = await p.materia("materialize", "--select", "*", "--json")
    expect(ran.code, transcript(ran)).toBe(0)
    const run = decodeOutput(MaterializeOutput, ran)
    expect(run.steps.map((s) => [s.key, s.status])).toEqual([
      ["clean", "succeeded"],
      ["stats", "unchanged"],
      ["report", "unchanged"]
    ])

    const listed = await p.materia("assets", "--json")
    expect(listed.code, transcript(listed)).toBe(0)
    const assets = decodeOutput(AssetsOutput, listed)
    expect(statusByKey(assets)).toEqual({
      clean: "fresh",
      greeting: "fresh",
      raw: "fresh",
      report: "fresh",
      stats: "fresh"
    })
    // The downstream values are still the ones the first run stored.
    const madeBy = Object.fromEntries(assets.assets.map((a) => [a.key, a.latest?.runId]))
    expect(madeBy.stats).toBe(first.runId)
    expect(madeBy.report).toBe(first.runId)
    expect(madeBy.clean).toBe(run.runId)
  })
})
