import {
  DependencyCycle,
  DuplicateAssetKey,
  SelectionError,
  StaleUpstream,
  UnknownDependency
} from "@materia/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { describe, expect, it } from "vitest"
import { asset, sourceAsset } from "./Asset.ts"
import { ConfigError, ResourcesError } from "./Launch.ts"
import { materialize, materializeEffect } from "./Materialize.ts"
import { defineProject } from "./Project.ts"
import { RunFailed } from "./RunResult.ts"
import { memoryStore } from "./Store.ts"

/** Every run here is ephemeral: nothing is written under the working directory. */
const mem = { storage: "memory" } as const

class Multiplier extends Context.Service<Multiplier, { readonly factor: number }>()("test/Multiplier") {}

describe("materialize", () => {
  const orders = asset("orders", {}, () => [3, 1, 2])
  const sorted = asset("sorted", { ins: { orders } }, async ({ orders }) => [...orders].sort())
  const scaled = asset(["ml", "scaled"], { ins: { sorted } }, ({ sorted }) =>
    Effect.gen(function* () {
      const m = yield* Multiplier
      return sorted.map((x) => x * m.factor)
    })
  )

  it("makes the targets fresh with their upstream and returns typed values", async () => {
    let built = 0
    let released = 0
    const resources = Layer.effect(
      Multiplier,
      Effect.acquireRelease(
        Effect.sync(() => {
          built++
          return { factor: 10 }
        }),
        () => Effect.sync(() => void released++)
      )
    )
    const project = defineProject({ name: "t", assets: [orders, sorted, scaled], resources })
    const result = await materialize(project, ["ml/scaled"], mem)
    expect(result.status).toBe("succeeded")
    expect(result.steps.map((s) => s.key)).toEqual(["orders", "sorted", "ml/scaled"])
    expect(await result.value(scaled)).toEqual([10, 20, 30])
    expect(result.step("sorted")?.status).toBe("succeeded")
    expect([built, released]).toEqual([1, 1])
  })

  it("runs only what is stale in a reused store, and everything when forced", async () => {
    const project = defineProject({ assets: [orders, sorted] })
    const storage = memoryStore()
    expect((await materialize(project, ["sorted"], { storage })).steps).toHaveLength(2)
    expect((await materialize(project, ["sorted"], { storage })).steps).toHaveLength(0)
    const forced = await materialize(project, ["sorted"], { storage, force: true })
    expect(forced.steps.map((s) => `${s.key}:${s.status}`)).toEqual(["sorted:succeeded"])
    expect(await forced.value(orders)).toEqual([3, 1, 2])
  })

  it("rejects with RunFailed carrying the result, or resolves with raiseOnError: false", async () => {
    const broken = asset("broken", { ins: { orders } }, () => {
      throw new Error("no good")
    })
    const after = asset("after", { ins: { broken } }, () => 1)
    const project = defineProject({ assets: [orders, broken, after] })
    const error = await materialize(project, ["after"], mem).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RunFailed)
    expect((error as RunFailed).message).toBe(
      `run ${(error as RunFailed).result.runId} failed: 1 step(s) failed, 1 skipped\n  broken: asset "broken" failed: no good`
    )
    const result = await materialize(project, ["after"], { ...mem, raiseOnError: false })
    expect(result.status).toBe("failed")
    expect(result.step("after")?.skipReason).toBe("upstream failed: broken")
  })

  it("retries per the asset's policy, including an Effect Schedule", async () => {
    let calls = 0
    const flaky = asset("flaky", { retry: Schedule.recurs(2) }, () => {
      if (++calls < 3) throw new Error(`attempt ${calls}`)
      return "ok"
    })
    const result = await materialize(defineProject({ assets: [flaky] }), ["flaky"], mem)
    expect(result.step("flaky")?.attempts).toBe(3)
  })

  it("validates output against the asset's schema", async () => {
    const typed = asset("typed", { schema: Schema.Struct({ n: Schema.Number }) }, () => ({ n: "1" }))
    const result = await materialize(defineProject({ assets: [typed] }), ["typed"], {
      ...mem,
      raiseOnError: false
    })
    expect(result.step("typed")?.status).toBe("failed")
    expect(String(result.step("typed")?.error)).toContain(
      'asset "typed" returned a value that does not match its schema'
    )
  })

  it("decodes typed run config and rejects config of the wrong shape before running", async () => {
    let seen: unknown
    const train = asset("train", { config: Schema.Struct({ epochs: Schema.Number }) }, (_, ctx) => {
      seen = ctx.config
      return ctx.config.epochs * 2
    })
    const project = defineProject({ assets: [train] })
    const result = await materialize(project, ["train"], { ...mem, config: { train: { epochs: 3 } } })
    expect(seen).toEqual({ epochs: 3 })
    expect(await result.value(train)).toBe(6)
    const bad = await materialize(project, ["train"], {
      ...mem,
      config: { train: { epochs: "3" } } as unknown as { train: { epochs: number } }
    }).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(ConfigError)
    expect((bad as ConfigError).message).toContain('run config of asset "train"')
    const unknown = await materialize(project, ["train"], {
      ...mem,
      config: { trian: { epochs: 1 } } as unknown as { train: { epochs: number } }
    }).catch((e: unknown) => e)
    expect((unknown as ConfigError).message).toBe('run config of asset "trian": no asset has this key')
  })

  it("cancels on an AbortSignal: the run ends canceled", async () => {
    const controller = new AbortController()
    let aborted = false
    const hang = asset("hang", {}, (_, ctx) => {
      ctx.signal.addEventListener("abort", () => {
        aborted = true
      })
      setTimeout(() => controller.abort(), 5)
      return new Promise<number>(() => {})
    })
    const result = await materialize(defineProject({ assets: [hang] }), ["hang"], {
      ...mem,
      signal: controller.signal,
      raiseOnError: false
    })
    expect(result.status).toBe("canceled")
    expect(result.step("hang")?.status).toBe("canceled")
    expect(aborted).toBe(true)
  })

  it("re-plans downstream of a source whose observed version changed", async () => {
    let etag = "v1"
    const raw = sourceAsset("raw", { load: () => ({ etag }), observe: () => etag })
    const copy = asset("copy", { ins: { raw } }, ({ raw }) => raw.etag)
    const project = defineProject({ assets: [raw, copy] })
    const storage = memoryStore()
    expect((await materialize(project, ["copy"], { storage })).steps).toHaveLength(1)
    expect((await materialize(project, ["copy"], { storage })).steps).toHaveLength(0)
    etag = "v2"
    const third = await materialize(project, ["copy"], { storage })
    expect(third.plan.steps[0]?.reasons).toEqual([{ _tag: "UpstreamDataChanged", upstream: ["raw"] }])
    expect(await third.value(copy)).toBe("v2")
  })

  it("refuses stale upstream with upstream: load-only", async () => {
    const project = defineProject({ assets: [orders, sorted] })
    await expect(materialize(project, ["sorted"], { ...mem, upstream: "load-only" })).rejects.toBeInstanceOf(
      StaleUpstream
    )
  })

  it("rejects a selection that matches nothing, naming the nearest key", async () => {
    const project = defineProject({ assets: [orders, sorted] })
    const error = await materialize(project, ["+sortd" as "sorted"], mem).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SelectionError)
    expect((error as SelectionError).message).toContain('did you mean "sorted"')
  })

  it("reports a resources Layer that fails to build", async () => {
    const failing = Layer.effect(Multiplier, Effect.fail(new Error("no GPU driver")))
    const project = defineProject({ assets: [orders, sorted, scaled], resources: failing })
    const error = await materialize(project, ["ml/scaled"], mem).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ResourcesError)
    expect((error as ResourcesError).message).toBe("the project's resources failed to build: no GPU driver")
  })

  it("is available as an Effect", async () => {
    const project = defineProject({ assets: [orders] })
    const result = await Effect.runPromise(materializeEffect(project, ["orders"], mem))
    expect(await Effect.runPromise(result.valueEffect(orders))).toEqual([3, 1, 2])
  })
})

