/**
 * The positive control: the correct counterpart of every case in this folder. It must compile with
 * no diagnostic, so a harness that reports nothing (or a DSL that rejects everything) cannot pass.
 */
import { asset, defineProject, materialize, materializeEffect } from "@materia/assets"
import { Effect, Layer, Schedule, Schema } from "effect"
import {
  type Fitted,
  features,
  model,
  orders,
  project,
  Trainer,
  TrainerLive,
  Warehouse,
  WarehouseLive
} from "./pipeline.ts"

const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)

// inputs
export const total = asset("total", { ins: { orders } }, ({ orders }) => sum(orders))
export const labels = asset("labels", { ins: { orders } }, ({ orders }) => orders.map((o) => o.toFixed(2)))
export const annotated = asset(
  "annotated",
  { ins: { orders } },
  ({ orders }: { orders: ReadonlyArray<number> }) => sum(orders)
)
export const renamed = asset("renamed", { ins: { rows: orders, scaled: features } }, ({ rows, scaled }) => [
  ...rows,
  ...scaled
])
export const loss = asset("loss", { ins: { model } }, ({ model }) => model.loss * 2)
export const awaited = asset("awaited", { ins: { features } }, ({ features }) => features.length)

// resources
const both = asset("both", {}, () =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const trainer = yield* Trainer
    return yield* trainer.fit(yield* warehouse.query("select amount from orders"))
  })
)
export const twoServices = defineProject({
  assets: [orders, features, model, both],
  resources: Layer.mergeAll(TrainerLive, WarehouseLive)
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
export const layered = defineProject({
  assets: [orders, features, model],
  resources: TrainerFromWarehouse.pipe(Layer.provide(WarehouseLive))
})
export const noResources = defineProject({ assets: [orders, features] })

// config and ctx.config
const run = await materialize(project, ["ml/model"], { config: { "ml/model": { epochs: 3 } } })
await materialize(project, ["ml/model"], { config: {} })
await materialize(noResources, ["features"], { config: {} })
const Tuning = Schema.Struct({ epochs: Schema.Number, rate: Schema.NumberFromString })
export const tuned = asset("tuned", { config: Tuning }, (_, ctx) => ctx.config.epochs * 2 + ctx.config.rate)
await materialize(defineProject({ assets: [tuned] }), ["tuned"], {
  config: { tuned: { epochs: 1, rate: "0.1" } }
})
export const plain = asset("plain", {}, (_, ctx) => (ctx.config === undefined ? "no config" : "impossible"))

// selection and result
await materialize(project, ["orders", "features"])
await materialize(project, ["+ml/model", "group:default", "*"])
const dynamic: Array<string> = ["orders"]
await materialize(project, dynamic, { concurrency: 2, force: true })
export const fitted: Fitted = await run.value(model)
export const values: ReadonlyArray<number> = await run.value(orders)
export const effect = materializeEffect(project, ["ml/model"])

// options
export const timed = asset("timed", { timeout: "30 minutes" }, () => 1)
export const retried = asset(
  "retried",
  { retry: { attempts: 3, backoff: "exponential", delay: "1 second" } },
  () => 1
)
export const scheduled = asset("scheduled", { retry: Schedule.spaced("1 second") }, () => 1)
export const ordered = asset("ordered", { deps: [orders, "features", ["ml", "model"]] }, () => 1)
