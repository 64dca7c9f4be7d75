/**
 * The stored state of an asset (or a partition) as both SQL stores keep it: one row of plain
 * columns, JSON where a value is structured. One decoder, so SQLite and PostgreSQL read it alike.
 */
import * as Schema from "effect/Schema"
import { ValueHandle } from "../io/IOManager.ts"
import type { CheckRecord, MaterializationRecord, StoredAssetState } from "./Storage.ts"

/** The columns of `asset_latest` / `partition_latest` that make a state (`last_failed` as the store types it). */
export interface StateRow {
  readonly asset_key: string
  readonly run_id: string | null
  readonly at: number | null
  readonly data_version: string | null
  readonly code_version: string | null
  readonly input_versions: string | null
  readonly handle: string | null
  readonly metadata: string | null
  readonly skipped: string | null
}

const decodeHandle = Schema.decodeUnknownSync(Schema.NullOr(ValueHandle))
const decodeVersions = Schema.decodeUnknownSync(Schema.Record(Schema.String, Schema.String))
const decodeMetadata = Schema.decodeUnknownSync(Schema.Record(Schema.String, Schema.Json))
const decodeSkip = Schema.decodeUnknownSync(
  Schema.Struct({ codeVersion: Schema.String, inputVersions: Schema.Record(Schema.String, Schema.String) })
)

/** The state a row holds; throws when a JSON column does not decode (the caller names the store). */
export const stateOfRow = (
  row: StateRow,
  lastFailed: boolean,
  checks: ReadonlyArray<CheckRecord> | undefined
): StoredAssetState => {
  const skipped = row.skipped === null ? undefined : decodeSkip(JSON.parse(row.skipped))
  const extra = {
    ...(skipped === undefined ? {} : { skipped }),
    ...(checks === undefined ? {} : { checks })
  }
  if (row.run_id === null) return { lastFailed, ...extra }
  const latest: MaterializationRecord = {
    key: row.asset_key,
    runId: row.run_id,
    at: row.at ?? 0,
    dataVersion: row.data_version ?? "",
    codeVersion: row.code_version ?? "",
    inputVersions: decodeVersions(JSON.parse(row.input_versions ?? "{}")),
    handle: row.handle === null ? null : decodeHandle(JSON.parse(row.handle)),
    ...(row.metadata === null ? {} : { metadata: decodeMetadata(JSON.parse(row.metadata)) })
  }
  return { lastFailed, latest, ...extra }
}
