/**
 * SQL exploration of stored table values with an in-memory DuckDB: one view per table asset (over
 * its Parquet file, or over a Parquet copy cached by data version of an Arrow IPC file or of a
 * value fetched from S3 or a DuckDB file through its IO manager), then the
 * database is confined (allowed folders, no external access, locked settings) and only read-only
 * SELECT / EXPLAIN statements run, with a row limit and a timeout.
 */
import { randomUUID } from "node:crypto"
import { mkdir, open, realpath, rename, rm, stat } from "node:fs/promises"
import { join } from "node:path"
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  DuckDBTypeId,
  JsonDuckDBValueConverter,
  StatementType
} from "@duckdb/node-api"
import type { IOManager, ValueHandle } from "@materia/core"
import { RecordBatchReader } from "apache-arrow"
import * as Data from "effect/Data"
import * as Stream from "effect/Stream"
import { encodeBatchStream } from "../BatchStream.ts"

/** A JSON value: what every cell of a result becomes (a 64-bit integer too large for a number is a string). */
export type JsonSafe =
  | null
  | boolean
  | number
  | string
  | ReadonlyArray<JsonSafe>
  | { readonly [key: string]: JsonSafe }

/** One stored table value to explore: a local file, or fetched (S3, DuckDB) into the cache. */
export type ExploreTable = ExploreFile | ExploreFetched

/** A table value in a local file (the fs IO manager). */
export interface ExploreFile {
  /** The view's name, usually the asset key (`ml/model`); a key with `/` also gets a `ml__model` view. */
  readonly name: string
  /** How the value is stored; other formats (`json`, `bytes`) are skipped. */
  readonly format: string
  /** The absolute path of the value file. */
  readonly path: string
  /** The value's data version: names its Parquet copy in the cache. */
  readonly dataVersion: string
  /** One partition of a partitioned asset: its partition columns (`{ date: "2026-01-31", region: "eu" }`). */
  readonly partition?: Readonly<Record<string, string>> | undefined
}

/**
 * A table value stored elsewhere (S3, a DuckDB file), streamed once into a Parquet copy in the
 * cache, named by its data version and reused while the value stays current.
 */
export interface ExploreFetched {
  readonly name: string
  readonly dataVersion: string
  /** One partition of a partitioned asset: its partition columns. */
  readonly partition?: Readonly<Record<string, string>> | undefined
  /** The value's record batches (e.g. from `IOManager.loadBatches`); read only when not cached. */
  readonly batches: () => AsyncIterable<unknown>
}

/**
 * The explore entry of a value stored by `io` (S3, DuckDB): its batches come through
 * `io.loadBatches`, so the value is verified as it is fetched. Values that are not tables are skipped.
 */
export const fetchedTable = (
  io: IOManager,
  name: string,
  handle: ValueHandle,
  dataVersion: string
): ExploreFetched | undefined =>
  handle.format === "arrow" || handle.format === "parquet" || handle.format === "table"
    ? {
        name,
        dataVersion,
        batches: () =>
          Stream.toAsyncIterable(io.loadBatches(handle, { assetKey: name, consumerKey: "explore" }))
      }
    : undefined

export interface ExploreOptions {
  /** The folder holding every value; queries may read only here and in the cache. */
  readonly storageRoot: string
  /** Where Parquet copies of Arrow values are kept, one per data version. */
  readonly cacheDir: string
  readonly tables: ReadonlyArray<ExploreTable>
  /** DuckDB's memory limit (default `1GB`). */
  readonly memoryLimit?: string
  /** DuckDB's worker threads (default 2). */
  readonly threads?: number
}

export interface QueryOptions {
  /** Rows returned at most (default 10,000); more sets `truncated`. */
  readonly maxRows?: number
  /** The query is interrupted after this long (default 30 s). */
  readonly timeoutMillis?: number
}

export interface QueryResult {
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>
  readonly rows: ReadonlyArray<Readonly<Record<string, JsonSafe>>>
  /** Whether rows were left out by the row limit. */
  readonly truncated: boolean
}

/** A query handle over the views; `close` releases DuckDB. */
export interface Explorer {
  /** The views made, by name. */
  readonly views: ReadonlyArray<string>
  readonly query: (sql: string, options?: QueryOptions) => Promise<QueryResult>
  readonly close: () => void
}

/**
 * Why exploration failed: `Refused` a statement other than SELECT / EXPLAIN, `InvalidSql` SQL DuckDB
 * rejects (parse, bind or run errors, confinement included), `Timeout` an interrupted query, `Setup`
 * a view or cache that could not be made.
 */
