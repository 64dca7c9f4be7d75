/**
 * The executor promotes a committed value in an IO manager that keeps its own "current" pointer:
 * with the DuckDB IO manager, the asset's view follows each committed materialization.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { asset, defineProject, materialize, memoryStore } from "@materia/assets"
import { makeDuckDbIOManager } from "@materia/io-managers/duckdb"
import { tableFromArrays } from "apache-arrow"
import { afterAll, describe, expect, it } from "vitest"

const dir = mkdtempSync(join(tmpdir(), "materia-duckdb-promote-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const query = async (path: string, sql: string) => {
  const instance = await DuckDBInstance.create(path)
  try {
    const connection = await instance.connect()
    try {
      return (await connection.runAndReadAll(sql)).getRowObjectsJson()
    } finally {
      connection.closeSync()
    }
  } finally {
    instance.closeSync()
  }
}

describe("materialize with the DuckDB IO manager", () => {
  it("switches the asset's view to each committed value", async () => {
    const path = join(dir, "warehouse.duckdb")
    const warehouse = makeDuckDbIOManager({ path, name: "warehouse" })
    let scale = 1
    const orders = asset("orders", { io: "warehouse" }, () =>
      tableFromArrays({ amount: Float64Array.from([scale, 2 * scale]) })
    )
    const project = defineProject({ name: "shop", assets: [orders], ioManagers: { warehouse } })
    const store = memoryStore()
    await materialize(project, ["orders"], { storage: store })
    await warehouse.close()
    expect(await query(path, 'select sum(amount) as total from "orders"')).toEqual([{ total: 3 }])
    scale = 10
    await materialize(project, ["orders"], { storage: store, force: true })
    await warehouse.close()
    expect(await query(path, 'select sum(amount) as total from "orders"')).toEqual([{ total: 30 }])
  })
})
