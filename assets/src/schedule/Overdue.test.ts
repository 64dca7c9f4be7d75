import { describe, expect, it } from "vitest"
import { overdue } from "./Automation.ts"

const DAY = 86_400_000
const ctx = (materializedAt: number | undefined, freshnessMillis?: number, inProgress = false) => ({
  key: "report",
  now: 10 * DAY,
  materializedAt,
  upstream: [],
  inProgress,
  ...(freshnessMillis === undefined ? {} : { freshnessMillis })
})

describe("overdue()", () => {
  it("requests a run when the latest value is older than the asset's freshness policy", () => {
    expect(overdue().evaluate(ctx(9 * DAY - 1, DAY)).requested).toBe(true)
    expect(overdue().evaluate(ctx(9.5 * DAY, DAY))).toMatchObject({ requested: false })
    expect(overdue().evaluate(ctx(undefined, DAY)).reason).toContain("never materialized")
    expect(overdue().evaluate(ctx(0, DAY, true)).requested).toBe(false)
  })

  it("takes its own max age, and says so when there is no policy at all", () => {
    expect(overdue("12 hours").evaluate(ctx(9 * DAY)).requested).toBe(true)
    expect(overdue().evaluate(ctx(0)).reason).toContain("no freshness policy")
  })
})
