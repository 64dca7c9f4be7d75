/**
 * Logistic regression over typed arrays: a trainer that runs full-batch gradient descent with
 * momentum one epoch at a time (so a caller can yield between epochs, log and stop early), and
 * the evaluation of a trained model (accuracy, log loss) on held-out rows.
 */

/** Rows of features, row-major (`x[row * cols + col]`), with their 0/1 labels. */
export interface Dataset {
  readonly rows: number
  readonly cols: number
  readonly x: Float64Array
  readonly y: Float64Array
}

/** A trained model: plain numbers, so it can be stored as JSON. */
export interface LogisticModel {
  readonly weights: ReadonlyArray<number>
  readonly bias: number
}

export interface TrainOptions {
  /** Step size (default 0.5; features are expected standardized). */
  readonly learningRate?: number | undefined
  /** Momentum of the updates (default 0.9). */
  readonly momentum?: number | undefined
  /** L2 penalty on the weights (default 1e-4). */
  readonly l2?: number | undefined
}

/** Trains a model epoch by epoch. */
export interface Trainer {
  /** One full pass over the data and one update; returns the mean log loss before the update. */
  readonly epoch: () => number
  /** Epochs run so far. */
  readonly epochs: () => number
  /** The current model (a copy). */
  readonly model: () => LogisticModel
}

/** The log loss of one row with logit `z` and label `y`, stable for large |z|. */
const logLoss = (z: number, y: number): number => Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - y * z

const logit = (
  weights: Float64Array,
  bias: number,
  x: Float64Array,
  offset: number,
  cols: number
): number => {
  let z = bias
  for (let j = 0; j < cols; j++) z += weights[j]! * x[offset + j]!
  return z
}

/** Starts training a logistic regression on `data` from zero weights. */
export const makeTrainer = (data: Dataset, options: TrainOptions = {}): Trainer => {
  const { rows, cols, x, y } = data
  if (rows === 0) throw new RangeError("cannot train a logistic regression on zero rows")
  if (x.length !== rows * cols || y.length !== rows)
    throw new RangeError(
      `dataset shape mismatch: ${rows} rows × ${cols} cols, x has ${x.length}, y has ${y.length}`
    )
  const learningRate = options.learningRate ?? 0.5
  const momentum = options.momentum ?? 0.9
  const l2 = options.l2 ?? 1e-4
  const weights = new Float64Array(cols)
  const velocity = new Float64Array(cols)
  const gradient = new Float64Array(cols)
  let bias = 0
  let biasVelocity = 0
  let epochs = 0

  const epoch = (): number => {
    gradient.fill(0)
    let biasGradient = 0
    let loss = 0
    for (let i = 0, offset = 0; i < rows; i++, offset += cols) {
      const z = logit(weights, bias, x, offset, cols)
      const label = y[i]!
      // One exp serves both the loss and the probability (the hot loop of training).
      const e = Math.exp(-Math.abs(z))
      loss += Math.log1p(e) + Math.max(z, 0) - label * z
      const error = (z >= 0 ? 1 / (1 + e) : e / (1 + e)) - label
      biasGradient += error
      for (let j = 0; j < cols; j++) gradient[j] += error * x[offset + j]!
    }
    for (let j = 0; j < cols; j++) {
      velocity[j] = momentum * velocity[j]! - learningRate * (gradient[j]! / rows + l2 * weights[j]!)
      weights[j] += velocity[j]!
    }
    biasVelocity = momentum * biasVelocity - learningRate * (biasGradient / rows)
    bias += biasVelocity
    epochs++
    return loss / rows
  }

  return { epoch, epochs: () => epochs, model: () => ({ weights: Array.from(weights), bias }) }
}

/** How well a model does on a dataset. */
export interface Evaluation {
  readonly rows: number
  /** Share of rows whose predicted class (probability ≥ 0.5) is the label. */
  readonly accuracy: number
  readonly logLoss: number
  /** Share of rows labelled 1: predicting the majority class scores max(p, 1 - p). */
  readonly positiveRate: number
}

/** Evaluates a model on a dataset (usually held-out rows). */
export const evaluate = (model: LogisticModel, data: Dataset): Evaluation => {
  const { rows, cols, x, y } = data
  if (model.weights.length !== cols)
    throw new RangeError(`the model has ${model.weights.length} weights but the data has ${cols} columns`)
  const weights = Float64Array.from(model.weights)
  let correct = 0
  let loss = 0
  let positives = 0
  for (let i = 0, offset = 0; i < rows; i++, offset += cols) {
    const z = logit(weights, model.bias, x, offset, cols)
    const label = y[i]!
    if ((z >= 0 ? 1 : 0) === label) correct++
    loss += logLoss(z, label)
    positives += label
  }
  return rows === 0
    ? { rows, accuracy: Number.NaN, logLoss: Number.NaN, positiveRate: Number.NaN }
    : { rows, accuracy: correct / rows, logLoss: loss / rows, positiveRate: positives / rows }
}
