/**
 * Data versions: the hash that identifies a stored value and drives staleness. Serializing IO
 * managers hash the bytes they write; the memory IO manager hashes bytes and Arrow buffers, and
 * falls back to a logical version (code version + input versions) for other values.
 */
import { createHash, type Hash } from "node:crypto"
import { fastHash128 } from "./FastHash.ts"

/** A content hash of bytes, as a data version. */
export const bytesVersion = (bytes: Uint8Array): string =>
  createHash("sha256").update(bytes).digest("hex").slice(0, 32)

/**
 * The logical version of a value: a hash of its key, code version and sorted input versions (a
 * fast non-cryptographic hash: computed on every step, compared only for equality).
 */
export const logicalVersion = (
  assetKey: string,
  codeVersion: string,
  inputVersions: Readonly<Record<string, string>>
): string => {
  let text = `${assetKey}\0${codeVersion}`
  const keys = Object.keys(inputVersions)
  // One key or none needs no sort (most assets have few inputs).
  if (keys.length > 1) keys.sort()
  for (const key of keys) text += `\0${key}=${inputVersions[key]}`
  return `l${fastHash128(text).slice(0, 31)}`
}

interface ArrowDataLike {
  readonly type?: unknown
  readonly length?: number
  readonly values?: unknown
  readonly valueOffsets?: unknown
  readonly nullBitmap?: unknown
  readonly typeIds?: unknown
  readonly children?: ReadonlyArray<ArrowDataLike>
  readonly dictionary?: { readonly data?: ReadonlyArray<ArrowDataLike> }
}

interface ArrowTableLike {
  readonly schema: { readonly fields: ReadonlyArray<{ readonly name: string; readonly type: unknown }> }
  readonly batches: ReadonlyArray<{ readonly data: ArrowDataLike }>
  readonly numRows: number
}

/** An Apache Arrow `Table`, recognized by shape so that core does not load Arrow itself. */
export const isArrowTable = (value: unknown): value is ArrowTableLike =>
  typeof value === "object" &&
  value !== null &&
  Array.isArray((value as { batches?: unknown }).batches) &&
  typeof (value as { numRows?: unknown }).numRows === "number" &&
  typeof (value as { schema?: { fields?: unknown } }).schema?.fields === "object"

const hashView = (hash: Hash, view: unknown) => {
  if (ArrayBuffer.isView(view)) hash.update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength))
  else hash.update("\0-")
}

const hashData = (hash: Hash, data: ArrowDataLike) => {
  hash.update(`|${String(data.type)}:${data.length ?? 0}`)
  hashView(hash, data.values)
  hashView(hash, data.valueOffsets)
  hashView(hash, data.nullBitmap)
  hashView(hash, data.typeIds)
  for (const child of data.children ?? []) hashData(hash, child)
  for (const dict of data.dictionary?.data ?? []) hashData(hash, dict)
}

/** A content hash of an Arrow table's schema and buffers (no serialization). */
export const arrowTableVersion = (table: ArrowTableLike): string => {
  const hash = createHash("sha256")
  for (const field of table.schema.fields) hash.update(`${field.name}:${String(field.type)};`)
  for (const batch of table.batches) hashData(hash, batch.data)
  return hash.digest("hex").slice(0, 32)
}
