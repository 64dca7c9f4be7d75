import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tableFromArrays } from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { asset, skip } from "./Asset.ts"
import { webhookAlert } from "./alerts/Webhook.ts"
import { check } from "./Check.ts"
import { checkCurrent } from "./CheckCurrent.ts"
import { noNulls, notEmpty } from "./checks/Builtins.ts"
import { ioManagersOf } from "./Launch.ts"
import { materialize } from "./Materialize.ts"
import { CheckDefinitionError, defineProject } from "./Project.ts"
import { assetStatuses } from "./Status.ts"
import { memoryStore } from "./Store.ts"

const Order = Schema.Struct({
  id: Schema.Number,
  region: Schema.String,
  amount: Schema.NullOr(Schema.Number)
})

describe("checks as circuit breakers", () => {
  it("stops downstream work when a blocking check fails, keeps the last good value, and says why", async () => {
    let rows: Record<string, Array<unknown>> = { id: [1, 2], region: ["eu", "us"], amount: [10, 20] }
    let trained = 0
    const orders = asset("orders", { table: Order }, () =>
      tableFromArrays(rows as { id: number[]; region: string[]; amount: number[] })
    )
    const model = asset("model", { ins: { orders } }, ({ orders }) => {
      trained++
      return orders.numRows
    })
    const project = defineProject({
      assets: [orders, model],
      checks: [
        check(orders, notEmpty(), { blocking: true }),
        check(orders, noNulls("amount"), { blocking: true })
      ]
    })
    const storage = memoryStore()
    expect((await materialize(project, ["model"], { storage })).status).toBe("succeeded")
    rows = { id: [1, 2, 3], region: ["eu", "us", "eu"], amount: [10, null, null] }
    const bad = await materialize(project, ["+model"], { storage, force: true, raiseOnError: false })
    expect(bad.status).toBe("failed")
    expect(bad.step("orders")?.status).toBe("failed")
    expect(String(bad.step("orders")?.error)).toContain('check "no_nulls(amount)" on asset "orders" failed')
    expect(bad.step("model")?.skipReason).toBe("blocked by check no_nulls(amount) on orders")
    expect(trained).toBe(1)
    expect((await bad.value(orders)).numRows).toBe(2)
    const state = (await Effect.runPromise(storage.storage.snapshot("default"))).get("orders")
    expect(state?.checks?.find((c) => c.check === "no_nulls(amount)")?.metadata).toMatchObject({
      null_count: 2
    })
  })

  it("fails a table of the wrong shape with a per-column diff, before storing it", async () => {
    const orders = asset("orders", { table: Order }, () =>
      tableFromArrays({ id: [1, 2], region: ["eu", "us"], amount: ["10", "20"] })
    )
    const result = await materialize(defineProject({ assets: [orders] }), ["orders"], {
      storage: "memory",
      raiseOnError: false
    })
    expect(String(result.step("orders")?.error)).toContain("amount: expected Float64, got")
    expect(result.step("orders")?.attempts).toBe(1)
  })

  it("skips a conditional branch without failing, and does not plan it again until its input changes", async () => {
    let deployed = 0
    const evaluateAt = (accuracy: number) =>
      asset("evaluate", { codeVersion: String(accuracy) }, () => ({ accuracy }))
    const deployFrom = (evaluate: ReturnType<typeof evaluateAt>) =>
      asset("deploy", { ins: { evaluate }, codeVersion: "1" }, ({ evaluate }) =>
        evaluate.accuracy > 0.9 ? `deployed ${++deployed}` : skip(`accuracy ${evaluate.accuracy} ≤ 0.9`)
      )
    const weak = evaluateAt(0.8)
    const project = defineProject({ assets: [weak, deployFrom(weak)] })
    const storage = memoryStore()
    const first = await materialize(project, ["deploy"], { storage })
    expect(first.status).toBe("succeeded")
    expect(first.step("deploy")).toMatchObject({ status: "skipped", skipReason: "accuracy 0.8 ≤ 0.9" })
    expect((await materialize(project, ["deploy"], { storage })).steps).toHaveLength(0)
    // A better model (a new evaluation): deploy decides again.
    const strong = evaluateAt(0.95)
    const deploy = deployFrom(strong)
    const second = await materialize(defineProject({ assets: [strong, deploy] }), ["deploy"], { storage })
    expect(second.step("deploy")?.status).toBe("succeeded")
    expect(await second.value(deploy)).toBe("deployed 1")
  })

  it("rejects checks on assets the project lacks, and two checks with one name, naming both", () => {
    const a = asset("a", {}, () => 1)
    const b = asset("b", {}, () => 2)
    expect(() => defineProject({ assets: [a], checks: [check(b, "positive", {}, (v) => v > 0)] })).toThrow(
      CheckDefinitionError
    )
    expect(() => defineProject({ assets: [a], checks: [check(b, "positive", {}, (v) => v > 0)] })).toThrow(
      'check "positive" is on asset "b"'
    )
    const twice = () =>
      defineProject({
        assets: [a],
        checks: [
          check(a, "positive", { description: "greater than zero" }, (v) => v > 0),
          check(a, "positive", { description: "not negative" }, (v) => v >= 0)
        ]
      })
    expect(twice).toThrow('asset "a" has two checks named "positive" (greater than zero and not negative)')
  })
})