export class ExploreError extends Data.TaggedError("ExploreError")<{
  readonly reason: "Refused" | "InvalidSql" | "Timeout" | "Setup"
  readonly message: string
  readonly cause?: unknown
}> {}

const ALLOWED = new Set<number>([StatementType.SELECT, StatementType.EXPLAIN])
const SAFE_VERSION = /^[A-Za-z0-9_-]+$/
const INT64_TYPES = new Set<number>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT
])

/** A view name as one folder name of the cache. */
const safeSegment = (name: string): string => name.replace(/[^A-Za-z0-9_.-]/g, "_")

/** `{ date: "2026-01-31", region: "eu" }` → `date=2026-01-31/region=eu` (values made folder-safe). */
const hiveFolders = (partition: Readonly<Record<string, string>>): Array<string> =>
  Object.entries(partition).map(([column, value]) => `${safeSegment(column)}=${value.replace(/[/\\]/g, "_")}`)

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`
const quoteString = (text: string): string => `'${text.replaceAll("'", "''")}'`
const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const statementName = (type: number): string => StatementType[type] ?? `statement type ${type}`

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false
  )

/** Writes the Parquet file of `batches` at `<cache>/<dataVersion>.parquet` once (temporary name, then rename). */
const cacheParquet = async (
  batches: () => AsyncIterable<unknown>,
  dataVersion: string,
  cacheDir: string
): Promise<string> => {
  if (!SAFE_VERSION.test(dataVersion))
    throw new ExploreError({
      reason: "Setup",
      message: `data version ${JSON.stringify(dataVersion)} is not a safe file name`
    })
  const target = join(cacheDir, `${dataVersion}.parquet`)
  if (await exists(target)) return target
  await mkdir(cacheDir, { recursive: true })
  const tmp = `${target}.${randomUUID()}.tmp`
  const file = await open(tmp, "wx")
  try {
    // Batch by batch, row group by row group: a value larger than memory is cached too.
    for await (const group of encodeBatchStream(batches(), "parquet").chunks) await file.writev([...group])
    await file.sync()
    await file.close()
    await rename(tmp, target)
  } catch (cause) {
    await file.close().catch(() => undefined)
    await rm(tmp, { force: true })
    throw cause
  }
  return target
}

/**
 * The Parquet copy of an Arrow IPC value at `<cache>/<dataVersion>.parquet`, written once (under a
 * temporary name, then renamed) and reused for the same data version; read batch by batch.
 */
export const cachedParquet = (arrowPath: string, dataVersion: string, cacheDir: string): Promise<string> =>
  cacheParquet(
    () => ({
      async *[Symbol.asyncIterator]() {
        const handle = await open(arrowPath, "r")
        try {
          yield* await RecordBatchReader.from(handle)
        } finally {
          await handle.close()
        }
      }
    }),
    dataVersion,
    cacheDir
  )

/** Top-level 64-bit integers come as strings from DuckDB's JSON conversion: numbers when exact. */
const toSafeInteger = (value: JsonSafe): JsonSafe => {
  if (typeof value !== "string") return value
  const n = Number(value)
  return Number.isSafeInteger(n) && String(n) === value ? n : value
}

