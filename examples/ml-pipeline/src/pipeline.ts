/**
 * The ML example project `ml_pipeline`: ingest synthetic customers (an Arrow table) → features
 * (standardized, with a deterministic held-out split) → one churn model per region, trained
 * concurrently in the `train` pool → evaluate (held-out accuracy per region, a JSON report).
 */
import { fileURLToPath } from "node:url"
import { asset, defineProject } from "@materia/assets"
import { Effect } from "effect"
import { buildFeatures, designMatrix, FEATURE_NAMES } from "./Features.ts"
import { evaluate as evaluateModel, type LogisticModel, makeTrainer } from "./LogisticRegression.ts"
import { generateCustomers, REGIONS, type Region } from "./SyntheticData.ts"

/** Seed and size of the synthetic data: the same every run, so every run computes the same models. */
export const DATA = { seed: 20_260_101, rowsPerRegion: 20_000 } as const
/** Share of customers held out for evaluation. */
export const HOLDOUT_FRACTION = 0.2
/**
 * Gradient descent settings. Training stops after `maxEpochs`, or once the loss has not improved by
 * `tolerance` for `patience` epochs in a row.
 */
export const TRAINING = {
  maxEpochs: 300,
  tolerance: 1e-5,
  patience: 3,
  learningRate: 2,
  momentum: 0.5
} as const

/** A region's trained churn model, with how it was trained. */
export interface RegionModel extends LogisticModel {
  readonly region: Region
  readonly features: ReadonlyArray<string>
  readonly epochs: number
  readonly trainRows: number
  readonly loss: number
}

/** The evaluation of one region's model on its held-out customers. */
export interface RegionEvaluation {
  readonly accuracy: number
  readonly logLoss: number
  readonly heldOutRows: number
  /** Accuracy of always predicting the region's majority class: what a model has to beat. */
  readonly baselineAccuracy: number
}

/** The `evaluate` asset's value. */
export interface EvaluationReport {
  readonly regions: Readonly<Record<Region, RegionEvaluation>>
  readonly overall: { readonly accuracy: number; readonly heldOutRows: number }
}

const round = (value: number, digits = 4): number => Number(value.toFixed(digits))

export const ingest = asset(
  "ingest",
  { group: "ml", description: "Synthetic customers: region, five numeric features and a churn label." },
  (_, ctx) => {
    const table = generateCustomers(DATA)
    ctx.log.info(`generated ${table.numRows} customers in ${REGIONS.length} regions (seed ${DATA.seed})`)
    ctx.addMetadata({ rows: table.numRows, regions: REGIONS.length, seed: DATA.seed })
    return table
  }
)

export const features = asset(
  "features",
  {
    ins: { ingest },
    group: "ml",
    description: "Standardized features and their pairwise products; a held-out split by customer id."
  },
  ({ ingest }, ctx) => {
    const built = buildFeatures(ingest, HOLDOUT_FRACTION)
    ctx.log.info(
      `${FEATURE_NAMES.length} features; ${built.trainRows} training rows, ${built.holdoutRows} held out`
    )
    ctx.addMetadata({
      rows: built.table.numRows,
      features: FEATURE_NAMES.length,
      train_rows: built.trainRows,
      holdout_rows: built.holdoutRows,
      mean: built.standardization.mean,
      sd: built.standardization.sd
    })
    return built.table
  }
)

/** One model per region, each its own asset (`models/north`, ...), trained concurrently. */
export const models = REGIONS.map((region) =>
  asset(
    ["models", region],
    {
      ins: { features },
      group: "ml",
      pool: "train",
      description: `Churn model of region ${region}: logistic regression by gradient descent.`
    },
    ({ features }, ctx) =>
      Effect.gen(function* () {
        const train = designMatrix(features, region, "train")
        const trainer = makeTrainer(train, TRAINING)
        let loss = Number.POSITIVE_INFINITY
        let best = Number.POSITIVE_INFINITY
        let stale = 0
        while (trainer.epochs() < TRAINING.maxEpochs && stale < TRAINING.patience) {
          loss = trainer.epoch()
          if (best - loss > TRAINING.tolerance) stale = 0
          else stale++
          best = Math.min(best, loss)
          const epoch = trainer.epochs()
          if (epoch % 10 === 0) ctx.log.debug(`epoch ${epoch}: loss ${loss.toFixed(4)}`)
          // Let the other regions' fibers (and the reporter's timer) run between epochs.
          yield* Effect.yieldNow
        }
        const epochs = trainer.epochs()
        ctx.log.info(`trained on ${train.rows} rows: ${epochs} epochs, loss ${loss.toFixed(4)}`)
        ctx.addMetadata({ loss: round(loss), epochs, rows: train.rows })
        const model: RegionModel = {
          ...trainer.model(),
          region,
          features: FEATURE_NAMES,
          epochs,
          trainRows: train.rows,
          loss
        }
        return model
      })
  )
)

type ModelAsset = (typeof models)[number]

// Object.fromEntries forgets its keys: every region is present, one model each.
const modelInputs = Object.fromEntries(REGIONS.map((region, i) => [region, models[i]!])) as Record<
  Region,
  ModelAsset
>

export const evaluate = asset(
  "evaluate",
  {
    ins: { features, ...modelInputs },
    group: "ml",
    description: "Accuracy of each region's model on its held-out customers."
  },
  (inputs, ctx): EvaluationReport => {
    let correct = 0
    let heldOut = 0
    const regions = {} as Record<Region, RegionEvaluation>
    for (const region of REGIONS) {
      const holdout = designMatrix(inputs.features, region, "holdout")
      const result = evaluateModel(inputs[region], holdout)
      regions[region] = {
        accuracy: round(result.accuracy),
        logLoss: round(result.logLoss),
        heldOutRows: result.rows,
        baselineAccuracy: round(Math.max(result.positiveRate, 1 - result.positiveRate))
      }
      correct += result.accuracy * result.rows
      heldOut += result.rows
      ctx.log.info(`${region}: accuracy ${result.accuracy.toFixed(3)} on ${result.rows} held-out rows`)
    }
    const accuracy = round(correct / heldOut)
    ctx.addMetadata({
      accuracy,
      holdout_rows: heldOut,
      min_accuracy: Math.min(...REGIONS.map((r) => regions[r].accuracy))
    })
    return { regions, overall: { accuracy, heldOutRows: heldOut } }
  }
)

/**
 * The project: its local store is `examples/ml-pipeline/.materia/`; the `train` pool runs three
 * models at a time.
 */
export const project = defineProject({
  name: "ml_pipeline",
  root: fileURLToPath(new URL("..", import.meta.url)),
  assets: [ingest, features, ...models, evaluate],
  pools: { train: 3 }
})
