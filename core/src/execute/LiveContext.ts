/**
 * The context and logger a body receives for one attempt, made cheaply on the executor's hot path:
 * the logger and the AbortSignal are created only when the body asks for them.
 */
import type { JsonValue } from "../graph/AssetSpec.ts"
import type { PartitionInfo, PartitionRangeInfo, StepContext, StepLogger } from "./StepContext.ts"

/** A log level of `ctx.log`. */
export type Level = "debug" | "info" | "warn" | "error"

/** Records one log line of a step (its key, and its partition label for a partitioned step). */
export type EmitLog = (key: string, level: Level, message: string, partition?: string) => void

/** A step's logger: each line becomes a StepLog event. */
export class LiveLogger implements StepLogger {
  constructor(
    private readonly key: string,
    private readonly emitLog: EmitLog,
    private readonly partition?: string
  ) {}
  readonly debug = (message: string): void => this.emitLog(this.key, "debug", message, this.partition)
  readonly info = (message: string): void => this.emitLog(this.key, "info", message, this.partition)
  readonly warn = (message: string): void => this.emitLog(this.key, "warn", message, this.partition)
  readonly error = (message: string): void => this.emitLog(this.key, "error", message, this.partition)
}

/** The context of one attempt; its AbortSignal is made only when the body asks for it. */
export class LiveContext implements StepContext {
  private controller: AbortController | undefined
  private logger: LiveLogger | undefined
  constructor(
    readonly runId: string,
    readonly assetKey: string,
    readonly attempt: number,
    readonly config: unknown,
    private readonly metadata: Record<string, JsonValue>,
    private readonly emitLog: EmitLog,
    readonly partition?: PartitionInfo | undefined,
    readonly partitionRange?: PartitionRangeInfo | undefined,
    private readonly label?: string | undefined
  ) {}
  get log(): StepLogger {
    this.logger ??= new LiveLogger(this.assetKey, this.emitLog, this.label)
    return this.logger
  }
  get signal(): AbortSignal {
    this.controller ??= new AbortController()
    return this.controller.signal
  }
  readonly addMetadata = (entries: Readonly<Record<string, JsonValue>>): void => {
    Object.assign(this.metadata, entries)
  }
  /** Aborts the signal, if the body asked for it (a timeout or a cancel). */
  abort(): void {
    this.controller?.abort()
  }
  /** The context a source asset's loader gets while this step loads it. */
  forSource(key: string): LiveContext {
    const source = new LiveContext(this.runId, key, this.attempt, undefined, {}, this.emitLog)
    source.controller = this.controller ??= new AbortController()
    return source
  }
}
