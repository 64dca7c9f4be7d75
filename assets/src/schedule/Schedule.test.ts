import {
  AssetGraph,
  type AssetSpec,
  dynamicPartitions,
  multiPartitions,
  noRetry,
  type PartitionsSpec,
  staticPartitions,
  timeWindowPartitions
} from "@materia/core"
import { describe, expect, it } from "vitest"
import { automate, eager } from "./Automation.ts"
import { InvalidCron } from "./Cron.ts"
import { ScheduleDefinitionError } from "./RunRequest.ts"
import {
  lastClosedWindow,
  partitionsClosedAt,
  schedule,
  scheduleTick,
  validateSchedules
} from "./Schedule.ts"
import { sensor } from "./Sensor.ts"

const at = (iso: string): number => Date.parse(iso)

const spec = (key: string, inputs: ReadonlyArray<string>, partitions?: PartitionsSpec): AssetSpec => ({
  key,
  kind: "asset",
  inputs: inputs.map((k) => ({ name: k, key: k })),
  deps: [],
  group: "default",
  tags: {},
  owners: [],
  metadata: {},
  codeVersion: "v1",
  codeVersionSource: "user",
  pool: "default",
  retry: noRetry,
  ioManager: "memory",
  hasConfig: false,
  ...(partitions === undefined ? {} : { partitions })
})

const daily = timeWindowPartitions({ cadence: "daily", start: "2026-01-01", timezone: "Europe/Berlin" })
const regions = staticPartitions(["eu", "us"])
const graph = AssetGraph.make([
  spec("orders", []),
  spec("daily_orders", ["orders"], daily.spec),
  spec("regional", ["orders"], multiPartitions({ date: daily, region: regions }).spec),
  spec("by_region", ["orders"], regions.spec)
])

describe("the partition that just closed", () => {
  it("daily at 01:00 local is yesterday", () => {
    // 01:00 in Berlin on 2026-02-10 is 00:00Z.
    expect(lastClosedWindow(daily, at("2026-02-10T00:00:00Z"))).toBe("2026-02-09")
    // Exactly at local midnight, yesterday has just closed.
    expect(lastClosedWindow(daily, at("2026-02-09T23:00:00Z"))).toBe("2026-02-09")
    expect(lastClosedWindow(daily, at("2026-02-09T22:59:59Z"))).toBe("2026-02-08")
  })

  it("follows daylight saving: the 23-hour day closes at local midnight", () => {
    expect(lastClosedWindow(daily, at("2026-03-29T22:00:00Z"))).toBe("2026-03-29")
    expect(lastClosedWindow(daily, at("2026-03-29T21:59:59Z"))).toBe("2026-03-28")
  })

  it("hourly, weekly and monthly windows", () => {
    const hourly = timeWindowPartitions({ cadence: "hourly", start: "2026-01-01T00" })
    expect(lastClosedWindow(hourly, at("2026-02-10T05:30:00Z"))).toBe("2026-02-10T04")
    const weekly = timeWindowPartitions({ cadence: "weekly", start: "2026-01-05" })
    // Wednesday 2026-02-11: the last closed week began Monday 2026-02-02.
    expect(lastClosedWindow(weekly, at("2026-02-11T12:00:00Z"))).toBe("2026-02-02")
    const monthly = timeWindowPartitions({ cadence: "monthly", start: "2026-01" })
    expect(lastClosedWindow(monthly, at("2026-03-01T00:00:00Z"))).toBe("2026-02")
  })

  it("none before the first window closes", () => {
    expect(lastClosedWindow(daily, at("2026-01-01T12:00:00Z"))).toBeUndefined()
    expect(partitionsClosedAt(daily, at("2025-06-01T00:00:00Z"))).toEqual([])
  })

  it("multi: the closed window times every other key; no time dimension: undefined", () => {
    const multi = multiPartitions({ date: daily, region: regions })
    expect(partitionsClosedAt(multi, at("2026-02-10T00:00:00Z"))).toEqual(["2026-02-09|eu", "2026-02-09|us"])
    const withDynamic = multiPartitions({ date: daily, customer: dynamicPartitions("customers") })
    expect(
      partitionsClosedAt(withDynamic, at("2026-02-10T00:00:00Z"), { dynamic: { customers: ["acme"] } })
    ).toEqual(["2026-02-09|acme"])
    expect(partitionsClosedAt(regions, at("2026-02-10T00:00:00Z"))).toBeUndefined()
  })
})

