/**
 * How tests run effects: with the TestClock (so retries, timeouts and schedules advance without
 * sleeping) and helpers to build specs and graphs by hand. Not exported from the package entry.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import { AssetGraph } from "../graph/AssetGraph.ts"
import { type AssetSpec, noRetry } from "../graph/AssetSpec.ts"

/** The Layer every test effect runs with. */
export const TestLayer: Layer.Layer<TestClock.TestClock> = TestClock.layer()

/** Runs an effect with the test Layer. */
export const runTest = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, TestLayer))

/**
 * Runs `effect` while moving the TestClock forward by `step` until it finishes (at most `maxSteps`
 * times): sleeps, retries and timeouts elapse in virtual time, whatever the fibers' interleaving.
 */
export const withVirtualTime = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  step: Duration.Input = "100 millis",
  maxSteps = 10_000
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < maxSteps && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

/** A spec whose value inputs are named after their keys. */
export const testSpec = (
  key: string,
  inputs: ReadonlyArray<string> = [],
  extra: Partial<AssetSpec> = {}
): AssetSpec => ({
  key,
  kind: "asset",
  inputs: inputs.map((k) => ({ name: k, key: k })),
  deps: [],
  group: "default",
  tags: {},
  owners: [],
  metadata: {},
  codeVersion: "v1",
  codeVersionSource: "user",
  pool: "default",
  retry: noRetry,
  ioManager: "memory",
  hasConfig: false,
  ...extra
})

/** A graph from `key: [parents]` entries. */
export const testGraph = (edges: Readonly<Record<string, ReadonlyArray<string>>>): AssetGraph =>
  AssetGraph.make(Object.entries(edges).map(([key, parents]) => testSpec(key, parents)))
