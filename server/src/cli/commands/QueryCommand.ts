/**
 * `materia query "<sql>" [--format table|csv|json] [--max-rows N]`: SQL over the current value of
 * every materialized table asset (DuckDB views named after the keys). Only SELECT / EXPLAIN run;
 * a refused statement or SQL DuckDB rejects exits 2 with DuckDB's message.
 */
import { explore } from "@materia/assets"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { json, table } from "../Output.ts"
import { openProject } from "./Shared.ts"

const FORMATS = ["table", "csv", "json"] as const
type Format = (typeof FORMATS)[number]

const isFormat = (value: string): value is Format => (FORMATS as ReadonlyArray<string>).includes(value)

/** A cell as text: strings as they are, other values as JSON, null as empty (csv) or NULL (table). */
const text = (value: unknown, nullText: string): string =>
  value === null || value === undefined ? nullText : typeof value === "string" ? value : JSON.stringify(value)

const csvCell = (cell: string): string => (/[",\n\r]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)

export const queryCommand: Command = {
  name: "query",
  usage: `materia query "<sql>" [--format table|csv|json] [--max-rows N] [--project FILE]

  Every materialized table asset is a view named after its key ("ml/model", also ml__model).
  Only SELECT and EXPLAIN statements run.

  --format F      table (default), csv or json
  --max-rows N    print at most N rows (default 10000)
  --project FILE  the project module (default: the nearest materia.config.ts)`,
  run: async (args, context) => {
    const { values, positionals } = parseOptions(
      "query",
      args,
      { format: { type: "string" }, "max-rows": { type: "string" }, project: { type: "string" } },
      true
    )
    const format = values.format ?? "table"
    if (!isFormat(format))
      throw new UsageError({
        message: `materia query: --format expects one of ${FORMATS.join(", ")}, found "${format}"`
      })
    const maxRows = positiveInt("query", "max-rows", values["max-rows"]) ?? 10_000
    if (positionals.length !== 1)
      throw new UsageError({
        message: 'materia query: expected one SQL argument, e.g. materia query "select 1"'
      })
    const sql = positionals[0]!
    const { project, root, store } = await openProject(values.project, context)
    const explorer = await explore(project, { root, storage: store.storage })
    try {
      const result = await explorer.query(sql, { maxRows })
      const names = result.columns.map((c) => c.name)
      if (format === "json") context.output.out(json(result))
      else if (format === "csv") {
        context.output.out(names.map(csvCell).join(","))
        for (const row of result.rows)
          context.output.out(names.map((n) => csvCell(text(row[n], ""))).join(","))
      } else {
        for (const line of table(
          names,
          result.rows.map((row) => names.map((n) => text(row[n], "NULL")))
        ))
          context.output.out(line)
      }
      if (result.truncated && format !== "json")
        context.output.err(`(showing the first ${maxRows} rows; raise --max-rows to see more)`)
      return ExitCode.Ok
    } catch (error) {
      // Matched by tag: importing ExploreError would load DuckDB with every command.
      const explored = error as { readonly _tag?: unknown; readonly reason?: unknown } | null
      if (
        explored?._tag === "ExploreError" &&
        (explored.reason === "Refused" || explored.reason === "InvalidSql")
      ) {
        context.output.err(`error: ${(error as Error).message}`)
        return ExitCode.Usage
      }
      throw error
    } finally {
      explorer.close()
    }
  }
}
