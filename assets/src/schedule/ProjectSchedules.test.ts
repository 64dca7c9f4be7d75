import { describe, expect, it } from "vitest"
import { asset } from "../Asset.ts"
import { defineProject } from "../Project.ts"
import { ScheduleDefinitionError } from "./RunRequest.ts"
import { schedule } from "./Schedule.ts"

describe("defineProject({ schedules })", () => {
  const report = asset("report", {}, () => 1)

  it("carries its schedules", () => {
    const nightly = schedule("nightly", { cron: "0 1 * * *", select: "report" })
    const project = defineProject({ name: "s", assets: [report], schedules: [nightly] })
    expect(project.schedules.map((s) => s.name)).toEqual(["nightly"])
    expect(project.sensors).toEqual([])
  })

  it("rejects a schedule selecting an unknown asset when the project is defined", () => {
    const typo = schedule("nightly", { cron: "0 1 * * *", select: "reprot" })
    expect(() => defineProject({ name: "s", assets: [report], schedules: [typo] })).toThrow(
      ScheduleDefinitionError
    )
    expect(() => defineProject({ name: "s", assets: [report], schedules: [typo] })).toThrow(/reprot/)
  })
})
