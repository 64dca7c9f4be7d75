/**
 * Inputs are typed from their upstream assets: misusing one, passing it where another type is
 * expected, naming an input that is not declared, or giving `ins` something that is not an asset fails.
 */
import { asset } from "@materia/assets"
import { features, model, orders } from "./pipeline.ts"

const joinNames = (names: ReadonlyArray<string>): string => names.join(", ")

// @expect TS2339 "Property 'toUpperCase' does not exist on type 'number[]'"
export const shouted = asset("shouted", { ins: { orders } }, ({ orders }) => orders.toUpperCase())

// @expect TS2345 "Argument of type 'number[]' is not assignable to parameter of type 'readonly string[]'"
export const joined = asset("joined", { ins: { orders } }, ({ orders }) => joinNames(orders))

export const assigned = asset("assigned", { ins: { orders } }, ({ orders }) => {
  // @expect TS2322 "Type 'number[]' is not assignable to type 'string'"
  const text: string = orders
  return text
})

// @expect TS2339 "Property 'ordrs' does not exist on type 'InputValues<{ readonly orders: Asset<"orders", number[]"
export const misspelled = asset("misspelled", { ins: { orders } }, ({ ordrs }) => ordrs)

// @expect TS2339 "Property 'orders' does not exist on type 'InputValues<{}, unknown>'"
export const undeclared = asset("undeclared", {}, ({ orders }) => orders)

export const annotated = asset(
  "annotated",
  { ins: { orders } },
  // @expect TS2345 "Type 'number[]' is not assignable to type 'readonly string[]'"
  ({ orders }: { orders: ReadonlyArray<string> }) => joinNames(orders)
)

// @expect TS2322 "Type 'number' is not assignable to type 'AnyAsset | AnyInput'"
export const notAnAsset = asset("not_an_asset", { ins: { x: 42 } }, ({ x }) => x)

// @expect TS2322 "Type 'string' is not assignable to type 'AnyAsset | AnyInput'"
export const byKey = asset("by_key", { ins: { orders: "orders" } }, ({ orders }) => orders)

// @expect TS2339 "Property 'accuracy' does not exist on type 'Fitted'"
export const fromEffect = asset("from_effect", { ins: { model } }, ({ model }) => model.accuracy)

// @expect TS2339 "Property 'then' does not exist on type 'number[]'"
export const fromPromise = asset("from_promise", { ins: { features } }, ({ features }) => features.then)
