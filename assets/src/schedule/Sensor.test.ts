import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { ScheduleDefinitionError } from "./RunRequest.ts"
import { evaluateSensor, SensorFailed, sensor } from "./Sensor.ts"

const run = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.provide(effect, TestClock.layer()))
const ctx = { cursor: "c1", now: 1000, lastTickAt: 500 }
const failure = (effect: Effect.Effect<unknown, SensorFailed>) =>
  run(Effect.flip(effect)).then((e) => e.message)

describe("sensor", () => {
  it("gives evaluate the cursor, the time and the last tick; accepts sync, Promise and Effect results", async () => {
    const seen: Array<unknown> = []
    const sync = sensor("s", {
      interval: "30 seconds",
      evaluate: ({ cursor, now, lastTickAt, sensor: name }) => {
        seen.push({ cursor, now, lastTickAt, name })
        return { runRequests: [{ select: "orders", runKey: "f1" }], cursor: "c2" }
      }
    })
    expect(sync.spec).toEqual({
      name: "s",
      intervalMillis: 30_000,
      timeoutMillis: 60_000,
      defaultStatus: "stopped"
    })
    expect(await run(evaluateSensor(sync, ctx))).toEqual({
      runRequests: [{ select: "orders", runKey: "f1" }],
      cursor: "c2"
    })
    expect(seen).toEqual([{ cursor: "c1", now: 1000, lastTickAt: 500, name: "s" }])
    const promise = sensor("p", { interval: 1000, evaluate: async () => ({ cursor: "p" }) })
    expect(await run(evaluateSensor(promise, ctx))).toEqual({ cursor: "p" })
    const effect = sensor("e", {
      interval: 1000,
      evaluate: () => Effect.succeed({ skipReason: "nothing new" })
    })
    expect(await run(evaluateSensor(effect, ctx))).toEqual({ skipReason: "nothing new" })
  })

  it("turns throws, rejections, failures and malformed results into SensorFailed naming the sensor", async () => {
    const throws = sensor("t", {
      interval: 1000,
      evaluate: () => {
        throw new Error("bucket gone")
      }
    })
    expect(await failure(evaluateSensor(throws, ctx))).toBe(
      'sensor "t" failed: evaluate threw Error: bucket gone'
    )
    const rejects = sensor("r", { interval: 1000, evaluate: () => Promise.reject(new Error("no")) })
    expect(await failure(evaluateSensor(rejects, ctx))).toContain("evaluate rejected with Error: no")
    const fails = sensor("f", { interval: 1000, evaluate: () => Effect.fail("denied") })
    expect(await failure(evaluateSensor(fails, ctx))).toContain("evaluate failed with denied")
    const malformed = sensor("m", {
      interval: 1000,
      evaluate: () => ({ runRequests: [{ select: 3 }] }) as never
    })
    expect(await failure(evaluateSensor(malformed, ctx))).toContain("runRequests[0]: select must be")
    const badCursor = sensor("c", { interval: 1000, evaluate: () => ({ cursor: 5 }) as never })
    expect(await failure(evaluateSensor(badCursor, ctx))).toContain("cursor must be a string")
  })

  it("times out a hanging evaluation on the Effect clock and aborts its signal", async () => {
    let aborted = false
    const hangs = sensor("h", {
      interval: 1000,
      timeout: "5 seconds",
      evaluate: ({ signal }) =>
        new Promise(() => {
          signal.addEventListener("abort", () => {
            aborted = true
          })
        })
    })
    const message = await run(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(Effect.flip(evaluateSensor(hangs, ctx)))
        yield* TestClock.adjust("4 seconds")
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 second")
        return (yield* Fiber.join(fiber)).message
      })
    )
    expect(message).toBe('sensor "h" failed: evaluate did not finish within 5s; it was interrupted')
    expect(aborted).toBe(true)
  })

  it("rejects bad definitions", () => {
    expect(() => sensor("s", { interval: 0, evaluate: () => ({}) })).toThrow(ScheduleDefinitionError)
    expect(() => sensor("s", { interval: "soon" as never, evaluate: () => ({}) })).toThrow(
      /interval is "soon"/
    )
    expect(() => sensor("a b", { interval: 1, evaluate: () => ({}) })).toThrow(/name is not allowed/)
  })
})

void SensorFailed
