import { describe, expect, it } from "vitest"
import { type AutomationContext, and, eager, missing, not, onCron, or } from "./Automation.ts"

const at = (iso: string): number => Date.parse(iso)
const base: AutomationContext = {
  key: "features",
  now: at("2026-02-10T12:00:00Z"),
  materializedAt: at("2026-02-10T08:00:00Z"),
  upstream: [{ key: "orders", materializedAt: at("2026-02-10T07:00:00Z") }],
  inProgress: false
}

describe("eager", () => {
  it("requests when an upstream updated, with the upstream named", () => {
    expect(eager().evaluate(base)).toEqual({
      requested: false,
      reason: "no upstream updated since the latest materialization"
    })
    const updated = { ...base, upstream: [{ key: "orders", materializedAt: at("2026-02-10T09:00:00Z") }] }
    expect(eager().evaluate(updated)).toEqual({
      requested: true,
      reason: "upstream orders updated since 2026-02-10T08:00:00.000Z"
    })
    expect(eager().evaluate({ ...updated, inProgress: true })).toEqual({
      requested: false,
      reason: "a run of features is already in progress"
    })
    expect(
      eager().evaluate({ ...base, upstream: [{ key: "orders", materializedAt: undefined }] }).reason
    ).toBe("waiting for upstream orders: never materialized")
  })
})

describe("onCron", () => {
  const daily = onCron("0 6 * * *")
  it("waits for every upstream to update after the tick, then requests once", () => {
    // Tick at 06:00; the asset was materialized at 08:00: done for this tick.
    expect(daily.evaluate(base)).toMatchObject({
      requested: false,
      reason: expect.stringContaining("already materialized")
    })
    const beforeTick = { ...base, materializedAt: at("2026-02-09T08:00:00Z") }
    expect(
      daily.evaluate({
        ...beforeTick,
        upstream: [{ key: "orders", materializedAt: at("2026-02-10T05:00:00Z") }]
      }).reason
    ).toBe("waiting for upstream orders to update after the tick at 2026-02-10T06:00:00.000Z")
    expect(daily.evaluate(beforeTick)).toEqual({
      requested: true,
      reason: "the tick at 2026-02-10T06:00:00.000Z passed and every upstream updated since"
    })
  })
})

describe("missing", () => {
  it("requests the missing partitions, or the never-materialized asset", () => {
    expect(missing().evaluate({ ...base, materializedAt: undefined })).toEqual({
      requested: true,
      reason: "features was never materialized"
    })
    expect(missing().evaluate(base).requested).toBe(false)
    expect(missing().evaluate({ ...base, missingPartitions: ["2026-02-08", "2026-02-09"] })).toEqual({
      requested: true,
      reason: "2 partitions missing (2026-02-08, 2026-02-09)",
      partitions: ["2026-02-08", "2026-02-09"]
    })
  })
})

describe("and / or / not", () => {
  const updated = { ...base, upstream: [{ key: "orders", materializedAt: at("2026-02-10T09:00:00Z") }] }
  it("compose decisions and their reasons", () => {
    expect(and(eager(), not(missing())).evaluate(updated)).toEqual({
      requested: true,
      reason:
        "eager: upstream orders updated since 2026-02-10T08:00:00.000Z; and not(missing): not: features exists (materialized 2026-02-10T08:00:00.000Z)"
    })
    expect(and(eager(), missing()).evaluate(updated)).toEqual({
      requested: false,
      reason: "missing: features exists (materialized 2026-02-10T08:00:00.000Z)"
    })
    expect(or(missing(), eager()).evaluate(base)).toEqual({
      requested: false,
      reason:
        "missing: features exists (materialized 2026-02-10T08:00:00.000Z); nor eager: no upstream updated since the latest materialization"
    })
    expect(or(missing(), eager()).evaluate(updated).requested).toBe(true)
  })

  it("and intersects and or unites requested partitions", () => {
    const withMissing = { ...base, missingPartitions: ["a", "b"] }
    const onlyA = {
      description: "onlyA",
      evaluate: () => ({ requested: true, reason: "a", partitions: ["a", "c"] })
    }
    expect(and(missing(), onlyA).evaluate(withMissing).partitions).toEqual(["a"])
    expect(or(missing(), onlyA).evaluate(withMissing).partitions).toEqual(["a", "b", "c"])
  })
})
