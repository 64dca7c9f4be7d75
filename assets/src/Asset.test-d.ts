/**
 * Type tests of `asset` and `sourceAsset` inference: inputs typed from upstream values, values of
 * value / Promise / Effect bodies, path keys as `"ml/model"` literals, `ctx.config` typed from the
 * config schema, and the resources an Effect body requires. Run by `vitest --typecheck`.
 */
import { tableFromArrays } from "apache-arrow"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { describe, expectTypeOf, test } from "vitest"
import {
  type Asset,
  type AssetContext,
  asset,
  type BodyContext,
  type BodyRequirements,
  type BodyValue,
  type ConfigOf,
  type InputValues,
  type RequirementsOf,
  type RowOf,
  sourceAsset,
  type ValueOf
} from "./Asset.ts"

interface Order {
  readonly id: string
  readonly amount: number
}
interface Fitted {
  readonly loss: number
}

class Trainer extends Context.Service<
  Trainer,
  { readonly fit: (xs: ReadonlyArray<number>) => Effect.Effect<Fitted> }
>()("Trainer") {}
class Warehouse extends Context.Service<
  Warehouse,
  { readonly rows: (table: string) => Effect.Effect<ReadonlyArray<Order>> }
>()("Warehouse") {}

const orders = asset("orders", {}, (): ReadonlyArray<Order> => [{ id: "a", amount: 1 }])
const amounts = asset("amounts", { ins: { orders } }, async ({ orders }) => orders.map((o) => o.amount))
const total = asset("total", { ins: { amounts } }, ({ amounts }) =>
  Effect.succeed(amounts.reduce((a, b) => a + b, 0))
)

describe("asset values", () => {
  test("a body returning a value gives that value", () => {
    expectTypeOf<ValueOf<typeof orders>>().toEqualTypeOf<ReadonlyArray<Order>>()
  })
  test("a Promise body gives the resolved value", () => {
    expectTypeOf<ValueOf<typeof amounts>>().toEqualTypeOf<Array<number>>()
  })
  test("an Effect body gives its success value", () => {
    expectTypeOf<ValueOf<typeof total>>().toEqualTypeOf<number>()
  })
  test("BodyValue and BodyRequirements unwrap each kind of result", () => {
    expectTypeOf<BodyValue<Promise<string>>>().toEqualTypeOf<string>()
    expectTypeOf<BodyValue<Effect.Effect<string, Error, Trainer>>>().toEqualTypeOf<string>()
    expectTypeOf<BodyValue<boolean>>().toEqualTypeOf<boolean>()
    expectTypeOf<BodyRequirements<Effect.Effect<string, Error, Trainer>>>().toEqualTypeOf<Trainer>()
    expectTypeOf<BodyRequirements<Promise<string>>>().toEqualTypeOf<never>()
  })
  test("a source asset's value is its load's resolved value", () => {
    const raw = sourceAsset("raw_export", { load: async () => ({ rows: 3 }) })
    expectTypeOf<ValueOf<typeof raw>>().toEqualTypeOf<{ rows: number }>()
    expectTypeOf(raw.key).toEqualTypeOf<"raw_export">()
    expectTypeOf<RequirementsOf<typeof raw>>().toBeNever()
  })
})

describe("inputs", () => {
  test("each input is typed as its upstream asset's value, whatever the upstream body returned", () => {
    asset("report", { ins: { rows: orders, amounts, total } }, (inputs) => {
      expectTypeOf(inputs.rows).toEqualTypeOf<ReadonlyArray<Order>>()
      expectTypeOf(inputs.amounts).toEqualTypeOf<Array<number>>()
      expectTypeOf(inputs.total).toEqualTypeOf<number>()
      return inputs.total
    })
  })
  test("the inputs object has exactly the declared input names", () => {
    type Ins = { readonly rows: typeof orders; readonly total: typeof total }
    expectTypeOf<keyof InputValues<Ins>>().toEqualTypeOf<"rows" | "total">()
    asset("no_inputs", {}, (inputs) => {
      expectTypeOf(inputs).toEqualTypeOf<InputValues<{}>>()
      expectTypeOf<keyof typeof inputs>().toBeNever()
      return 0
    })
  })
  test("a source asset feeds a typed input", () => {
    const raw = sourceAsset("raw", { load: () => Effect.succeed(["x"]) })
    asset("uses_raw", { ins: { raw } }, ({ raw }) => {
      expectTypeOf(raw).toEqualTypeOf<Array<string>>()
      return raw.length
    })
  })
})

describe("keys", () => {
  test("a string key stays a literal", () => {
    expectTypeOf(orders.key).toEqualTypeOf<"orders">()
  })
  test("a path key becomes its canonical slash-joined literal", () => {
    const model = asset(["ml", "model"], {}, () => 1)
    expectTypeOf(model.key).toEqualTypeOf<"ml/model">()
    expectTypeOf(model).toEqualTypeOf<Asset<"ml/model", number, never, never>>()
    expectTypeOf(asset(["a", "b", "c"], {}, () => 1).key).toEqualTypeOf<"a/b/c">()
  })
  test("input names are independent of upstream keys", () => {
    const model = asset(["ml", "model"], {}, () => 1)
    asset("deploy", { ins: { m: model } }, ({ m }) => {
      expectTypeOf(m).toEqualTypeOf<number>()
      return m
    })
  })
})

