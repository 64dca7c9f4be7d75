/**
 * `materia query` as a real process: rows as a table, CSV and JSON, the row limit, and exit 2 with
 * DuckDB's message for a refused statement or bad SQL.
 */
import { describe, it } from "vitest"
import { CLI_TEST_TIMEOUT, makeTempProject, transcript } from "./TempProject.ts"

describe("materia query", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("queries table assets; refuses writes and bad SQL with exit 2", async ({ expect, onTestFinished }) => {
    const p = await makeTempProject("tables.ts", onTestFinished)
    const seeded = await p.materia("materialize", "--select", "*")
    expect(seeded.code, transcript(seeded)).toBe(0)

    const csv = await p.materia(
      "query",
      "select region, count(*) as n from sales__orders group by region order by region",
      "--format",
      "csv"
    )
    expect(csv.code, transcript(csv)).toBe(0)
    expect(csv.stdout.trim().split("\n")).toEqual(["region,n", "eu,2", "us,1"])

    const json = await p.materia(
      "query",
      `select id from "sales/orders" order by id`,
      "--format",
      "json",
      "--max-rows",
      "2"
    )
    expect(json.code, transcript(json)).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({
      columns: [{ name: "id", type: "INTEGER" }],
      rows: [{ id: 1 }, { id: 2 }],
      truncated: true
    })

    const text = await p.materia("query", "select count(*) as n from sales__orders")
    expect(text.code, transcript(text)).toBe(0)
    expect(text.stdout.trim().split("\n")).toEqual(["n", "3"])

    const refused = await p.materia("query", "select 1; create table t as select 1")
    expect(refused.code, transcript(refused)).toBe(2)
    expect(refused.stderr).toContain(
      "only SELECT and EXPLAIN statements are allowed; found CREATE in statement 2"
    )

    // A path outside storage fails already when the statement is prepared: nothing runs either.
    const copy = await p.materia("query", "copy (select 1) to 'out.csv'")
    expect(copy.code, transcript(copy)).toBe(2)
    expect(copy.stderr).toContain("Permission Error")

    const bad = await p.materia("query", "select * from no_such_view")
    expect(bad.code, transcript(bad)).toBe(2)
    expect(bad.stderr).toContain("no_such_view")
  })
})
