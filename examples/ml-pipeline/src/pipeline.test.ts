import { materialize, memoryStore } from "@materia/assets"
import type { RunEvent } from "@materia/core"
import { describe, expect, it } from "vitest"
import { FEATURE_NAMES } from "./Features.ts"
import { evaluate, models, project } from "./pipeline.ts"
import { REGIONS } from "./SyntheticData.ts"

const modelKeys = REGIONS.map((region) => `models/${region}`)

/** Event indexes of each training step's first start and its success. */
const trainingSpans = (events: ReadonlyArray<RunEvent>) =>
  modelKeys.map((key) => ({
    key,
    start: events.findIndex((e) => e._tag === "StepStarted" && e.key === key),
    end: events.findIndex((e) => e._tag === "StepSucceeded" && e.key === key)
  }))

describe("ml_pipeline", () => {
  it("trains one model per region, concurrently, and evaluates each on held-out rows", async () => {
    const events: Array<RunEvent> = []
    const result = await materialize(project, ["evaluate"], {
      storage: "memory",
      onEvent: (event) => events.push(event)
    })
    expect(result.status).toBe("succeeded")
    expect(result.plan.steps.map((s) => s.key)).toEqual([
      "ingest",
      "features",
      ...[...modelKeys].sort(),
      "evaluate"
    ])

    for (const [i, asset] of models.entries()) {
      const model = await result.value(asset)
      expect(model.region).toBe(REGIONS[i])
      expect(model.weights).toHaveLength(FEATURE_NAMES.length)
      expect(model.weights.every(Number.isFinite)).toBe(true)
      expect(model.trainRows).toBeGreaterThan(15_000)
    }

    const report = await result.value(evaluate)
    for (const region of REGIONS) {
      const r = report.regions[region]
      expect(r.heldOutRows).toBeGreaterThan(3_000)
      expect(r.accuracy).toBeGreaterThan(0.8)
      expect(r.accuracy).toBeLessThan(1)
      // A model that learned nothing scores the majority-class baseline.
      expect(r.accuracy).toBeGreaterThan(r.baselineAccuracy + 0.2)
    }
    expect(report.overall.heldOutRows).toBe(REGIONS.reduce((n, r) => n + report.regions[r].heldOutRows, 0))

    const materializations = events.filter((e) => e._tag === "Materialization")
    const north = materializations.find((e) => e.key === "models/north")!
    expect(north.metadata).toMatchObject({ rows: expect.any(Number), loss: expect.any(Number) })
    expect(materializations.find((e) => e.key === "evaluate")!.metadata.accuracy).toBe(
      report.overall.accuracy
    )

    // Some region started training before another one finished...
    const spans = trainingSpans(events)
    expect(spans.every((s) => s.start >= 0 && s.end > s.start)).toBe(true)
    const overlaps = spans.filter((a) => spans.some((b) => a !== b && b.start < a.end && a.start < b.end))
    expect(overlaps.length).toBeGreaterThan(1)
    // ...never more than the `train` pool allows at once...
    for (let i = 0; i < events.length; i++) {
      const running = spans.filter((s) => s.start <= i && i < s.end).length
      expect(running).toBeLessThanOrEqual(3)
    }
    // ...and their epochs interleaved: progress lines switch between regions many times.
    const progress = events.flatMap((e) =>
      e._tag === "StepLog" && e.level === "debug" && e.key.startsWith("models/") ? [e.key] : []
    )
    const switches = progress.filter((key, i) => i > 0 && key !== progress[i - 1]).length
    expect(switches).toBeGreaterThan(REGIONS.length)
  })

  it("plans nothing when materialized again with the same store", async () => {
    const store = memoryStore()
    const first = await materialize(project, ["evaluate"], { storage: store })
    expect(first.plan.steps).toHaveLength(REGIONS.length + 3)
    const second = await materialize(project, ["evaluate"], { storage: store })
    expect(second.status).toBe("succeeded")
    expect(second.plan.steps).toEqual([])
    expect(await second.value(evaluate)).toEqual(await first.value(evaluate))
  })
})
