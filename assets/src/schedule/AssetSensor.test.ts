import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { assetSensor } from "./AssetSensor.ts"
import { evaluateSensor } from "./Sensor.ts"

describe("assetSensor", () => {
  it("requests a run once per new materialization of another project's asset", async () => {
    const stored = new Map<string, number | undefined>()
    const asked: Array<unknown> = []
    const materializations = async (project: string, keys: ReadonlyArray<string>) => {
      asked.push({ project, keys })
      return new Map(keys.map((k) => [k, stored.get(`${project}/${k}`)]))
    }
    const s = assetSensor("upstream", { project: "ingest", asset: "orders", select: "+report" })
    const evaluate = (cursor: string | undefined) =>
      Effect.runPromise(evaluateSensor(s, { cursor, now: 0, lastTickAt: undefined, materializations }))
    expect(await evaluate(undefined)).toEqual({ skipReason: "ingest/orders was never materialized" })
    expect(asked).toEqual([{ project: "ingest", keys: ["orders"] }])
    stored.set("ingest/orders", Date.parse("2026-02-10T10:00:00Z"))
    const first = await evaluate(undefined)
    expect(first).toEqual({
      runRequests: [
        {
          select: "+report",
          runKey: "ingest/orders@2026-02-10T10:00:00.000Z",
          tags: { "materia/upstream": "ingest/orders" }
        }
      ],
      cursor: String(Date.parse("2026-02-10T10:00:00Z"))
    })
    expect((await evaluate(first.cursor)).runRequests).toBeUndefined()
    stored.set("ingest/orders", Date.parse("2026-02-10T11:00:00Z"))
    expect((await evaluate(first.cursor)).runRequests?.[0]?.runKey).toBe(
      "ingest/orders@2026-02-10T11:00:00.000Z"
    )
  })

  it("fails its tick where no store is at hand", async () => {
    const s = assetSensor("upstream", { project: "ingest", asset: "orders", select: "report" })
    const error = await Effect.runPromise(
      Effect.flip(evaluateSensor(s, { cursor: undefined, now: 0, lastTickAt: undefined }))
    )
    expect(error.message).toContain("no metadata store to read materializations from")
  })
})
