/**
 * A child process that runs step attempts: started as `node --import tsx AttemptChild.ts` with an
 * IPC channel by a process pool (ProcessRunner). It loads the project from its module once, builds
 * its resources once, then runs the attempts it is sent (several at once when the driver sends
 * several) as the in-process executor would, reading inputs and writing outputs through the
 * persistent IO managers; only handles and events cross the pipe.
 */
import type { AnyProject } from "@materia/assets"
import { encodeStepError, runAttemptHere, type StepAttempt, type StepAttemptResult } from "@materia/core"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { loadProject } from "../cli/ProjectLoader.ts"
import {
  type AttemptMessage,
  type ChildInit,
  childIOManagers,
  type FromAttempt,
  type FromChild,
  inProcessOnly,
  projectCodeVersion,
  type ToChild
} from "./WorkerProtocol.ts"

const send = (message: FromChild): void => {
  process.send?.(message)
}

/** Attempt messages of this tick, written together once it ends (in order). */
let outbox: Array<FromAttempt> = []
const flush = () => {
  const messages = outbox
  outbox = []
  send({ type: "batch", messages })
}
const post = (message: FromAttempt): void => {
  if (outbox.push(message) === 1) queueMicrotask(flush)
}

interface Loaded {
  readonly project: AnyProject
  readonly host: Parameters<typeof runAttemptHere<unknown>>[0]
  readonly context: Context.Context<unknown>
}

const load = async (init: ChildInit): Promise<Loaded> => {
  const { project } = await loadProject(init.projectFile)
  let context = Context.empty() as Context.Context<unknown>
  if (project.resources !== undefined) {
    const scope = Effect.runSync(Scope.make())
    context = await Effect.runPromise(
      Layer.buildWithScope(project.resources as Layer.Layer<unknown, unknown, never>, scope)
    ).catch((cause: unknown) => {
      throw new Error(`the project's resources failed to build: ${String(cause)}`)
    })
  }
  return {
    project,
    host: {
      graph: project.graph,
      assets: project.executables,
      ioManagers: childIOManagers(project, init.values)
    },
    context
  }
}

let loaded: Loaded | undefined
/** The attempts running here, by the driver's id: several at once (the driver bounds how many). */
const running = new Map<number, Fiber.Fiber<StepAttemptResult, unknown>>()

const runOne = (id: number, attempt: StepAttempt) => {
  const current = loaded!
  const refused = inProcessOnly(current.project, attempt)
  if (refused !== undefined) {
    post({
      type: "failed",
      id,
      error: { _tag: "InProcessOnly", message: refused, assetKey: attempt.step.key, retryable: false }
    })
    return
  }
  const fiber = Effect.runForkWith(current.context)(
    runAttemptHere(current.host, attempt, (event) => post({ type: "event", id, event }))
  )
  running.set(id, fiber)
  fiber.addObserver((exit) => {
    running.delete(id)
    if (Exit.isSuccess(exit)) post({ type: "done", id, result: exit.value })
    else {
      const error = Cause.hasInterruptsOnly(exit.cause)
        ? { _tag: "Interrupted", message: "the attempt was canceled", retryable: false }
        : encodeStepError(Cause.squash(exit.cause))
      post({ type: "failed", id, error })
    }
  })
}

const onAttempt = (message: AttemptMessage) => {
  if (message.type === "run") runOne(message.id, message.attempt)
  else running.get(message.id)?.interruptUnsafe()
}

process.on("message", (message: ToChild) => {
  switch (message.type) {
    case "init":
      load(message).then(
        (l) => {
          loaded = l
          send({ type: "ready", project: l.project.name, codeVersion: projectCodeVersion(l.project) })
        },
        (error: unknown) =>
          send({ type: "load-error", message: error instanceof Error ? error.message : String(error) })
      )
      break
    case "batch":
      for (const m of message.messages) onAttempt(m)
      break
  }
})
process.on("disconnect", () => process.exit(0))
