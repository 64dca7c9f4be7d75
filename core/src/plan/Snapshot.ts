/**
 * What the planner knows about the stored state of each asset: a read-only snapshot of the latest
 * materializations (and source observations) taken from storage before planning.
 */

/** The parts of an asset's latest materialization that decide staleness. */
export interface MaterializationSummary {
  readonly dataVersion: string
  readonly codeVersion: string
  /** Data version of every upstream (value inputs and ordering deps) when this value was made. */
  readonly inputVersions: Readonly<Record<string, string>>
}

/** The stored state of one asset. For a source asset, `latest` holds its last observation. */
export interface AssetState {
  readonly latest?: MaterializationSummary | undefined
  /** The last attempt to materialize it failed, and nothing succeeded since. */
  readonly lastFailed: boolean
  /**
   * Its body last chose to skip (a conditional branch) having seen these versions: while they are
   * the current ones, it is not planned again.
   */
  readonly skipped?: SkipDecision | undefined
}

/** What a skipping body saw. */
export interface SkipDecision {
  readonly codeVersion: string
  readonly inputVersions: Readonly<Record<string, string>>
}

/** Latest state by asset key; an absent key was never materialized. */
export type Snapshot = ReadonlyMap<string, AssetState>

/** The data version of a source asset that was never observed (or has no observe function). */
export const UNOBSERVED_VERSION = "unobserved"

/** Latest state of each partition of the partitioned assets: asset key → partition key → state. */
export type PartitionSnapshot = ReadonlyMap<string, ReadonlyMap<string, AssetState>>