describe("definitions", () => {
  it("rejects duplicate keys, unknown dependencies and cycles at definition time", () => {
    const a = asset("a", {}, () => 1)
    const a2 = asset("a", {}, () => 2)
    expect(() => defineProject({ assets: [a, a2] })).toThrow(DuplicateAssetKey)
    const b = asset("b", { deps: ["featurs"] }, () => 1)
    const features = asset("features", {}, () => 1)
    expect(() => defineProject({ assets: [b, features] })).toThrow(UnknownDependency)
    expect(() => defineProject({ assets: [b, features] })).toThrow('(did you mean "features"?)')
    const x = asset("x", { deps: ["z"] }, () => 1)
    const y = asset("y", { deps: [x] }, () => 1)
    const z = asset("z", { deps: [y] }, () => 1)
    expect(() => defineProject({ assets: [x, y, z] })).toThrow(DependencyCycle)
    expect(() => defineProject({ assets: [x, y, z] })).toThrow("x → y → z → x")
  })

  it("rejects bad keys, durations, retry policies, IO managers and limits with what to write instead", () => {
    expect(() => asset("../etc", {}, () => 1)).toThrow('invalid asset key "../etc"')
    expect(() => asset("t", { timeout: "30 minuts" as "30 minutes" }, () => 1)).toThrow(
      'asset "t": timeout "30 minuts" is not a duration; write e.g. "30 minutes"'
    )
    expect(() => asset("r", { retry: { attempts: 0 } }, () => 1)).toThrow(
      "retry.attempts counts every attempt"
    )
    const io = asset("io", { io: "s3" }, () => 1)
    expect(() => defineProject({ assets: [io] })).toThrow('asset "io" uses IO manager "s3"')
    expect(() => defineProject({ assets: [], pools: { gpu: 0 } })).toThrow(
      'pool "gpu" limit must be an integer ≥ 1'
    )
  })

  it("derives the code version from the body and definition unless set by hand", () => {
    const v1 = asset("m", {}, () => 1).spec.codeVersion
    expect(asset("m", {}, () => 1).spec.codeVersion).toBe(v1)
    expect(asset("m", {}, () => 2).spec.codeVersion).not.toBe(v1)
    expect(asset("m", { pool: "gpu" }, () => 1).spec.codeVersion).not.toBe(v1)
    expect(asset("m", { codeVersion: "7" }, () => 3).spec).toMatchObject({
      codeVersion: "7",
      codeVersionSource: "user"
    })
  })
})
