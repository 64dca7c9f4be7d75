/**
 * Run config is typed per asset from its config schema, and `ctx.config` from the decoded side:
 * a wrong shape, config for an asset without a schema, an unknown key, or misusing `ctx.config` fails.
 */
import { asset, defineProject, materialize } from "@materia/assets"
import { Schema } from "effect"
import { features, orders, project } from "./pipeline.ts"

// @expect TS2322 "Type 'string' is not assignable to type 'number'"
await materialize(project, ["ml/model"], { config: { "ml/model": { epochs: "3" } } })

// @expect TS2741 "Property 'epochs' is missing in type '{}'"
await materialize(project, ["ml/model"], { config: { "ml/model": {} } })

// @expect TS2353 "'learningRate' does not exist in type '{ readonly epochs: number; }'"
await materialize(project, ["ml/model"], { config: { "ml/model": { epochs: 3, learningRate: 0.1 } } })

// @expect TS2322 "Type '{ limit: number; }' is not assignable to type '"asset \"orders\" declares no config schema"'"
await materialize(project, ["orders"], { config: { orders: { limit: 10 } } })

// @expect TS2353 "'modle' does not exist in type"
await materialize(project, ["ml/model"], { config: { modle: { epochs: 3 } } })

const unconfigured = defineProject({ assets: [orders, features] })
// @expect TS2322 "is not assignable to type '"asset \"features\" declares no config schema"'"
await materialize(unconfigured, ["features"], { config: { features: { scale: 2 } } })

const Tuning = Schema.Struct({ epochs: Schema.Number })

// @expect TS2339 "Property 'toUpperCase' does not exist on type 'number'"
export const shouted = asset("shouted", { config: Tuning }, (_, ctx) => ctx.config.epochs.toUpperCase())

// @expect TS2551 "Property 'epoch' does not exist on type '{ readonly epochs: number; }'. Did you mean 'epochs'?"
export const misspelled = asset("misspelled", { config: Tuning }, (_, ctx) => ctx.config.epoch)

export const mutated = asset("mutated", { config: Tuning }, (_, ctx) => {
  // @expect TS2540 "Cannot assign to 'epochs' because it is a read-only property"
  ctx.config.epochs = 10
  return ctx.config.epochs
})

// @expect TS18048 "'ctx.config' is possibly 'undefined'"
export const noSchema = asset("no_schema", {}, (_, ctx) => ctx.config.epochs)

// @expect TS2353 "'epochs' does not exist in type 'AnySchema'"
export const notASchema = asset("not_a_schema", { config: { epochs: 3 } }, (_, ctx) => ctx.config)
