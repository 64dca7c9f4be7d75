/**
 * The DuckDB IO manager: asset values as tables of one DuckDB database file, for users who want
 * their assets in a DuckDB warehouse. Each materialization is a new table `materia."<key>/<attempt>"`;
 * the asset's view `main."<key>"` is switched to it, in one transaction, when it becomes current
 * (`promote`); a partitioned asset's view covers the current table of each partition. Serves the in-process executor only: a DuckDB file has one writer process at a time
 * and cannot be opened, even read-only, by another process meanwhile.
 */
import { createHash, randomUUID } from "node:crypto"
import { openAsBlob } from "node:fs"
import { mkdir, mkdtemp, open, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api"
import {
  assetKeySegments,
  type InputContext,
  type IOManager,
  IOManagerError,
  type JsonValue,
  type OutputContext,
  type PromoteContext,
  type RecordBatchLike,
  type StoredValue,
  type ValueHandle
} from "@materia/core"
import {
  makeData,
  RecordBatch,
  type Schema,
  Struct,
  Table,
  tableFromIPC,
  type Vector,
  vectorFromArray
} from "apache-arrow"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { parquetBatches, parquetSchema } from "../fs/Parquet.ts"
import { decodeJson, encodeValue } from "../fs/ValueEncoding.ts"
import { isSafeSegment, wipeAdvice } from "../ValueLocation.ts"

/** Options of `makeDuckDbIOManager`. */
export interface DuckDbIOManagerOptions {
  /** The DuckDB database file (created on first use). */
  readonly path: string
  /** The name assets use to pick this IO manager (default `duckdb`). */
  readonly name?: string
  /**
   * Where tables are handed to and from DuckDB as temporary Parquet files (DuckDB has no Arrow
   * hand-off here; its Parquet reader and writer stream). Default: the OS's temporary folder.
   */
  readonly tempDir?: string
}

/** The DuckDB IO manager: an IO manager with the view switch and a way to release the file. */
export interface DuckDbIOManager extends IOManager {
  /** Points the asset's view at `handle`'s table, in one transaction; call once its materialization committed. */
  readonly promote: (handle: ValueHandle, context: PromoteContext) => Effect.Effect<void, IOManagerError>
  /** Closes the database file (releasing its lock); the next use opens it again. */
  readonly close: () => Promise<void>
}

/** The schema holding one table per stored value, and the catalog of those values. */
const VALUES_SCHEMA = "materia"
const CATALOG = `${VALUES_SCHEMA}.stored_values`
const CURRENT = `${VALUES_SCHEMA}.current_values`

type Operation = IOManagerError["operation"]

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`
const quoteString = (text: string): string => `'${text.replaceAll("'", "''")}'`
const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** The value table of a location, qualified. */
const tableOf = (location: string) => `${VALUES_SCHEMA}.${quoteIdent(location)}`

/** DuckDB's "Could not set lock on file …: Conflicting lock is held in … (PID n)". */
const isLockConflict = (cause: unknown) => /could not set lock|conflicting lock/i.test(messageOf(cause))

/** The partition folders of a location (`<key path>/<hive folders>/<attempt id>`), none for an unpartitioned value. */
const partitionOf = (assetKey: string, location: string): ReadonlyArray<string> => {
  const key = assetKeySegments(assetKey)
  const segments = location.split("/")
  if (segments.length <= key.length + 1 || key.some((segment, i) => segments[i] !== segment)) return []
  return segments.slice(key.length, -1)
}

/** ` (PID n)` of the process holding a DuckDB file, when DuckDB names it. */
const lockHolder = (cause: unknown): string => {
  const pid = /\(PID (\d+)\)/.exec(messageOf(cause))?.[1]
  return pid === undefined ? "" : ` (PID ${pid})`
}

/** The types DuckDB gives back that differ from the stored schema's are converted back to it. */
const restoreBatch = (batch: RecordBatch, schema: Schema): RecordBatch => {
  if (batch.schema.fields.length !== schema.fields.length)
    throw new Error(
      `DuckDB returned ${batch.schema.fields.length} columns, the stored schema has ${schema.fields.length}`
    )
  const children = schema.fields.map((field, i) => {
    const column = batch.getChildAt(i) as Vector | null
    if (column === null) throw new Error(`DuckDB returned no column ${i} (${field.name})`)
    if (String(column.type) === String(field.type) && column.data.length === 1) return column.data[0]!
    // Dictionaries, small unsigned types and the like: rebuilt from their values.
    return vectorFromArray([...column] as Array<unknown>, field.type).data[0]!
  })
  const data = makeData({ type: new Struct(schema.fields), length: batch.numRows, nullCount: 0, children })
  return new RecordBatch(schema, data)
}

/**
 * Makes the DuckDB IO manager. Tables (an Arrow `Table` or a stream of record batches) become DuckDB
 * tables, loaded back as Arrow with their stored Arrow schema (types DuckDB lacks, such as
 * dictionaries, are rebuilt); bytes and JSON values become one-row tables (`value` BLOB / JSON text).
 * Data versions are the sha256 of the Parquet hand-off (equal to the fs IO manager's Parquet
 * versions) or of the bytes / JSON text.
 *
 * @example
 * const warehouse = makeDuckDbIOManager({ path: "warehouse.duckdb" })
 * const orders = asset("orders", { io: "duckdb" }, () => loadOrders())
 * export default defineProject({ name: "shop", assets: [orders], ioManagers: { duckdb: warehouse } })
 */
export const makeDuckDbIOManager = (options: DuckDbIOManagerOptions): DuckDbIOManager => {
  const name = options.name ?? "duckdb"
  const path = resolve(options.path)
  const tempRoot = options.tempDir ?? tmpdir()
  let opening: Promise<DuckDBInstance> | undefined
  /** View switches one at a time: DuckDB refuses two transactions replacing one view at once. */
  const viewLock = Semaphore.makeUnsafe(1)

  const failure = (
    operation: Operation,
    assetKey: string,
    location: string | undefined,
    reason: string,
    cause?: unknown
  ) =>
    new IOManagerError({
      ioManager: name,
      assetKey,
      operation,
      location: location === undefined ? path : `${path}#${location}`,
      reason,
      cause
    })

  const openInstance = async (): Promise<DuckDBInstance> => {
    const { DuckDBInstance } = await import("@duckdb/node-api")
    const instance = await DuckDBInstance.create(path)
    const setup = await instance.connect()
    try {
      await setup.run("SET autoinstall_known_extensions=false")
      await setup.run(`CREATE SCHEMA IF NOT EXISTS ${VALUES_SCHEMA}`)
      await setup.run(
        `CREATE TABLE IF NOT EXISTS ${CATALOG} (location VARCHAR PRIMARY KEY, asset_key VARCHAR NOT NULL, format VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, bytes BIGINT NOT NULL, rows BIGINT, arrow_schema BLOB, seq BIGINT NOT NULL)`
      )
      await setup.run(
        `CREATE TABLE IF NOT EXISTS ${CURRENT} (asset_key VARCHAR NOT NULL, partition VARCHAR NOT NULL, location VARCHAR NOT NULL, PRIMARY KEY (asset_key, partition))`
      )
      await setup.run(`CREATE SEQUENCE IF NOT EXISTS ${VALUES_SCHEMA}.stored_seq`)
    } catch (cause) {
      setup.closeSync()
      instance.closeSync()
      throw cause
    }
    setup.closeSync()
    return instance
  }

  /** A connection for one operation, closed with the scope; a locked file is named as such. */
  const connection = (operation: Operation, assetKey: string, location?: string) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          opening ??= openInstance()
          let instance: DuckDBInstance
          try {
            instance = await opening
          } catch (cause) {
            opening = undefined
            throw cause
          }
          return instance.connect()
        },
        catch: (cause) =>
          failure(
            operation,
            assetKey,
            location,
            isLockConflict(cause)
              ? `the DuckDB file ${path} is locked by another process${lockHolder(cause)} (DuckDB: ${messageOf(cause)}); the DuckDB IO manager serves the in-process executor only, since a DuckDB file has one writer process at a time and no other process may open it meanwhile: stop the other process (a \`materia query\`, another run, a DuckDB shell), or store the assets with the fs or S3 IO manager for worker processes`
              : `could not open the DuckDB file ${path} (${messageOf(cause)})`,
            cause
          )
      }),
      (opened) => Effect.sync(() => opened.closeSync())
    )

  /** A DuckDB call as an effect; failures name what was done. */
  const sql =
    (operation: Operation, assetKey: string, location: string | undefined) =>
    <A>(what: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) =>
          cause instanceof IOManagerError
            ? cause
            : failure(operation, assetKey, location, `could not ${what} (${messageOf(cause)})`, cause)
      })

  /** A temporary folder for Parquet hand-offs, removed with the scope. */
  const tempFolder = (operation: Operation, assetKey: string, location: string) =>
    Effect.acquireRelease(
      sql(
        operation,
        assetKey,
        location
      )("make a temporary folder", async () => {
        await mkdir(tempRoot, { recursive: true })
        return mkdtemp(join(tempRoot, "materia-duckdb-"))
      }),
      (folder) => Effect.promise(() => rm(folder, { recursive: true, force: true }).catch(() => undefined))
    )

  const locationOf = (context: OutputContext) => {
    const refuse = (reason: string) => Effect.fail(failure("write", context.assetKey, undefined, reason))
    if (!isSafeSegment(context.attemptId))
      return refuse(`attempt id ${JSON.stringify(context.attemptId)} is not a safe name`)
    if (context.assetPath.length === 0) return refuse("the asset key path is empty")
    const unsafe = context.assetPath.find((segment) => !isSafeSegment(segment))
    if (unsafe !== undefined) return refuse(`asset key segment ${JSON.stringify(unsafe)} is not a safe name`)
    return Effect.succeed([...context.assetPath, context.attemptId].join("/"))
  }

  const write = (value: unknown, context: OutputContext): Effect.Effect<StoredValue, IOManagerError> =>
    Effect.scoped(
      Effect.gen(function* () {
        const assetKey = context.assetKey
        const location = yield* locationOf(context)
        const fail = (reason: string, cause?: unknown) => failure("write", assetKey, location, reason, cause)
        const run = sql("write", assetKey, location)
        const encoded = yield* Effect.try({
          try: () => encodeValue(value, { tableFormat: "parquet", tablesOnly: context.format !== undefined }),
          catch: (cause) => fail(`could not inspect the value (${messageOf(cause)})`, cause)
        })
        if ("problem" in encoded) return yield* Effect.fail(fail(encoded.problem))
        const db = yield* connection("write", assetKey, location)
        const taken = yield* run(
          "look up the location",
          async () =>
            (await db.runAndReadAll(`SELECT 1 FROM ${CATALOG} WHERE location = $1`, [location]))
              .currentRowCount
        )
        if (taken > 0)
          return yield* Effect.fail(
            fail(
              "a value is already stored at this location; a stored value is never overwritten, so every write needs a new attempt id"
            )
          )
        // The bytes go to a file (Parquet for tables, DuckDB's reader streams it), hashed on the way.
        const folder = yield* tempFolder("write", assetKey, location)
        const file = join(folder, `${randomUUID()}.${encoded.format === "parquet" ? "parquet" : "bin"}`)
        const { bytes, sha256 } = yield* run(`encode the value as ${encoded.format}`, async () => {
          const handle = await open(file, "wx")
          try {
            const hash = createHash("sha256")
            let size = 0
            for await (const group of encoded.chunks) {
              const pending = handle.writev([...group], size)
              for (const chunk of group) {
                hash.update(chunk)
                size += chunk.byteLength
              }
              await pending
            }
            return { bytes: size, sha256: hash.digest("hex") }
          } finally {
            await handle.close()
          }
        })
        const table = encoded.summary?.()
        const format = encoded.format === "parquet" ? "table" : encoded.format
        const schemaBytes =
          format === "table"
            ? yield* run("read the table's Arrow schema", async () =>
                (await parquetSchema(await openAsBlob(file))).intoIPCStream()
              )
            : undefined
        const target = tableOf(location)
        yield* run("store the table", async () => {
          await db.run("BEGIN TRANSACTION")
          try {
            if (format === "table")
              await db.run(`CREATE TABLE ${target} AS SELECT * FROM read_parquet(${quoteString(file)})`)
            else if (format === "json")
              await db.run(
                `CREATE TABLE ${target} AS SELECT content AS value FROM read_text(${quoteString(file)})`
              )
            else
              await db.run(
                `CREATE TABLE ${target} AS SELECT content AS value FROM read_blob(${quoteString(file)})`
              )
            const { blobValue } = await import("@duckdb/node-api")
            await db.run(
              `INSERT INTO ${CATALOG} VALUES ($1, $2, $3, $4, $5, $6, $7, nextval('${VALUES_SCHEMA}.stored_seq'))`,
              [
                location,
                assetKey,
                format,
                sha256,
                bytes,
                table?.rows ?? null,
                schemaBytes === undefined ? null : blobValue(schemaBytes)
              ]
            )
            await db.run("COMMIT")
          } catch (cause) {
            await db.run("ROLLBACK").catch(() => undefined)
            throw cause
          }
        })
        const metadata: Record<string, JsonValue> = { bytes }
        if (table !== undefined) {
          metadata.rows = table.rows
          metadata.schema = { ...table.schema }
        }
        return {
          handle: { ioManager: name, location, format },
          dataVersion: sha256.slice(0, 32),
          metadata
        } satisfies StoredValue
      })
    )

  interface StoredRow {
    readonly format: string
    readonly schema: Schema | undefined
    readonly seq: bigint
  }

  /** The catalog row of a handle; a missing one names the location and the fix. */
  const lookup = (db: DuckDBConnection, handle: ValueHandle, assetKey: string, operation: Operation) =>
    Effect.gen(function* () {
      const location = handle.location
      const refuse = (reason: string) => Effect.fail(failure(operation, assetKey, location, reason))
      if (handle.ioManager !== name)
        return yield* refuse(`the handle belongs to IO manager "${handle.ioManager}", not "${name}"`)
      const segments = location.split("/")
      if (segments.length < 2 || !segments.every(isSafeSegment))
        return yield* refuse("expected a location <asset key path>/<attempt id> of safe names")
      const rows = yield* sql(
        operation,
        assetKey,
        location
      )("read the catalog", async () =>
        (
          await db.runAndReadAll(`SELECT format, arrow_schema, seq FROM ${CATALOG} WHERE location = $1`, [
            location
          ])
        ).getRows()
      )
      const row = rows[0]
      if (row === undefined)
        return yield* refuse(`no table is stored at this location in ${path}; ${wipeAdvice(assetKey)}`)
      const schemaBlob = row[1] as { readonly bytes: Uint8Array } | null
      return {
        format: String(row[0]),
        schema: schemaBlob === null ? undefined : tableFromIPC(schemaBlob.bytes).schema,
        seq: row[2] as bigint
      } satisfies StoredRow
    })

  /** Exports a value table to a temporary Parquet file; its batches come back with the stored schema. */
  const exportedBatches = (
    db: DuckDBConnection,
    handle: ValueHandle,
    stored: StoredRow,
    assetKey: string
  ): Effect.Effect<AsyncIterable<RecordBatch>, IOManagerError, Scope.Scope> =>
    Effect.gen(function* () {
      const location = handle.location
      const folder = yield* tempFolder("load", assetKey, location)
      const file = join(folder, "export.parquet")
      const run = sql("load", assetKey, location)
      yield* run("export the table", () =>
        db.run(`COPY (SELECT * FROM ${tableOf(location)}) TO ${quoteString(file)} (FORMAT parquet)`)
      )
      const blob = yield* run("open the exported table", () => openAsBlob(file))
      const schema = stored.schema
      return {
        async *[Symbol.asyncIterator]() {
          for await (const batch of parquetBatches(blob))
            yield schema === undefined ? batch : restoreBatch(batch, schema)
        }
      }
    })

  /**
   * Makes `location` the current value of its asset (or of its partition: the hive folders between
   * the key and the attempt, `date=2026-01-01`) unless a later one is current, and rebuilds the
   * asset's view over every current partition, each with its partition columns; one transaction.
   */
  const switchView = (
    db: DuckDBConnection,
    assetKey: string,
    location: string,
    seq: bigint,
    onlyForward: boolean
  ) =>
    Semaphore.withPermits(
      viewLock,
      1
    )(
      sql(
        "load",
        assetKey,
        location
      )("switch the asset's view", async () => {
        const partition = partitionOf(assetKey, location)
        await db.run("BEGIN TRANSACTION")
        try {
          if (onlyForward) {
            const current = (
              await db.runAndReadAll(
                `SELECT s.seq FROM ${CURRENT} c JOIN ${CATALOG} s USING (location) WHERE c.asset_key = $1 AND c.partition = $2`,
                [assetKey, partition.join("/")]
              )
            ).getRows()[0]
            if (current !== undefined && (current[0] as bigint) >= seq) {
              await db.run("ROLLBACK")
              return
            }
          }
          await db.run(`INSERT OR REPLACE INTO ${CURRENT} VALUES ($1, $2, $3)`, [
            assetKey,
            partition.join("/"),
            location
          ])
          const currents = (
            await db.runAndReadAll(
              `SELECT location FROM ${CURRENT} WHERE asset_key = $1 ORDER BY partition`,
              [assetKey]
            )
          ).getRows()
          const selects = currents.map(([current]) => {
            const columns = partitionOf(assetKey, String(current)).map((segment) => {
              const at = segment.indexOf("=")
              return at < 0
                ? `${quoteString(segment)} AS partition`
                : `${quoteString(segment.slice(at + 1))} AS ${quoteIdent(segment.slice(0, at))}`
            })
            return `SELECT *${columns.map((column) => `, ${column}`).join("")} FROM ${tableOf(String(current))}`
          })
          await db.run(
            `CREATE OR REPLACE VIEW main.${quoteIdent(assetKey)} AS ${selects.join(" UNION ALL BY NAME ")}`
          )
          await db.run("COMMIT")
        } catch (cause) {
          await db.run("ROLLBACK").catch(() => undefined)
          throw cause
        }
      })
    )

  const promote = (handle: ValueHandle, context: PromoteContext): Effect.Effect<void, IOManagerError> =>
    Effect.scoped(
      Effect.gen(function* () {
        const db = yield* connection("write", context.assetKey, handle.location)
        const stored = yield* lookup(db, handle, context.assetKey, "write")
        yield* switchView(db, context.assetKey, handle.location, stored.seq, false)
      })
    )

  const load = (handle: ValueHandle, context: InputContext): Effect.Effect<unknown, IOManagerError> =>
    Effect.scoped(
      Effect.gen(function* () {
        const assetKey = context.assetKey
        const location = handle.location
        const db = yield* connection("load", assetKey, location)
        const stored = yield* lookup(db, handle, assetKey, "load")
        // Only committed values are loaded: until `promote` is called by the executor, a load
        // moves the view forward to the value it reads (never back to an older one).
        yield* switchView(db, assetKey, location, stored.seq, true)
        const run = sql("load", assetKey, location)
        if (stored.format === "table") {
          const batches = yield* exportedBatches(db, handle, stored, assetKey)
          return yield* run("read the exported table", async () => {
            const read: Array<RecordBatch> = []
            for await (const batch of batches) read.push(batch)
            return stored.schema === undefined ? new Table(read) : new Table(stored.schema, read)
          })
        }
        const value = yield* run("read the value", async () => {
          const row = (await db.runAndReadAll(`SELECT value FROM ${tableOf(location)}`)).getRows()[0]
          if (row === undefined) throw new Error("the value table is empty")
          return row[0]
        })
        if (stored.format === "bytes") return new Uint8Array((value as { readonly bytes: Uint8Array }).bytes)
        return yield* Effect.try({
          try: () => decodeJson(Buffer.from(String(value), "utf8")),
          catch: (cause) =>
            failure("load", assetKey, location, `the stored JSON does not parse (${messageOf(cause)})`, cause)
        })
      })
    )

  const loadBatches = (
    handle: ValueHandle,
    context: InputContext
  ): Stream.Stream<RecordBatchLike, IOManagerError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const assetKey = context.assetKey
        const db = yield* connection("load", assetKey, handle.location)
        const stored = yield* lookup(db, handle, assetKey, "load")
        if (stored.format !== "table")
          return yield* Effect.fail(
            failure(
              "load",
              assetKey,
              handle.location,
              `expected an Arrow table to stream as record batches, found a value stored as ${stored.format}`
            )
          )
        yield* switchView(db, assetKey, handle.location, stored.seq, true)
        const batches = yield* exportedBatches(db, handle, stored, assetKey)
        return Stream.fromAsyncIterable(batches, (cause) =>
          failure(
            "load",
            assetKey,
            handle.location,
            `could not read the exported table (${messageOf(cause)})`,
            cause
          )
        )
      })
    )

  const remove = (handle: ValueHandle): Effect.Effect<void, IOManagerError> =>
    Effect.scoped(
      Effect.gen(function* () {
        const segments = handle.location.split("/")
        const assetKey = segments.length > 1 ? segments.slice(0, -1).join("/") : handle.location
        if (handle.ioManager !== name || segments.length < 2 || !segments.every(isSafeSegment))
          return yield* Effect.fail(
            failure(
              "delete",
              assetKey,
              handle.location,
              "expected a location <asset key path>/<attempt id> of this IO manager"
            )
          )
        const db = yield* connection("delete", assetKey, handle.location)
        // Deleting a value that is already gone succeeds: retention may run twice.
        yield* sql(
          "delete",
          assetKey,
          handle.location
        )("drop the table", async () => {
          await db.run("BEGIN TRANSACTION")
          try {
            await db.run(`DROP TABLE IF EXISTS ${tableOf(handle.location)}`)
            await db.run(`DELETE FROM ${CATALOG} WHERE location = $1`, [handle.location])
            await db.run("COMMIT")
          } catch (cause) {
            await db.run("ROLLBACK").catch(() => undefined)
            throw cause
          }
        })
      })
    )

  const close = async () => {
    const instance = opening
    opening = undefined
    if (instance !== undefined) (await instance.catch(() => undefined))?.closeSync()
  }

  return { name, write, load, loadBatches, delete: remove, promote, close }
}