describe("checks on current values and asset status", () => {
  it("runs checks alone on the current values, records them, and reports skipped and overdue assets", async () => {
    let n = 3
    const orders = asset("orders", { freshness: { maxAge: "1 hour" } }, () =>
      Array.from({ length: n }, (_, i) => i)
    )
    const deploy = asset("deploy", { ins: { orders } }, ({ orders }) =>
      orders.length > 10 ? "done" : skip("too few")
    )
    const project = defineProject({
      assets: [orders, deploy],
      checks: [
        check(orders, "at_least_five", { blocking: true }, (o) => ({
          passed: o.length >= 5,
          metadata: { rows: o.length }
        }))
      ]
    })
    const storage = memoryStore()
    // The blocking check fails on the first run: nothing is committed.
    expect((await materialize(project, ["+deploy"], { storage, raiseOnError: false })).status).toBe("failed")
    n = 6
    await materialize(project, ["+deploy"], { storage })
    const run = await Effect.runPromise(
      checkCurrent(
        project,
        storage,
        new Set([project.graph.indexOf("orders")]),
        ioManagersOf(project, storage)
      )
    )
    expect(run.results.map((r) => [r.assetKey, r.check, r.passed, r.metadata])).toEqual([
      ["orders", "at_least_five", true, { rows: 6 }]
    ])
    const events = (await Effect.runPromise(storage.storage.events(run.runId))).map((e) => e.event._tag)
    expect(events).toEqual(["RunStarted", "CheckEvaluated", "RunFinished"])
    const rows = await Effect.runPromise(assetStatuses(project, storage))
    expect(rows.map((r) => [r.key, r.status, r.freshness, r.checks.map((c) => c.passed)])).toEqual([
      ["deploy", "skipped", undefined, []],
      ["orders", "fresh", "ok", [true]]
    ])
  })
})

describe("hooks and alerts", () => {
  let server: Server
  let url: string
  const received: Array<{ path: string; body: unknown }> = []
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = ""
      req.on("data", (c) => (body += String(c)))
      req.on("end", () => resolve(body))
    })
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      received.push({ path: req.url ?? "", body: JSON.parse(await read(req)) })
      res.writeHead(200).end("ok")
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it("sends step and run alerts to a real webhook, records each delivery, and runs hooks", async () => {
    const seen: Array<string> = []
    const ok = asset("ok", { onSuccess: (info) => void seen.push(`success:${info.assetKey}`) }, () => 1)
    const broken = asset(
      "broken",
      {
        alerts: [webhookAlert({ url: `${url}/step` })],
        onFailure: async (info) => {
          seen.push(`failure:${info.assetKey}:${String(info.error)}`)
        }
      },
      () => {
        throw new Error("disk on fire")
      }
    )
    const project = defineProject({
      name: "alerted",
      assets: [ok, broken],
      alerts: [webhookAlert({ url: `${url}/run`, format: "slack" })],
      hooks: { onFailure: (info) => void seen.push(`run:${info.status}`) }
    })
    const storage = memoryStore()
    const result = await materialize(project, ["*"], { storage, raiseOnError: false })
    expect(result.status).toBe("failed")
    expect(seen.sort()).toEqual([
      'failure:broken:UserCodeError: asset "broken" failed: disk on fire',
      "run:failed",
      "success:ok"
    ])
    const step = received.find((r) => r.path === "/step")?.body as Record<string, unknown>
    expect(step).toMatchObject({ kind: "step", project: "alerted", assetKey: "broken", status: "failed" })
    const run = received.find((r) => r.path === "/run")?.body as { text: string }
    expect(run.text).toContain("failed")
    const events = (await Effect.runPromise(storage.storage.events(result.runId))).map((e) => e.event)
    const sent = events.filter((e) => e._tag === "AlertSent")
    expect(sent.map((e) => e._tag === "AlertSent" && [e.key ?? "run", e.ok])).toEqual([
      ["broken", true],
      ["run", true]
    ])
  })
})
