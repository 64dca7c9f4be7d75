/**
 * The deploy gate of the ML example: every region's model must beat MIN_ACCURACY on its held-out
 * customers, else nothing is deployed and the decision says which regions fell short. A deployment
 * is a record of the models it ships, versioned by a hash of their weights.
 */
import { createHash } from "node:crypto"
import { REGIONS, type Region } from "./SyntheticData.ts"

/** The held-out accuracy a region's model must exceed to be deployed. */
export const MIN_ACCURACY = 0.9

/** Whether to deploy, and why not. */
export type DeployDecision = { readonly deploy: true } | { readonly deploy: false; readonly reason: string }

/**
 * Deploys only when every region's accuracy exceeds `minimum`; otherwise the reason lists the
 * regions that fell short, lowest first: `accuracy ≤ 0.9 in south (0.809), north (0.812): not deployed`.
 */
export const decideDeployment = (
  accuracy: Readonly<Record<Region, number>>,
  minimum: number = MIN_ACCURACY
): DeployDecision => {
  const short = REGIONS.filter((region) => !(accuracy[region] > minimum)).sort(
    (a, b) => accuracy[a] - accuracy[b] || a.localeCompare(b)
  )
  if (short.length === 0) return { deploy: true }
  const listed = short.map((region) => `${region} (${accuracy[region].toFixed(3)})`).join(", ")
  return { deploy: false, reason: `accuracy ≤ ${minimum} in ${listed}: not deployed` }
}

/** What `deploy` ships: the models, their held-out accuracy and a version naming their weights. */
export interface Deployment<Model> {
  /** The first 12 hex digits of the SHA-256 of the models' JSON: the same models, the same version. */
  readonly version: string
  readonly accuracy: { readonly overall: number; readonly min: number }
  readonly regions: Readonly<Record<Region, { readonly accuracy: number; readonly model: Model }>>
}

/** The deployment record of `models` with their accuracy per region and overall. */
export const makeDeployment = <Model>(
  models: Readonly<Record<Region, Model>>,
  accuracy: Readonly<Record<Region, number>>,
  overall: number
): Deployment<Model> => {
  const version = createHash("sha256")
    .update(JSON.stringify(REGIONS.map((region) => models[region])))
    .digest("hex")
    .slice(0, 12)
  const regions = {} as Record<Region, { readonly accuracy: number; readonly model: Model }>
  for (const region of REGIONS) regions[region] = { accuracy: accuracy[region], model: models[region] }
  return { version, accuracy: { overall, min: Math.min(...REGIONS.map((r) => accuracy[r])) }, regions }
}
