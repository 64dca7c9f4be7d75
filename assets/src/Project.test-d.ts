/**
 * Type tests of `defineProject`: the keys of a project as literals, the asset behind a key, and the
 * resources its bodies require (which decide whether the `resources` option is required).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describe, expectTypeOf, test } from "vitest"
import { asset } from "./Asset.ts"
import {
  type AssetOf,
  defineProject,
  type KeysOf,
  type ProjectRequirements,
  type ResourcesOption
} from "./Project.ts"

class Trainer extends Context.Service<
  Trainer,
  { readonly fit: (xs: ReadonlyArray<number>) => Effect.Effect<{ readonly loss: number }> }
>()("Trainer") {}
class Registry extends Context.Service<Registry, { readonly push: (name: string) => Effect.Effect<void> }>()(
  "Registry"
) {}

const orders = asset("orders", {}, () => [1, 2, 3])
const features = asset("features", { ins: { orders } }, ({ orders }) => orders.map((x) => x * 2))
const model = asset(["ml", "model"], { ins: { features } }, ({ features }) =>
  Effect.gen(function* () {
    const trainer = yield* Trainer
    return yield* trainer.fit(features)
  })
)
const deploy = asset("deploy", { ins: { model } }, ({ model }) =>
  Effect.gen(function* () {
    const registry = yield* Registry
    yield* registry.push(`model-${model.loss}`)
    return true
  })
)
const TrainerLive = Layer.succeed(Trainer, { fit: (xs) => Effect.succeed({ loss: xs.length }) })
const RegistryLive = Layer.succeed(Registry, { push: () => Effect.void })

describe("defineProject", () => {
  test("KeysOf is the union of the project's key literals, path keys canonical", () => {
    const project = defineProject({ assets: [orders, features, model], resources: TrainerLive })
    expectTypeOf<KeysOf<typeof project>>().toEqualTypeOf<"orders" | "features" | "ml/model">()
  })
  test("AssetOf finds the asset behind a key", () => {
    const project = defineProject({ assets: [orders, features, model], resources: TrainerLive })
    expectTypeOf<AssetOf<typeof project, "ml/model">>().toEqualTypeOf<typeof model>()
    expectTypeOf<AssetOf<typeof project, "orders">>().toEqualTypeOf<typeof orders>()
  })
  test("a project requires the union of its bodies' services", () => {
    expectTypeOf<ProjectRequirements<[typeof orders, typeof model, typeof deploy]>>().toEqualTypeOf<
      Trainer | Registry
    >()
    expectTypeOf<ProjectRequirements<[typeof orders, typeof features]>>().toBeNever()
  })
  test("resources is optional when no body requires a service, required otherwise", () => {
    expectTypeOf<ResourcesOption<never>>().toEqualTypeOf<{
      readonly resources?: Layer.Layer<never, unknown, never> | undefined
    }>()
    expectTypeOf<ResourcesOption<Trainer>>().toEqualTypeOf<{
      readonly resources: Layer.Layer<Trainer, unknown, never>
    }>()
    defineProject({ assets: [orders, features] })
  })
  test("one Layer that provides every service satisfies the project; a wider one does too", () => {
    const project = defineProject({
      assets: [orders, features, model, deploy],
      resources: Layer.mergeAll(TrainerLive, RegistryLive)
    })
    expectTypeOf(project.resources).toEqualTypeOf<
      Layer.Layer<Trainer | Registry, unknown, never> | undefined
    >()
    defineProject({ assets: [orders, features, model], resources: Layer.mergeAll(TrainerLive, RegistryLive) })
  })
})