/** Opens DuckDB over the tables, makes the views, then confines it. */
export const openExplorer = async (options: ExploreOptions): Promise<Explorer> => {
  await mkdir(options.cacheDir, { recursive: true })
  const [storageRoot, cacheDir] = await Promise.all([
    realpath(options.storageRoot),
    realpath(options.cacheDir)
  ])
  const instance = await DuckDBInstance.create(":memory:")
  const setup = await instance.connect()
  const views: Array<string> = []
  try {
    await setup.run("SET autoinstall_known_extensions=false")
    // The tables of one name: one value, or the current value of every partition of an asset.
    const groups = new Map<string, Array<ExploreTable>>()
    for (const table of options.tables) {
      const group = groups.get(table.name) ?? []
      group.push(table)
      groups.set(table.name, group)
    }
    for (const [tableName, group] of groups) {
      const files: Array<string> = []
      for (const table of group) {
        // A partition's cached copy sits under hive folders so that DuckDB reads its columns.
        const cache =
          table.partition === undefined
            ? cacheDir
            : join(cacheDir, "partitions", safeSegment(tableName), ...hiveFolders(table.partition))
        if ("batches" in table) files.push(await cacheParquet(table.batches, table.dataVersion, cache))
        else {
          if (table.format !== "parquet" && table.format !== "arrow") continue
          const source = await realpath(table.path)
          files.push(
            table.format === "parquet" ? source : await cachedParquet(source, table.dataVersion, cache)
          )
        }
      }
      if (files.length === 0) continue
      const partitioned = group.some((t) => t.partition !== undefined)
      const source = partitioned
        ? `read_parquet([${files.map(quoteString).join(", ")}], hive_partitioning = true, hive_types_autocast = false, union_by_name = true)`
        : `read_parquet(${quoteString(files[0]!)})`
      const names = [tableName]
      const alias = tableName.replaceAll("/", "__")
      if (alias !== tableName && !groups.has(alias)) names.push(alias)
      for (const name of names) {
        await setup.run(`CREATE VIEW ${quoteIdent(name)} AS SELECT * FROM ${source}`)
        views.push(name)
      }
    }
    const dirs = [storageRoot, cacheDir].map((dir) => quoteString(dir.endsWith("/") ? dir : `${dir}/`))
    await setup.run(`SET memory_limit=${quoteString(options.memoryLimit ?? "1GB")}`)
    await setup.run(`SET threads=${Math.max(1, Math.floor(options.threads ?? 2))}`)
    await setup.run(`SET allowed_directories=[${dirs.join(", ")}]`)
    await setup.run("SET enable_external_access=false")
    await setup.run("SET lock_configuration=true")
  } catch (cause) {
    instance.closeSync()
    if (cause instanceof ExploreError) throw cause
    throw new ExploreError({
      reason: "Setup",
      message: `could not prepare the views: ${messageOf(cause)}`,
      cause
    })
  } finally {
    setup.closeSync()
  }

  /** Prepares every statement and refuses any that is not SELECT / EXPLAIN, before one runs. */
  const prepareAll = async (connection: DuckDBConnection, sql: string) => {
    const extracted = await connection.extractStatements(sql)
    if (extracted.count === 0)
      throw new ExploreError({ reason: "InvalidSql", message: "no SQL statement given" })
    const prepared: Array<DuckDBPreparedStatement> = []
    for (let i = 0; i < extracted.count; i++) {
      const statement = await extracted.prepare(i)
      if (!ALLOWED.has(statement.statementType))
        throw new ExploreError({
          reason: "Refused",
          message: `only SELECT and EXPLAIN statements are allowed; found ${statementName(statement.statementType)} in statement ${i + 1}`
        })
      prepared.push(statement)
    }
    return prepared
  }

  const query = async (sql: string, queryOptions: QueryOptions = {}): Promise<QueryResult> => {
    const maxRows = queryOptions.maxRows ?? 10_000
    const timeoutMillis = queryOptions.timeoutMillis ?? 30_000
    const connection = await instance.connect()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      connection.interrupt()
    }, timeoutMillis)
    try {
      const prepared = await prepareAll(connection, sql)
      let last: QueryResult = { columns: [], rows: [], truncated: false }
      for (const statement of prepared) {
        const result = await statement.stream()
        const names = result.deduplicatedColumnNames()
        const types = result.columnTypes()
        const int64 = types.map((type) => INT64_TYPES.has(type.typeId))
        const rows: Array<Record<string, JsonSafe>> = []
        let truncated = false
        for (;;) {
          const chunk = await result.fetchChunk()
          if (chunk === null || chunk.rowCount === 0) break
          if (rows.length >= maxRows) {
            truncated = true
            break
          }
          const values = chunk.convertRows(JsonDuckDBValueConverter)
          for (const row of values) {
            if (rows.length >= maxRows) {
              truncated = true
              break
            }
            const object: Record<string, JsonSafe> = {}
            names.forEach((name, c) => {
              const cell = row[c] ?? null
              object[name] = int64[c] === true ? toSafeInteger(cell) : cell
            })
            rows.push(object)
          }
          if (truncated) break
        }
        last = { columns: names.map((name, c) => ({ name, type: String(types[c]) })), rows, truncated }
      }
      return last
    } catch (cause) {
      if (timedOut)
        throw new ExploreError({
          reason: "Timeout",
          message: `the query was interrupted: it ran longer than its timeout of ${timeoutMillis} ms`,
          cause
        })
      if (cause instanceof ExploreError) throw cause
      throw new ExploreError({ reason: "InvalidSql", message: messageOf(cause), cause })
    } finally {
      clearTimeout(timer)
      connection.closeSync()
    }
  }

  return { views, query, close: () => instance.closeSync() }
}
