/**
 * Deterministic synthetic customer data for the ML example: a seeded PRNG, and an Arrow table of
 * customers per region with five numeric features and a 0/1 `churned` label drawn from a known
 * logistic relationship (per-region weights, one interaction, optional label noise). Also the faulty
 * exports a pipeline must refuse (empty, with nulls, mistyped). Nothing is downloaded.
 */
import {
  Dictionary,
  Float64,
  Int8,
  Int32,
  makeVector,
  Table,
  Utf8,
  type Vector,
  vectorFromArray
} from "apache-arrow"

/** The regions of the example, one model each. */
export const REGIONS = ["north", "south", "east", "west", "central"] as const
export type Region = (typeof REGIONS)[number]

/**
 * The raw numeric columns of a customer row: the name, the mean and spread of generated values, and
 * the range a valid value lies in (generated values are clamped to it).
 */
export const RAW_FEATURES = [
  { name: "tenure_months", mean: 30, sd: 12, min: 0, max: 600 },
  { name: "monthly_spend", mean: 70, sd: 25, min: 0, max: 10_000 },
  { name: "support_tickets", mean: 2, sd: 1.5, min: 0, max: 100 },
  { name: "sessions_per_week", mean: 8, sd: 3, min: 0, max: 200 },
  { name: "discount_pct", mean: 10, sd: 5, min: 0, max: 100 }
] as const

/** The label column: 1 when the customer churned. */
export const LABEL = "churned"

/** A seeded pseudo-random generator (mulberry32): uniform numbers in [0, 1), the same for a seed. */
export const makeRandom = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal draws from a uniform generator (Box–Muller, both values used). */
export const makeGaussian = (uniform: () => number): (() => number) => {
  let spare: number | undefined
  return () => {
    if (spare !== undefined) {
      const value = spare
      spare = undefined
      return value
    }
    const u = 1 - uniform()
    const v = uniform()
    const radius = Math.sqrt(-2 * Math.log(u))
    spare = radius * Math.sin(2 * Math.PI * v)
    return radius * Math.cos(2 * Math.PI * v)
  }
}

/** The true churn model of a region, on the standardized features. */
interface TrueModel {
  readonly bias: number
  readonly weights: ReadonlyArray<number>
  /** Weight of tenure × support tickets: new customers who file tickets churn the most. */
  readonly interaction: number
}

/**
 * Large enough that the label mostly follows the features: a model that learns the relationship
 * scores about 95% on held-out customers (label noise aside).
 */
const BASE_WEIGHTS = [-6, 2.4, 6.6, -4.8, -2.7]

/** Each region scales the base weights differently, so one model per region beats a global one. */
const trueModel = (random: () => number): TrueModel => ({
  bias: 3 * random() - 1.5,
  weights: BASE_WEIGHTS.map((w) => w * (0.8 + 0.5 * random())),
  interaction: -3.6 * (0.6 + 0.8 * random())
})

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z))

export interface SyntheticOptions {
  readonly seed: number
  readonly rowsPerRegion: number
  /** Share of labels flipped at random (default 0): no model scores above about `1 - labelNoise`. */
  readonly labelNoise?: number | undefined
}

/**
 * Generates the customers table: `customer_id` (Int32), `region` (dictionary-encoded Utf8), the
 * RAW_FEATURES (Float64, two decimals) and `churned` (Int8), with `rowsPerRegion` rows per region.
 * The same options give the same table, byte for byte.
 */
