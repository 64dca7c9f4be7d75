/**
 * A table asset's rows are typed by its row schema downstream: a misspelled column or a column
 * used as the wrong type fails.
 */
import { asset } from "@materia/assets"
import { tableFromArrays } from "apache-arrow"
import * as Schema from "effect/Schema"

const Order = Schema.Struct({ id: Schema.Number, region: Schema.String })
const orders = asset("orders", { table: Order }, () => tableFromArrays({ id: [1, 2], region: ["eu", "us"] }))

export const regions = asset("regions", { ins: { orders } }, ({ orders }) =>
  // @expect TS2551 "Property 'regoin' does not exist on type '{ readonly id: number; readonly region: string; }'. Did you mean 'region'?"
  orders.toArray().map((row) => row.regoin)
)

export const ids = asset("ids", { ins: { orders } }, ({ orders }) =>
  // @expect TS2339 "Property 'toUpperCase' does not exist on type 'number'"
  orders.toArray().map((row) => row.id.toUpperCase())
)
