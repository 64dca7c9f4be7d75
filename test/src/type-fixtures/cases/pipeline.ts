/**
 * The small pipeline the type-error fixtures build on: two services, their Layers and three assets
 * (a value body, a Promise body and an Effect body with a config schema). It must compile cleanly.
 */
import { asset, defineProject } from "@materia/assets"
import { Context, Effect, Layer, Schema } from "effect"

export interface Fitted {
  readonly loss: number
}

export class Trainer extends Context.Service<
  Trainer,
  { readonly fit: (xs: ReadonlyArray<number>) => Effect.Effect<Fitted> }
>()("Trainer") {}

export class Warehouse extends Context.Service<
  Warehouse,
  { readonly query: (sql: string) => Effect.Effect<ReadonlyArray<number>> }
>()("Warehouse") {}

export const TrainerLive = Layer.succeed(Trainer, {
  fit: (xs) => Effect.succeed({ loss: 1 / (1 + xs.length) })
})
export const WarehouseLive = Layer.succeed(Warehouse, { query: () => Effect.succeed([1, 2, 3]) })

export const orders = asset("orders", {}, () => [120, 80, 45])

export const features = asset("features", { ins: { orders } }, async ({ orders }) =>
  orders.map((x) => x / 100)
)

export const Params = Schema.Struct({ epochs: Schema.Number })

export const model = asset(["ml", "model"], { ins: { features }, config: Params }, ({ features }, ctx) =>
  Effect.gen(function* () {
    const trainer = yield* Trainer
    return yield* trainer.fit(features.slice(0, ctx.config.epochs))
  })
)

export const project = defineProject({ assets: [orders, features, model], resources: TrainerLive })