export const generateCustomers = (options: SyntheticOptions): Table => {
  const { seed, rowsPerRegion } = options
  const labelNoise = options.labelNoise ?? 0
  const rows = rowsPerRegion * REGIONS.length
  const random = makeRandom(seed)
  const gaussian = makeGaussian(random)
  const ids = new Int32Array(rows)
  const regions = new Array<string>(rows)
  const columns = RAW_FEATURES.map(() => new Float64Array(rows))
  const labels = new Int8Array(rows)
  let row = 0
  for (const region of REGIONS) {
    const truth = trueModel(random)
    for (let r = 0; r < rowsPerRegion; r++, row++) {
      let logit = truth.bias
      const z = RAW_FEATURES.map((feature, j) => {
        const raw = feature.mean + feature.sd * gaussian()
        const value = Math.round(Math.min(Math.max(raw, feature.min), feature.max) * 100) / 100
        columns[j]![row] = value
        // The label depends on the value as stored (clamped, rounded), not on the draw behind it.
        const standardized = (value - feature.mean) / feature.sd
        logit += truth.weights[j]! * standardized
        return standardized
      })
      logit += truth.interaction * z[0]! * z[2]!
      ids[row] = row + 1
      regions[row] = region
      const label = random() < sigmoid(logit) ? 1 : 0
      labels[row] = random() < labelNoise ? 1 - label : label
    }
  }
  const features: Record<string, Vector> = {}
  RAW_FEATURES.forEach((feature, j) => {
    features[feature.name] = makeVector(columns[j]!)
  })
  return new Table({
    customer_id: makeVector(ids),
    region: vectorFromArray(regions, new Dictionary(new Utf8(), new Int32())),
    ...features,
    [LABEL]: makeVector(labels)
  })
}

/** The data sets `ingest` can be asked for: the good export, and exports a pipeline must refuse. */
export const SCENARIOS = ["good", "empty", "nulls", "mistyped", "noisy"] as const
export type Scenario = (typeof SCENARIOS)[number]

/** The share of labels flipped in the `noisy` scenario: its models score about 80%. */
export const NOISY_LABEL_NOISE = 0.15

/** The table's columns by name, to replace some of them. */
const columnsOf = (table: Table): Record<string, Vector> => {
  const columns: Record<string, Vector> = {}
  for (const field of table.schema.fields) columns[field.name] = table.getChild(field.name)!
  return columns
}

/** The numbers of a column, with every `every`-th one (from row `offset`) blanked out. */
const blanked = (table: Table, name: string, every: number, offset: number): Array<number | null> => {
  const column = table.getChild(name)!
  return Array.from({ length: table.numRows }, (_, i) =>
    i % every === offset ? null : Number(column.get(i))
  )
}

/** The numbers of a column, as text. */
const asText = (table: Table, name: string, format: (value: number) => string): Array<string> => {
  const column = table.getChild(name)!
  return Array.from({ length: table.numRows }, (_, i) => format(Number(column.get(i))))
}

/**
 * The customers table of a scenario: `good` is `generateCustomers(options)`; `empty` has no rows;
 * `nulls` has blank tenures, spends and labels; `mistyped` has spends and labels exported as text
 * (`"70.25"`, `"yes"`); `noisy` has NOISY_LABEL_NOISE of its labels flipped.
 */
export const generateScenario = (scenario: Scenario, options: SyntheticOptions): Table => {
  switch (scenario) {
    case "good":
      return generateCustomers(options)
    case "empty":
      // A slice of a real table: a table made of zero-length vectors has placeholder column data
      // (no `children`) that the fs IO manager cannot encode yet.
      return generateCustomers({ ...options, rowsPerRegion: 1 }).slice(0, 0)
    case "noisy":
      return generateCustomers({ ...options, labelNoise: NOISY_LABEL_NOISE })
    case "nulls": {
      const good = generateCustomers(options)
      return new Table({
        ...columnsOf(good),
        tenure_months: vectorFromArray(blanked(good, "tenure_months", 97, 5), new Float64()),
        monthly_spend: vectorFromArray(blanked(good, "monthly_spend", 50, 0), new Float64()),
        [LABEL]: vectorFromArray(blanked(good, LABEL, 200, 7), new Int8())
      })
    }
    case "mistyped": {
      const good = generateCustomers(options)
      return new Table({
        ...columnsOf(good),
        monthly_spend: vectorFromArray(
          asText(good, "monthly_spend", (v) => v.toFixed(2)),
          new Utf8()
        ),
        [LABEL]: vectorFromArray(
          asText(good, LABEL, (v) => (v === 1 ? "yes" : "no")),
          new Utf8()
        )
      })
    }
  }
}
