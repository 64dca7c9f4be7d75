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
}
