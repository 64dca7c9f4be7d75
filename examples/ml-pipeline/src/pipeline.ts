/**
 * The ML example project `ml_pipeline`: ingest synthetic customers (an Arrow table checked against
 * its row schema) → validate (blocking checks on `ingest`: a bad export stops here) → features
 * (standardized, with a deterministic held-out split) → one churn model per region, trained
 * concurrently in the `train` pool → evaluate (held-out accuracy per region) → deploy when every
 * region beats 90%, else skip and alert.
 */
import { fileURLToPath } from "node:url"
import {
  type Alert,
  asset,
  check,
  defineProject,
  noNulls,
  notEmpty,
  rowCountChange,
  skip,
  unique,
  valuesIn,
  valuesInRange
} from "@materia/assets"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { alertFor, alertOnSkip } from "./Alerting.ts"
import { type Deployment, decideDeployment, MIN_ACCURACY, makeDeployment } from "./Deployment.ts"
import { buildFeatures, designMatrix, FEATURE_NAMES } from "./Features.ts"
import { evaluate as evaluateModel, type LogisticModel, makeTrainer } from "./LogisticRegression.ts"
import { generateScenario, LABEL, RAW_FEATURES, REGIONS, type Region, SCENARIOS } from "./SyntheticData.ts"

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
  learningRate: 1,
  momentum: 0.9
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

/**
 * One row of `ingest`'s table. The export may leave a feature or a label blank, so those columns are
 * nullable here: the `no_nulls` check of the validate stage refuses them, saying how many.
 */
export const CustomerRow = Schema.Struct({
  customer_id: Schema.Int,
  region: Schema.String,
  tenure_months: Schema.NullOr(Schema.Number),
  monthly_spend: Schema.NullOr(Schema.Number),
  support_tickets: Schema.NullOr(Schema.Number),
  sessions_per_week: Schema.NullOr(Schema.Number),
  discount_pct: Schema.NullOr(Schema.Number),
  churned: Schema.NullOr(Schema.Int)
})

/**
 * `ingest`'s run configuration: which synthetic export to read (default `good`). The others are the
 * bad exports the validate stage must stop, and `noisy`, whose models are too weak to deploy. Run
 * configuration does not make `ingest` stale: against a store that has it, force the run.
 */
export const IngestConfig = Schema.UndefinedOr(
  Schema.Struct({ scenario: Schema.optionalKey(Schema.Literals(SCENARIOS)) })
)

export const ingest = asset(
  "ingest",
  {
    group: "ml",
    description: "Synthetic customers: region, five numeric features and a churn label.",
    table: CustomerRow,
    config: IngestConfig
  },
  (_, ctx) => {
    const scenario = ctx.config?.scenario ?? "good"
    const table = generateScenario(scenario, DATA)
    ctx.log.info(
      `generated ${table.numRows} customers in ${REGIONS.length} regions (seed ${DATA.seed}, scenario ${scenario})`
    )
    ctx.addMetadata({ rows: table.numRows, regions: REGIONS.length, seed: DATA.seed, scenario })
    return table
  }
)

const blocking = { blocking: true } as const

/**
 * The validate stage: blocking checks, all run on the staged `ingest` table before it commits. If one
 * fails, the table is not committed, the run fails and everything downstream is skipped, naming the
 * first failed check in this order (`blocked by check <name> on ingest`).
 */
export const validation = [
  check(ingest, notEmpty(), blocking),
  check(ingest, unique("customer_id"), blocking),
  check(ingest, noNulls(...RAW_FEATURES.map((f) => f.name), LABEL), blocking),
  check(ingest, valuesIn("region", REGIONS), blocking),
  check(ingest, valuesIn(LABEL, [0, 1]), blocking),
  ...RAW_FEATURES.map((f) => check(ingest, valuesInRange(f.name, { min: f.min, max: f.max }), blocking)),
  check(ingest, rowCountChange({ maxDropPercent: 50 }), {
    ...blocking,
    description: "refuses a partial export: more than half the customers gone since the last commit"
  })
]

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

/** Each region's held-out accuracy in an evaluation report. */
export const accuracyByRegion = (report: EvaluationReport): Record<Region, number> => {
  const accuracy = {} as Record<Region, number>
  for (const region of REGIONS) accuracy[region] = report.regions[region].accuracy
  return accuracy
}

/** A deployment of the regional models. */
export type ModelDeployment = Deployment<RegionModel>

/**
 * Deploys the regional models when every region's held-out accuracy exceeds MIN_ACCURACY; otherwise
 * skips (not a failure; not planned again until a model or the evaluation changes) and `onSkip`
 * sends the alert. The alert is the only part that differs between projects.
 */
const makeDeploy = (alert: Alert) =>
  asset(
    "deploy",
    {
      ins: { evaluate, ...modelInputs },
      group: "ml",
      description: `Ships the regional models when each beats ${MIN_ACCURACY} held-out accuracy; else alerts.`,
      onSkip: alertOnSkip(alert)
    },
    (inputs, ctx) => {
      const accuracy = accuracyByRegion(inputs.evaluate)
      const decision = decideDeployment(accuracy)
      if (!decision.deploy) {
        ctx.log.warn(decision.reason)
        return skip(decision.reason)
      }
      const trained = {} as Record<Region, RegionModel>
      for (const region of REGIONS) trained[region] = inputs[region]
      const deployment: ModelDeployment = makeDeployment(trained, accuracy, inputs.evaluate.overall.accuracy)
      ctx.log.info(
        `deployed ${REGIONS.length} models as version ${deployment.version} (lowest accuracy ${deployment.accuracy.min})`
      )
      ctx.addMetadata({ version: deployment.version, min_accuracy: deployment.accuracy.min })
      return deployment
    }
  )

/** Options of `makePipeline`: where alerts go. */
export interface PipelineOptions {
  /**
   * A webhook URL that receives a JSON alert when the deployment is held back or a run fails (e.g.
   * validation stopped it). Without one, alerts are written to stderr.
   */
  readonly alertUrl?: string | undefined
}

/**
 * The project and its `deploy` asset. The local store is `examples/ml-pipeline/.materia/`; the `train`
 * pool runs three models at a time.
 */
export const makePipeline = (options: PipelineOptions = {}) => {
  const alert = alertFor(options.alertUrl)
  const deploy = makeDeploy(alert)
  const project = defineProject({
    name: "ml_pipeline",
    root: fileURLToPath(new URL("..", import.meta.url)),
    assets: [ingest, features, ...models, evaluate, deploy],
    pools: { train: 3 },
    checks: validation,
    alerts: [alert]
  })
  return { project, deploy }
}
