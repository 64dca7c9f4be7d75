/**
 * `check(asset, name, options, fn)`: a validation of an asset's value, run on the staged value
 * before it commits. A blocking check of severity `error` that fails is a circuit breaker: the
 * value is not committed and everything downstream is skipped. Built-in table checks
 * (`notEmpty()`, `noNulls("id")`, ...) are passed instead of a function.
 */
import type {
  CheckInput,
  CheckResult,
  CheckSpec,
  ExecutableCheck,
  JsonValue,
  MaterializationRecord,
  RecordBatchLike
} from "@materia/core"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { AnyAsset, Asset } from "./Asset.ts"
import type { BuiltinCheck } from "./checks/Builtins.ts"

export interface CheckOptions {
  /** A failing blocking check (of severity `error`) keeps the value from being committed. Default false. */
  readonly blocking?: boolean | undefined
  /** `warn` failures never block. Default `error`. */
  readonly severity?: "warn" | "error" | undefined
  readonly description?: string | undefined
}

/** What a check function receives beside the value. */
export interface CheckContext {
  readonly assetKey: string
  /** The value that is current now (before this one commits), if any. */
  readonly previous: MaterializationRecord | undefined
  /** The staged value's metadata (rows, bytes, schema, ...). */
  readonly metadata: Readonly<Record<string, JsonValue>>
  /** The staged value as record batches (tables): for checks that stream. */
  readonly batches: Stream.Stream<RecordBatchLike, unknown>
}

/** A check function: `true`/`false`, or a result with a message and observed values. */
export type CheckFunction<A> = (
  value: A,
  context: CheckContext
) => boolean | CheckResult | Promise<boolean | CheckResult> | Effect.Effect<boolean | CheckResult, unknown>

/** A check of one asset, ready for `defineProject({ checks })`. */
export interface AssetCheck {
  readonly assetKey: string
  readonly spec: CheckSpec
  readonly executable: ExecutableCheck
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:()=,<>\- ]*$/

const toResult = (out: boolean | CheckResult): CheckResult =>
  typeof out === "boolean" ? { passed: out } : out

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

/**
 * Declares a check of `asset`: a function of its value, or a built-in table check.
 *
 * @example
 * const ordersNotEmpty = check(orders, notEmpty(), { blocking: true })
 * const positive = check(orders, "amounts_positive", { blocking: true }, (table) => table.getChild("amount")!.toArray().every((x: number) => x > 0))
 */
export function check<A>(
  asset: Asset<string, A, unknown, unknown>,
  name: string,
  options: CheckOptions,
  fn: CheckFunction<A>
): AssetCheck
export function check(
  asset: AnyAsset,
  builtin: BuiltinCheck,
  options?: CheckOptions & { readonly name?: string | undefined }
): AssetCheck
export function check<A>(
  asset: Asset<string, A, unknown, unknown>,
  nameOrBuiltin: string | BuiltinCheck,
  options: (CheckOptions & { readonly name?: string | undefined }) | undefined = {},
  fn?: CheckFunction<A>
): AssetCheck {
  if (typeof asset !== "object" || asset === null || !("spec" in asset))
    throw new TypeError(`check: the first argument must be an asset, found ${typeof asset}`)
  const builtin = typeof nameOrBuiltin === "string" ? undefined : nameOrBuiltin
  const name = builtin === undefined ? (nameOrBuiltin as string) : (options.name ?? builtin.name)
  if (typeof name !== "string" || !NAME.test(name))
    throw new TypeError(
      `check ${JSON.stringify(name)} of asset "${asset.key}": a check name must be non-empty letters, digits and _ . : ( ) = , < > -`
    )
  if (builtin === undefined && typeof fn !== "function")
    throw new TypeError(
      `check "${name}" of asset "${asset.key}": expected a check function as the fourth argument`
    )
  const severity = options.severity ?? "error"
  if (severity !== "warn" && severity !== "error")
    throw new TypeError(
      `check "${name}" of asset "${asset.key}": severity must be "warn" or "error", found ${JSON.stringify(severity)}`
    )
  const spec: CheckSpec = {
    name,
    assetKey: asset.key,
    blocking: options.blocking ?? false,
    severity,
    description: options.description
  }
  const run =
    builtin !== undefined
      ? builtin.run
      : (input: CheckInput): Effect.Effect<CheckResult, unknown> =>
          Effect.flatMap(input.value, (value) =>
            Effect.suspend(() => {
              const out = fn!(value as A, {
                assetKey: input.assetKey,
                previous: input.previous,
                metadata: input.metadata,
                batches: input.batches
              })
              if (Effect.isEffect(out)) return Effect.map(out, toResult)
              if (isPromiseLike(out))
                return Effect.map(
                  Effect.tryPromise({ try: () => Promise.resolve(out), catch: (e) => e }),
                  toResult
                )
              return Effect.succeed(toResult(out))
            })
          )
  return { assetKey: asset.key, spec, executable: { spec, run } }
}
