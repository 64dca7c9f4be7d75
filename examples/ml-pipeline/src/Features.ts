/**
 * Feature engineering for the ML example: standardizes the raw columns (statistics from training
 * rows only), adds their pairwise products, and splits rows into train and held-out sets by a hash
 * of the customer id (deterministic, independent of row order). Also cuts per-region design matrices.
 */
import { Dictionary, Int32, makeVector, Table, Utf8, vectorFromArray } from "apache-arrow"
import type { Dataset } from "./LogisticRegression.ts"
import { LABEL, RAW_FEATURES } from "./SyntheticData.ts"

const RAW_NAMES: ReadonlyArray<string> = RAW_FEATURES.map((f) => f.name)

/** The model's input columns: the standardized raw features, then each pair's product (`a:b`). */
export const FEATURE_NAMES: ReadonlyArray<string> = [
  ...RAW_NAMES,
  ...RAW_NAMES.flatMap((a, i) => RAW_NAMES.slice(i + 1).map((b) => `${a}:${b}`))
]

/** The column that says whether a row is for training or held out: `train` or `holdout`. */
export const SPLIT = "split"
export type Split = "train" | "holdout"

/** Whether a customer is held out for evaluation: a 32-bit mix of its id, below `fraction`. */
export const isHoldout = (customerId: number, fraction: number): boolean => {
  let h = customerId | 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 4294967296 < fraction
}

const vectorOf = (table: Table, name: string) => {
  const vector = table.getChild(name)
  if (vector === null)
    throw new Error(
      `column "${name}" is missing; the table has ${table.schema.fields.map((f) => f.name).join(", ")}`
    )
  return vector
}

const floats = (table: Table, name: string): Float64Array => {
  const values: unknown = vectorOf(table, name).toArray()
  if (values instanceof Float64Array) return values
  throw new Error(`column "${name}" must be Float64`)
}

const labels = (table: Table): Int8Array => {
  const values: unknown = vectorOf(table, LABEL).toArray()
  if (values instanceof Int8Array) return values
  throw new Error(`column "${LABEL}" must be Int8 (0/1)`)
}

const ids = (table: Table): Int32Array => {
  const values: unknown = vectorOf(table, "customer_id").toArray()
  if (values instanceof Int32Array) return values
  throw new Error(`column "customer_id" must be Int32`)
}

/**
 * 1 for the rows whose string column `name` equals `value`. Dictionary-encoded chunks compare
 * integer codes, so no string is decoded per row.
 */
const equalsMask = (table: Table, name: string, value: string): Uint8Array => {
  const vector = vectorOf(table, name)
  const mask = new Uint8Array(table.numRows)
  let row = 0
  for (const chunk of vector.data) {
    const dictionary: unknown = chunk.dictionary?.toArray()
    const codes: unknown = chunk.values
    if (Array.isArray(dictionary) && codes instanceof Int32Array && chunk.nullCount === 0) {
      const code = dictionary.indexOf(value)
      for (let i = 0; i < chunk.length; i++) mask[row + i] = codes[i] === code ? 1 : 0
    } else for (let i = 0; i < chunk.length; i++) mask[row + i] = vector.get(row + i) === value ? 1 : 0
    row += chunk.length
  }
  return mask
}

/** The mean and standard deviation of each raw column, over training rows. */
export interface Standardization {
  readonly mean: Readonly<Record<string, number>>
  readonly sd: Readonly<Record<string, number>>
}

export interface FeatureSet {
  /** `customer_id`, `region`, `split`, the FEATURE_NAMES columns and `churned`. */
  readonly table: Table
  readonly standardization: Standardization
  readonly trainRows: number
  readonly holdoutRows: number
}

/** Builds the feature table from the raw customers table. */
export const buildFeatures = (customers: Table, holdoutFraction: number): FeatureSet => {
  const rows = customers.numRows
  const customerIds = ids(customers)
  const holdout = Array.from(customerIds, (id) => isHoldout(id, holdoutFraction))
  const trainRows = holdout.reduce((n, h) => (h ? n : n + 1), 0)
  const mean: Record<string, number> = {}
  const sd: Record<string, number> = {}
  const standardized = RAW_NAMES.map((name) => {
    const raw = floats(customers, name)
    let sum = 0
    let squares = 0
    for (let i = 0; i < rows; i++)
      if (!holdout[i]) {
        sum += raw[i]!
        squares += raw[i]! * raw[i]!
      }
    const m = sum / trainRows
    const s = Math.sqrt(Math.max(squares / trainRows - m * m, 0)) || 1
    mean[name] = m
    sd[name] = s
    return raw.map((v) => (v - m) / s)
  })
  const columns: Record<string, Float64Array> = {}
  RAW_NAMES.forEach((name, i) => {
    columns[name] = standardized[i]!
  })
  for (let a = 0; a < RAW_NAMES.length; a++)
    for (let b = a + 1; b < RAW_NAMES.length; b++) {
      const left = standardized[a]!
      const right = standardized[b]!
      columns[`${RAW_NAMES[a]}:${RAW_NAMES[b]}`] = left.map((v, i) => v * right[i]!)
    }
  const split: Array<Split> = holdout.map((h) => (h ? "holdout" : "train"))
  const table = new Table({
    customer_id: makeVector(customerIds),
    // The region column is passed through as is (zero copy).
    region: vectorOf(customers, "region"),
    [SPLIT]: vectorFromArray(split, new Dictionary(new Utf8(), new Int32())),
    ...Object.fromEntries(Object.entries(columns).map(([name, values]) => [name, makeVector(values)])),
    [LABEL]: makeVector(labels(customers))
  })
  return { table, standardization: { mean, sd }, trainRows, holdoutRows: rows - trainRows }
}

/** The rows of one region and one split of a feature table, as a row-major design matrix. */
export const designMatrix = (features: Table, region: string, split: Split): Dataset => {
  const inRegion = equalsMask(features, "region", region)
  const inSplit = equalsMask(features, SPLIT, split)
  const label = labels(features)
  const columns = FEATURE_NAMES.map((name) => floats(features, name))
  const cols = columns.length
  let rows = 0
  for (let i = 0; i < features.numRows; i++) rows += inRegion[i]! & inSplit[i]!
  const x = new Float64Array(rows * cols)
  const y = new Float64Array(rows)
  for (let i = 0, r = 0; i < features.numRows; i++) {
    if ((inRegion[i]! & inSplit[i]!) === 0) continue
    for (let j = 0; j < cols; j++) x[r * cols + j] = columns[j]![i]!
    y[r++] = label[i]!
  }
  return { rows, cols, x, y }
}
