/**
 * A child process that runs step attempts: started as `node --import tsx AttemptChild.ts` with an
 * IPC channel by a process pool (ProcessRunner). It loads the project from its module once, builds
 * its resources once, then runs each attempt it is sent with the in-process executor, reading inputs
 * and writing outputs through the persistent IO managers; only handles and events cross the pipe.
 */
import type { AnyProject } from "@materia/assets"
import { encodeStepError, runAttemptHere, type StepAttempt } from "@materia/core"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { loadProject } from "../cli/ProjectLoader.ts"
import {
  type ChildInit,
  childIOManagers,
  type FromChild,
  inProcessOnly,
  projectCodeVersion,
  type ToChild
} from "./WorkerProtocol.ts"

const send = (message: FromChild): void => {
  process.send?.(message)
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
const running = new Map<number, AbortController>()

const runOne = (id: number, attempt: StepAttempt) => {
  const current = loaded!
  const refused = inProcessOnly(current.project, attempt)
  if (refused !== undefined) {
    send({
      type: "failed",
      id,
      error: { _tag: "InProcessOnly", message: refused, assetKey: attempt.step.key, retryable: false }
    })
    return
  }
  const controller = new AbortController()
  running.set(id, controller)
  const effect = Effect.provideContext(
    runAttemptHere(current.host, attempt, (event) => send({ type: "event", id, event }), controller.signal),
    current.context
  )
  void Effect.runPromiseExit(effect).then((exit) => {
    running.delete(id)
    if (Exit.isSuccess(exit)) send({ type: "done", id, result: exit.value })
    else {
      const error = Cause.hasInterruptsOnly(exit.cause)
        ? { _tag: "Interrupted", message: "the attempt was canceled", retryable: false }
        : encodeStepError(Cause.squash(exit.cause))
      send({ type: "failed", id, error })
    }
  })
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
    case "run":
      runOne(message.id, message.attempt)
      break
    case "cancel":
      running.get(message.id)?.abort()
      break
  }
})
process.on("disconnect", () => process.exit(0))
