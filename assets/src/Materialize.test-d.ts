/**
 * Type tests of `materialize`: literal selections checked against the project's keys, run config
 * typed per asset from its config schema, and `result.value(asset)` typed as the asset's value.
 */
import type { IOManagerError } from "@materia/core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { describe, expectTypeOf, test } from "vitest"
import { asset } from "./Asset.ts"
import { type CheckedSelection, materialize, materializeEffect, type RunConfig } from "./Materialize.ts"
import { defineProject } from "./Project.ts"
import type { RunResult } from "./RunResult.ts"

const orders = asset("orders", {}, () => [{ id: "a", amount: 1 }])
const features = asset("features", { ins: { orders } }, async ({ orders }) => orders.map((o) => o.amount))
const model = asset(
  ["ml", "model"],
  { ins: { features }, config: Schema.Struct({ epochs: Schema.Number, rate: Schema.NumberFromString }) },
  ({ features }, ctx) => Effect.succeed({ loss: features.length / ctx.config.epochs })
)
const project = defineProject({ assets: [orders, features, model] })

describe("selection", () => {
  test("plain keys of the project, path keys included, are accepted as they are", () => {
    expectTypeOf<CheckedSelection<readonly ["orders", "ml/model"], "orders" | "ml/model">>().toEqualTypeOf<
      readonly ["orders", "ml/model"]
    >()
  })
  test("a literal that is not a key becomes a type that names it", () => {
    expectTypeOf<CheckedSelection<readonly ["modle"], "model">>().toEqualTypeOf<
      readonly ['unknown asset key "modle"']
    >()
  })
  test("selection syntax and non-literal strings are left to the run-time parser", () => {
    expectTypeOf<CheckedSelection<readonly ["+ml/model", "group:ml", "*", "a,b"], "orders">>().toEqualTypeOf<
      readonly ["+ml/model", "group:ml", "*", "a,b"]
    >()
    expectTypeOf<CheckedSelection<ReadonlyArray<string>, "orders">>().toEqualTypeOf<ReadonlyArray<string>>()
  })
  test("materialize accepts keys, selection syntax and dynamic strings", async () => {
    await materialize(project, ["ml/model"])
    await materialize(project, ["orders", "+ml/model", "group:default"])
    const dynamic: Array<string> = ["orders"]
    await materialize(project, dynamic)
    await materialize(project, [])
  })
})

describe("run config", () => {
  test("keys the encoded config of each asset with a schema; others take none", () => {
    expectTypeOf<RunConfig<typeof project>>().toEqualTypeOf<{
      readonly orders?: 'asset "orders" declares no config schema'
      readonly features?: 'asset "features" declares no config schema'
      readonly "ml/model"?: { readonly epochs: number; readonly rate: string }
    }>()
  })
  test("materialize takes it under `config`", async () => {
    await materialize(project, ["ml/model"], { config: { "ml/model": { epochs: 3, rate: "0.1" } } })
  })
})

describe("result", () => {
  test("result.value(asset) is typed as the asset's value", async () => {
    const result = await materialize(project, ["ml/model"])
    expectTypeOf(result).toEqualTypeOf<RunResult<typeof project>>()
    expectTypeOf(await result.value(model)).toEqualTypeOf<{ loss: number }>()
    expectTypeOf(await result.value(features)).toEqualTypeOf<Array<number>>()
    expectTypeOf(await result.value(orders)).toEqualTypeOf<Array<{ id: string; amount: number }>>()
    expectTypeOf(result.valueEffect(model)).toEqualTypeOf<Effect.Effect<{ loss: number }, IOManagerError>>()
    expectTypeOf<"orders" | "features" | "ml/model">().toExtend<Parameters<typeof result.step>[0]>()
  })
  test("materializeEffect has the same result type", () => {
    expectTypeOf(materializeEffect(project, ["orders"])).toExtend<
      Effect.Effect<RunResult<typeof project>, unknown>
    >()
  })
})
