/**
 * Deterministic synthetic customer data for the ML example: a seeded PRNG, and an Arrow table of
 * customers per region with five numeric features and a 0/1 `churned` label drawn from a known
 * logistic relationship (per-region weights, one interaction, label noise). Nothing is downloaded.
 */
import { type Table, tableFromArrays } from "apache-arrow"

/** The regions of the example, one model each. */
export const REGIONS = ["north", "south", "east", "west", "central"] as const
export type Region = (typeof REGIONS)[number]

/** The raw numeric columns of a customer row: the name, and the mean and spread of its values. */
export const RAW_FEATURES = [
  { name: "tenure_months", mean: 30, sd: 12 },
  { name: "monthly_spend", mean: 70, sd: 25 },
  { name: "support_tickets", mean: 2, sd: 1.5 },
  { name: "sessions_per_week", mean: 8, sd: 3 },
  { name: "discount_pct", mean: 10, sd: 5 }
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

const BASE_WEIGHTS = [-2.0, 0.8, 2.2, -1.6, -0.9]

/** Each region scales the base weights differently, so one model per region beats a global one. */
const trueModel = (random: () => number): TrueModel => ({
  bias: random() - 0.5,
  weights: BASE_WEIGHTS.map((w) => w * (0.8 + 0.5 * random())),
  interaction: -1.2 * (0.6 + 0.8 * random())
})

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z))

export interface SyntheticOptions {
  readonly seed: number
  readonly rowsPerRegion: number
}

/**
 * Generates the customers table: `customer_id`, `region`, the RAW_FEATURES and `churned`, with
 * `rowsPerRegion` rows per region. The same options give the same table, byte for byte.
 */
export const generateCustomers = (options: SyntheticOptions): Table => {
  const { seed, rowsPerRegion } = options
  const rows = rowsPerRegion * REGIONS.length
  const random = makeRandom(seed)
  const gaussian = makeGaussian(random)
  const ids = new Int32Array(rows)
  const regions = new Array<string>(rows)
  const columns = RAW_FEATURES.map(() => new Float64Array(rows))
  const labels = new Int8Array(rows)
  const z = new Float64Array(RAW_FEATURES.length)
  let row = 0
  for (const region of REGIONS) {
    const truth = trueModel(random)
    for (let r = 0; r < rowsPerRegion; r++, row++) {
      let logit = truth.bias
      for (let j = 0; j < z.length; j++) {
        z[j] = gaussian()
        const feature = RAW_FEATURES[j]!
        columns[j]![row] = Math.round((feature.mean + feature.sd * z[j]!) * 100) / 100
        logit += truth.weights[j]! * z[j]!
      }
      logit += truth.interaction * z[0]! * z[2]!
      ids[row] = row + 1
      regions[row] = region
      labels[row] = random() < sigmoid(logit) ? 1 : 0
    }
  }
  const features: Record<string, Float64Array> = {}
  RAW_FEATURES.forEach((feature, j) => {
    features[feature.name] = columns[j]!
  })
  return tableFromArrays({ customer_id: ids, region: regions, ...features, [LABEL]: labels })
}
