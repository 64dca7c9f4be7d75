/**
 * Every service an Effect body yields must come from the project's `resources` Layer: a Layer that
 * lacks one, omitting `resources`, or a Layer that itself still needs a service fails.
 */
import { asset, defineProject } from "@materia/assets"
import { Effect, Layer } from "effect"
import { features, model, orders, Trainer, TrainerLive, Warehouse, WarehouseLive } from "./pipeline.ts"

const both = asset("both", {}, () =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const trainer = yield* Trainer
    return yield* trainer.fit(yield* warehouse.query("select amount from orders"))
  })
)

export const wrongService = defineProject({
  assets: [orders, features, model],
  // @expect TS2375 "Type 'Layer<Warehouse, never, never>' is not assignable to type 'Layer<Trainer, unknown, never>'"
  resources: WarehouseLive
})

// @expect TS2345 "Property 'resources' is missing"
export const omitted = defineProject({ assets: [orders, features, model] })

export const oneOfTwo = defineProject({
  assets: [orders, features, model, both],
  // @expect TS2375 "Type 'Warehouse' is not assignable to type 'Trainer'"
  resources: TrainerLive
})

const TrainerFromWarehouse = Layer.effect(
  Trainer,
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    return {
      fit: (xs: ReadonlyArray<number>) =>
        Effect.map(warehouse.query("x"), (r) => ({ loss: r.length + xs.length }))
    }
  })
)

export const unmetInput = defineProject({
  assets: [orders, features, model],
  // @expect TS2375 "Type 'Warehouse' is not assignable to type 'never'"
  resources: TrainerFromWarehouse
})
