/**
 * The context a body receives beside its inputs: the run, the asset, a logger whose lines become
 * run events, metadata to attach to the materialization, the run's typed config and an AbortSignal
 * that fires when the step is canceled or times out.
 */
import type { JsonValue } from "../graph/AssetSpec.ts"

export interface StepLogger {
  readonly debug: (message: string) => void
  readonly info: (message: string) => void
  readonly warn: (message: string) => void
  readonly error: (message: string) => void
}

/** The partition a step materializes. */
export interface PartitionInfo {
  readonly key: string
  /** Time-window partitions: the window `[start, end)`. */
  readonly start?: Date | undefined
  readonly end?: Date | undefined
  /** Multi-dimensional partitions: the key of each dimension. */
  readonly dimensions?: Readonly<Record<string, string>> | undefined
}

/** The partitions a single-run backfill step materializes at once. */
export interface PartitionRangeInfo {
  readonly keys: ReadonlyArray<string>
  readonly from: string
  readonly to: string
  /** Time windows: from the first window's start to the last one's end. */
  readonly start?: Date | undefined
  readonly end?: Date | undefined
}

export interface StepContext<Config = unknown> {
  readonly runId: string
  readonly assetKey: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly log: StepLogger
  /** Adds entries to the materialization's metadata (later calls override earlier keys). */
  readonly addMetadata: (entries: Readonly<Record<string, JsonValue>>) => void
  /** The asset's run configuration, decoded by its `config` schema. */
  readonly config: Config
  /** Aborted when the step is canceled or times out: pass it to fetch, streams and child processes. */
  readonly signal: AbortSignal
  /** The partition of a partitioned asset's step (the first of a single-run range). */
  readonly partition?: PartitionInfo | undefined
  /** The whole range of a single-run backfill step. */
  readonly partitionRange?: PartitionRangeInfo | undefined
}