describe("schedule", () => {
  it("ticks launch the closed partition of partitioned targets, with a run key per scheduled time", () => {
    const s = schedule("nightly", { cron: "0 1 * * *", timezone: "Europe/Berlin", select: "daily_orders" })
    const tick = scheduleTick(graph, s, at("2026-02-10T00:00:00Z"))
    expect(tick.runRequests).toEqual([
      {
        select: ["daily_orders"],
        partitions: ["2026-02-09"],
        runKey: "nightly@2026-02-10T00:00:00.000Z",
        tags: { "materia/schedule": "nightly" }
      }
    ])
    expect(scheduleTick(graph, s, at("2026-01-01T00:00:00Z"))).toMatchObject({
      runRequests: [],
      skipReason: expect.stringContaining("no partition of daily partitions from 2026-01-01")
    })
  })

  it("unpartitioned targets get no partitions; explicit partitions win", () => {
    const plain = schedule("hourly", { cron: "@hourly", select: "orders", tags: { team: "growth" } })
    expect(scheduleTick(graph, plain, 0).runRequests).toEqual([
      {
        select: ["orders"],
        runKey: "hourly@1970-01-01T00:00:00.000Z",
        tags: { team: "growth", "materia/schedule": "hourly" }
      }
    ])
    const fixed = schedule("regions", { cron: "@daily", select: "by_region", partitions: ["eu"] })
    expect(scheduleTick(graph, fixed, 0).runRequests[0]?.partitions).toEqual(["eu"])
  })

  it("rejects bad definitions naming the schedule", () => {
    expect(() => schedule("nightly", { cron: "0 25 * * *", select: "orders" })).toThrow(InvalidCron)
    expect(() => schedule("nightly", { cron: "0 25 * * *", select: "orders" })).toThrow(/schedule "nightly"/)
    expect(() => schedule("bad name", { cron: "@daily", select: "orders" })).toThrow(ScheduleDefinitionError)
    expect(() => schedule("x", { cron: "@daily", select: "a,,b" })).toThrow(/empty term/)
  })
})

describe("validateSchedules", () => {
  const project = { graph }
  it("accepts known selections", () => {
    validateSchedules(project, [schedule("a", { cron: "@daily", select: "+daily_orders" })], [])
  })

  it("rejects an unknown asset with the nearest keys", () => {
    expect(() => validateSchedules(project, [schedule("a", { cron: "@daily", select: "ordrs" })])).toThrow(
      /schedule "a".*ordrs.*orders/
    )
  })

  it("rejects a static-partitioned target without partitions, and mixed partitions", () => {
    expect(() =>
      validateSchedules(project, [schedule("a", { cron: "@daily", select: "by_region" })])
    ).toThrow(/give `partitions`/)
    expect(() =>
      validateSchedules(project, [schedule("a", { cron: "@daily", select: "daily_orders,regional" })])
    ).toThrow(/different partitions/)
  })

  it("rejects automation of an unknown asset, and two conditions on one asset", () => {
    expect(() => validateSchedules(project, [], [], [automate("ordrs", eager())])).toThrow(
      /automation of asset "ordrs": the project has no asset "ordrs" \(did you mean "orders"\?\)/
    )
    expect(() =>
      validateSchedules(project, [], [], [automate("orders", eager()), automate("orders", eager())])
    ).toThrow(/two automation conditions/)
  })

  it("rejects duplicate names across schedules and sensors", () => {
    const s = sensor("a", { interval: "1 minute", evaluate: () => ({}) })
    expect(() =>
      validateSchedules(project, [schedule("a", { cron: "@daily", select: "orders" })], [s])
    ).toThrow(/sensor "a".*also used by a schedule/)
  })
})