describe("ctx", () => {
  test("ctx.config is the decoded type of the config schema", () => {
    const Params = Schema.Struct({ epochs: Schema.Number, rate: Schema.optional(Schema.Number) })
    const trained = asset("trained", { config: Params }, (_, ctx) => {
      expectTypeOf(ctx.config).toEqualTypeOf<{
        readonly epochs: number
        readonly rate?: number | undefined
      }>()
      expectTypeOf(ctx.config.epochs).toBeNumber()
      return ctx.config.epochs
    })
    expectTypeOf<ConfigOf<typeof trained>>().toEqualTypeOf<{
      readonly epochs: number
      readonly rate?: number | undefined
    }>()
  })
  test("run config is the schema's encoded side; ctx.config its decoded side", () => {
    const Params = Schema.Struct({ epochs: Schema.NumberFromString })
    const trained = asset("trained", { config: Params }, (_, ctx) => {
      expectTypeOf(ctx.config.epochs).toEqualTypeOf<number>()
      return 0
    })
    expectTypeOf<ConfigOf<typeof trained>>().toEqualTypeOf<{ readonly epochs: string }>()
  })
  test("without a config schema, ctx.config is undefined and the asset takes no run config", () => {
    asset("plain", {}, (_, ctx) => {
      expectTypeOf(ctx.config).toEqualTypeOf<undefined>()
      expectTypeOf(ctx).toEqualTypeOf<BodyContext<undefined, unknown>>()
      expectTypeOf(ctx).toExtend<Omit<AssetContext<undefined>, "partition" | "partitionRange">>()
      return 0
    })
    expectTypeOf<ConfigOf<typeof orders>>().toBeNever()
  })
  test("the rest of ctx: run id, key, attempt, logger, metadata, signal", () => {
    asset("ctx", {}, (_, ctx) => {
      expectTypeOf(ctx.runId).toBeString()
      expectTypeOf(ctx.assetKey).toBeString()
      expectTypeOf(ctx.attempt).toBeNumber()
      expectTypeOf(ctx.log.info).parameters.toEqualTypeOf<[message: string]>()
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>()
      ctx.addMetadata({ loss: 0.5, tags: ["a"], nested: { ok: true } })
      return 0
    })
  })
})

describe("requirements", () => {
  test("an Effect body that yields a service requires it", () => {
    const model = asset("model", { ins: { amounts } }, ({ amounts }, ctx) =>
      Effect.gen(function* () {
        const trainer = yield* Trainer
        ctx.log.info("training")
        const fitted = yield* trainer.fit(amounts)
        expectTypeOf(fitted).toEqualTypeOf<Fitted>()
        return fitted
      })
    )
    expectTypeOf<RequirementsOf<typeof model>>().toEqualTypeOf<Trainer>()
    expectTypeOf<ValueOf<typeof model>>().toEqualTypeOf<Fitted>()
  })
  test("services from several yields are a union", () => {
    const both = asset("both", {}, () =>
      Effect.gen(function* () {
        const warehouse = yield* Warehouse
        const trainer = yield* Trainer
        const rows = yield* warehouse.rows("orders")
        return yield* trainer.fit(rows.map((r) => r.amount))
      })
    )
    expectTypeOf<RequirementsOf<typeof both>>().toEqualTypeOf<Trainer | Warehouse>()
  })
  test("value and Promise bodies, and bodies whose Effect needs nothing, require nothing", () => {
    expectTypeOf<RequirementsOf<typeof orders>>().toBeNever()
    expectTypeOf<RequirementsOf<typeof amounts>>().toBeNever()
    expectTypeOf<RequirementsOf<typeof total>>().toBeNever()
  })
  test("a downstream asset does not inherit its upstream's requirements", () => {
    const model = asset("model", {}, () =>
      Effect.gen(function* () {
        const trainer = yield* Trainer
        return yield* trainer.fit([1])
      })
    )
    const score = asset("score", { ins: { model } }, ({ model }) => model.loss)
    expectTypeOf<RequirementsOf<typeof model>>().toEqualTypeOf<Trainer>()
    expectTypeOf<RequirementsOf<typeof score>>().toBeNever()
  })

  test("a table asset's rows are typed by its row schema downstream", () => {
    const Order = Schema.Struct({ id: Schema.Number, region: Schema.String, at: Schema.Date })
    const orders = asset("orders", { table: Order }, () =>
      tableFromArrays({ id: [1], region: ["eu"], at: [new Date(0)] })
    )
    type Row = { readonly id: number; readonly region: string; readonly at: number }
    asset("use", { ins: { orders } }, ({ orders }) => {
      expectTypeOf(orders.toArray()).toEqualTypeOf<Array<Row>>()
      expectTypeOf(orders.get(0)).toEqualTypeOf<Row | null>()
      expectTypeOf(orders.numRows).toEqualTypeOf<number>()
      return orders.numRows
    })
    expectTypeOf<RowOf<typeof orders>>().toEqualTypeOf<{
      readonly id: number
      readonly region: string
      readonly at: Date
    }>()
  })
})
