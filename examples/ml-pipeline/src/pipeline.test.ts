import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { type AlertSummary, materialize, memoryStore } from "@materia/assets"
import type { RunEvent } from "@materia/core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FEATURE_NAMES } from "./Features.ts"
import { evaluate, makePipeline, models } from "./pipeline.ts"
import { REGIONS, type Scenario } from "./SyntheticData.ts"

const modelKeys = REGIONS.map((region) => `models/${region}`)
const downstreamOfIngest = ["features", ...modelKeys, "evaluate", "deploy"]

/** Event indexes of each training step's first start and its success. */
const trainingSpans = (events: ReadonlyArray<RunEvent>) =>
  modelKeys.map((key) => ({
    key,
    start: events.findIndex((e) => e._tag === "StepStarted" && e.key === key),
    end: events.findIndex((e) => e._tag === "StepSucceeded" && e.key === key)
  }))

/** A real webhook receiver on 127.0.0.1: every JSON body posted to it, in order. */
let server: Server
let alertUrl: string
const received: Array<AlertSummary> = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ""
    req.on("data", (chunk) => (body += String(chunk)))
    req.on("end", () => {
      received.push(JSON.parse(body) as AlertSummary)
      res.writeHead(200).end("ok")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  alertUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const alertsOf = (runId: string) => received.filter((summary) => summary.runId === runId)

/** Materializes `deploy` from the ingest data of `scenario`, alerting the test's webhook. */
const runScenario = async (scenario: Scenario) => {
  const { project } = makePipeline({ alertUrl })
  const events: Array<RunEvent> = []
  const result = await materialize(project, ["deploy"], {
    storage: "memory",
    config: { ingest: { scenario } },
    raiseOnError: false,
    onEvent: (event) => events.push(event)
  })
  return { result, events }
}

describe("ml_pipeline", () => {
  it("trains one model per region, concurrently, and evaluates each on held-out rows", async () => {
    const events: Array<RunEvent> = []
    const { project } = makePipeline()
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
      expect(r.accuracy).toBeGreaterThan(0.9)
      expect(r.accuracy).toBeLessThan(1)
      // A model that learned nothing scores the majority-class baseline.
      expect(r.accuracy).toBeGreaterThan(r.baselineAccuracy + 0.3)
    }
    expect(report.overall.heldOutRows).toBe(REGIONS.reduce((n, r) => n + report.regions[r].heldOutRows, 0))

    const materializations = events.filter((e) => e._tag === "Materialization")
    const north = materializations.find((e) => e.key === "models/north")!
    expect(north.metadata).toMatchObject({ rows: expect.any(Number), loss: expect.any(Number) })
    expect(materializations.find((e) => e.key === "evaluate")!.metadata.accuracy).toBe(
      report.overall.accuracy
    )
    // The validate stage ran on the staged table before it committed, and every check passed.
    const checks = events.filter((e) => e._tag === "CheckEvaluated")
    expect(checks.length).toBeGreaterThanOrEqual(5)
    expect(checks.every((e) => e._tag === "CheckEvaluated" && e.key === "ingest" && e.passed)).toBe(true)

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

  it("deploys models trained on good data, and plans nothing when materialized again", async () => {
    const { project, deploy } = makePipeline({ alertUrl })
    const store = memoryStore()
    const first = await materialize(project, ["deploy"], { storage: store })
    expect(first.status).toBe("succeeded")
    expect(first.plan.steps).toHaveLength(REGIONS.length + 4)
    expect(first.step("deploy")?.status).toBe("succeeded")
    const deployment = await first.value(deploy)
    const report = await first.value(evaluate)
    expect(deployment.version).toMatch(/^[0-9a-f]{12}$/)
    expect(deployment.accuracy.overall).toBe(report.overall.accuracy)
    expect(deployment.accuracy.min).toBeGreaterThan(0.9)
    for (const region of REGIONS) {
      expect(deployment.regions[region].accuracy).toBe(report.regions[region].accuracy)
      expect(deployment.regions[region].model.region).toBe(region)
    }
    // A run that deploys alerts nobody.
    expect(alertsOf(first.runId)).toEqual([])

    const second = await materialize(project, ["deploy"], { storage: store })
    expect(second.status).toBe("succeeded")
    expect(second.plan.steps).toEqual([])
    expect(await second.value(deploy)).toEqual(deployment)
    expect(await second.value(evaluate)).toEqual(report)
  })

  describe("stops bad ingest data before training", () => {
    /** Asserts that nothing after ingest started, and that each was skipped with `reason`. */
    const expectStoppedAtIngest = (
      result: Awaited<ReturnType<typeof runScenario>>["result"],
      events: ReadonlyArray<RunEvent>,
      reason: string
    ) => {
      expect(result.status).toBe("failed")
      expect(result.step("ingest")?.status).toBe("failed")
      for (const key of downstreamOfIngest) {
        expect(result.step(key)).toMatchObject({ status: "skipped", skipReason: reason })
        expect(events.some((e) => e._tag === "StepStarted" && e.key === key)).toBe(false)
      }
    }

    it("an empty export: blocked by the not_empty check", async () => {
      const { result, events } = await runScenario("empty")
      expectStoppedAtIngest(result, events, "blocked by check not_empty on ingest")
      const message = String(result.step("ingest")?.error)
      expect(message).toContain('check "not_empty" on asset "ingest" failed: the table has no rows')
      // The failed run alerted the webhook, saying why.
      const [alert] = alertsOf(result.runId)
      expect(alert).toMatchObject({ kind: "run", status: "failed", project: "ml_pipeline" })
      expect(alert?.failedSteps?.[0]?.key).toBe("ingest")
      expect(alert?.failedSteps?.[0]?.error.message).toContain("the table has no rows")
    })

    it("an export with blank values: blocked by the no_nulls check, with the count per column", async () => {
      const { result, events } = await runScenario("nulls")
      const check =
        "no_nulls(tenure_months, monthly_spend, support_tickets, sessions_per_week, discount_pct, churned)"
      expectStoppedAtIngest(result, events, `blocked by check ${check} on ingest`)
      expect(String(result.step("ingest")?.error)).toContain(
        `check "${check}" on asset "ingest" failed: tenure_months: 1031 nulls; monthly_spend: 2000 nulls; churned: 500 nulls`
      )
      const evaluated = events.find((e) => e._tag === "CheckEvaluated" && e.check === check)
      expect(evaluated).toMatchObject({ passed: false, metadata: { null_count: 3531 } })
      expect(alertsOf(result.runId)).toHaveLength(1)
    })

    it("a mistyped export: ingest fails its row schema with a per-column diff, before any check", async () => {
      const { result, events } = await runScenario("mistyped")
      expectStoppedAtIngest(result, events, "upstream failed: ingest")
      const message = String(result.step("ingest")?.error)
      expect(message).toContain("monthly_spend: expected Float64, got Utf8")
      expect(message).toContain("churned: expected Int8/16/32/64, got Utf8")
      expect(message).not.toContain("customer_id")
      expect(events.some((e) => e._tag === "CheckEvaluated")).toBe(false)
      expect(alertsOf(result.runId)[0]?.failedSteps?.[0]?.error.message).toContain(
        "monthly_spend: expected Float64, got Utf8"
      )
    })
  })

  it("does not deploy a low-accuracy model: skips deploy with the reason and posts an alert", async () => {
    const { project } = makePipeline({ alertUrl })
    const store = memoryStore()
    const events: Array<RunEvent> = []
    const config = { ingest: { scenario: "noisy" } } as const
    const result = await materialize(project, ["deploy"], {
      storage: store,
      config,
      onEvent: (event) => events.push(event)
    })
    // A held-back deployment is a decision, not a failure.
    expect(result.status).toBe("succeeded")
    const report = await result.value(evaluate)
    for (const region of REGIONS) expect(report.regions[region].accuracy).toBeLessThan(0.9)
    const reason = result.step("deploy")?.skipReason
    expect(result.step("deploy")?.status).toBe("skipped")
    expect(reason).toMatch(/^accuracy ≤ 0\.9 in (\w+ \(0\.\d{3}\)(, )?){5}: not deployed$/)
    const lowest = Math.min(...REGIONS.map((r) => report.regions[r].accuracy))
    expect(reason).toContain(`(${lowest.toFixed(3)})`)

    // The webhook received the alert, as JSON, and its delivery is an event of the step.
    expect(alertsOf(result.runId)).toEqual([
      expect.objectContaining({
        version: 1,
        kind: "step",
        project: "ml_pipeline",
        assetKey: "deploy",
        status: "skipped",
        error: { tag: "NotDeployed", message: reason }
      })
    ])
    const sent = events.find((e) => e._tag === "AlertSent")
    expect(sent).toMatchObject({ key: "deploy", ok: true, attempts: 1, status: 200 })

    // Not planned again (nor alerted again) until a model or the evaluation changes.
    const again = await materialize(project, ["deploy"], { storage: store, config })
    expect(again.plan.steps).toEqual([])
    expect(alertsOf(again.runId)).toEqual([])
  })
})
