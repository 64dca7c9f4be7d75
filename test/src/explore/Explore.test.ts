/**
 * End to end: a project materialized into the local store (SQLite + values on disk), then explored
 * with SQL through `explore(project, { root })`: Arrow and Parquet table assets are views, other
 * values are not, and the explorer refuses writes.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises"
import { join } from "node:path"
import { asset, defineProject, explore, materialize } from "@materia/assets"
import { tableFromArrays } from "apache-arrow"
import { afterEach, beforeEach, describe, expect, it } from "vitest"

const TMP = join(import.meta.dirname, "..", "..", ".tmp")

describe("explore(project) over the local store", () => {
  let root: string
  beforeEach(async () => {
    await mkdir(TMP, { recursive: true })
    root = await mkdtemp(join(TMP, "explore-"))
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  it("serves every materialized table asset as a view named after its key", async () => {
    const orders = asset(["sales", "orders"], {}, () =>
      tableFromArrays({ id: Int32Array.from([1, 2, 3]), amount: Float64Array.from([10, 20, 12.5]) })
    )
    const totals = asset("totals", { format: "parquet", ins: { orders } }, ({ orders }) =>
      tableFromArrays({ rows: Int32Array.from([orders.numRows]) })
    )
    const note = asset("note", {}, () => ({ text: "not a table" }))
    const project = defineProject({ assets: [orders, totals, note] })
    const run = await materialize(project, ["*"], { root })
    expect(run.status).toBe("succeeded")

    const explorer = await explore(project, { root })
    try {
      expect(explorer.views).toEqual(["sales/orders", "sales__orders", "totals"])
      const count = await explorer.query(`select count(*) as n, sum(amount) as total from "sales/orders"`)
      expect(count.rows).toEqual([{ n: 3, total: 42.5 }])
      expect((await explorer.query("select rows from totals")).rows).toEqual([{ rows: 3 }])
      await expect(explorer.query("create table t as select 1")).rejects.toThrow(
        "only SELECT and EXPLAIN statements are allowed; found CREATE in statement 1"
      )
    } finally {
      explorer.close()
    }
  })
})
