/**
 * End to end: an asset with `format: "parquet"` materialized into the local store (SQLite + values
 * on disk) is written as a Parquet file, read back as an Arrow table by its downstream in a later
 * run, and refused with a clear error when its body returns something that is not a table.
 */
import { existsSync } from "node:fs"
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { asset, defineProject, materialize } from "@materia/assets"
import { IOManagerError } from "@materia/core"
import { makeFsIOManager } from "@materia/io-managers/fs"
import { Float64, Int32, Table, TimestampMillisecond, Utf8, vectorFromArray } from "apache-arrow"
import { afterEach, beforeEach, describe, expect, it } from "vitest"

const ordersTable = (): Table =>
  new Table({
    id: vectorFromArray([1, 2, 3, 4], new Int32()),
    region: vectorFromArray(["eu", null, "us", "eu"], new Utf8()),
    amount: vectorFromArray([10.5, 20, null, 1.25], new Float64()),
    at: vectorFromArray([0, 1000, 2000, null], new TimestampMillisecond())
  })

/** The files of every attempt folder of `key` under a storage root. */
const valueFiles = async (storage: string, key: string): Promise<ReadonlyArray<string>> =>
  existsSync(join(storage, key))
    ? (await readdir(join(storage, key), { recursive: true })).map(String).sort()
    : []

describe("format: parquet through materialize and the local store", () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "materia-parquet-e2e-"))
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  it("stores the asset as Parquet and hands its downstream the same table in a later run", async () => {
    let summaries = 0
    const orders = asset("orders", { format: "parquet" }, () => ordersTable())
    const summary = asset("summary", { ins: { orders } }, ({ orders }) => {
      summaries++
      const amounts = orders.getChild("amount")!.toArray() as Float64Array
      return {
        rows: orders.numRows,
        types: orders.schema.fields.map((field) => `${field.name}: ${String(field.type)}`),
        total: Array.from(amounts).reduce(
          (sum, x, i) => (orders.getChild("amount")!.isValid(i) ? sum + x : sum),
          0
        ),
        regions: orders.getChild("region")!.toArray() as ReadonlyArray<string | null>
      }
    })
    const project = defineProject({ assets: [orders, summary] })

    const first = await materialize(project, ["summary"], { root })
    expect(first.status).toBe("succeeded")
    const storage = join(root, ".materia", "storage")
    const files = await valueFiles(storage, "orders")
    const parquet = files.filter((file) => file.endsWith("value.parquet"))
    expect(parquet).toHaveLength(1)
    const bytes = await readFile(join(storage, "orders", parquet[0]!))
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("PAR1")
    expect(bytes.subarray(-4).toString("latin1")).toBe("PAR1")
    expect((await valueFiles(storage, "summary")).some((file) => file.endsWith("value.json"))).toBe(true)

    // A later run loads `orders` from its Parquet file: only `summary` runs.
    const second = await materialize(project, ["summary"], { root, force: true })
    expect(second.steps.map((step) => step.key)).toEqual(["summary"])
    expect(summaries).toBe(2)
    expect(await second.value(summary)).toEqual({
      rows: 4,
      types: ["id: Int32", "region: Utf8", "amount: Float64", "at: Timestamp<MILLISECOND>"],
      total: 31.75,
      regions: ["eu", null, "us", "eu"]
    })
    const loaded = await second.value(orders)
    expect(loaded).toBeInstanceOf(Table)
    expect(loaded.toArray().map((row) => row.toJSON())).toEqual(
      ordersTable()
        .toArray()
        .map((row) => row.toJSON())
    )
  })

  it("fails the step with a clear error, and stores nothing, when a Parquet asset's body returns no table", async () => {
    const report = asset("report", { format: "parquet" }, () => ({ accuracy: 0.93 }))
    const project = defineProject({ assets: [report] })
    const result = await materialize(project, ["report"], { root, raiseOnError: false })
    expect(result.status).toBe("failed")
    const error = result.steps[0]!.error
    expect(error).toBeInstanceOf(IOManagerError)
    const message = (error as IOManagerError).message
    expect(message).toContain('could not write asset "report" at report/')
    expect(message).toContain("expected an Arrow table for format parquet, found an object")
    expect(await valueFiles(join(root, ".materia", "storage"), "report")).toEqual([])
  })

  it("stores tables as Parquet by default with a project IO manager made with format: parquet", async () => {
    const values = join(root, "values")
    const orders = asset("orders", {}, () => ordersTable())
    const config = asset("config", {}, () => ({ threshold: 3 }))
    const arrow = asset("arrow_orders", { format: "arrow" }, () => ordersTable())
    const project = defineProject({
      assets: [orders, config, arrow],
      ioManagers: { default: makeFsIOManager({ root: values, name: "default", format: "parquet" }) }
    })
    const result = await materialize(project, ["*"], { root })
    expect(result.status).toBe("succeeded")
    expect((await valueFiles(values, "orders")).filter((file) => file.includes("value."))).toEqual([
      expect.stringMatching(/value\.parquet$/)
    ])
    expect((await valueFiles(values, "config")).filter((file) => file.includes("value."))).toEqual([
      expect.stringMatching(/value\.json$/)
    ])
    expect((await valueFiles(values, "arrow_orders")).filter((file) => file.includes("value."))).toEqual([
      expect.stringMatching(/value\.arrow$/)
    ])
    expect((await result.value(orders)).numRows).toBe(4)
  })
})
