/**
 * A literal selection must name keys the project has (selection syntax is parsed at run time), and
 * a run's result loads only the project's assets, typed as their values.
 */
import { asset, materialize, materializeEffect } from "@materia/assets"
import { model, project } from "./pipeline.ts"

// @expect TS2322 "Type '"modle"' is not assignable to type '"unknown asset key \"modle\""'"
await materialize(project, ["modle"])

// @expect TS2322 "Type '"model"' is not assignable to type '"unknown asset key \"model\""'"
await materialize(project, ["model"])

// @expect TS2322 "Type '"featurs"' is not assignable to type '"unknown asset key \"featurs\""'"
await materialize(project, ["orders", "featurs"])

// @expect TS2322 "Type '"ordres"' is not assignable to type '"unknown asset key \"ordres\""'"
export const asEffect = materializeEffect(project, ["ordres"])

const result = await materialize(project, ["ml/model"])
const other = asset("other", {}, () => "elsewhere")

// @expect TS2345 "Argument of type 'Asset<"other", string, never, never, unknown>' is not assignable to parameter of type 'Asset<"features" | "ml/model" | "orders", string, unknown, unknown, unknown>'"
await result.value(other)

// @expect TS2322 "Type 'Fitted' is not assignable to type 'string'"
export const wrong: string = await result.value(model)

// @expect TS2561 "Did you mean to write 'concurrency'?"
await materialize(project, ["ml/model"], { concurency: 2 })
