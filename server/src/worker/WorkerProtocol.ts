/**
 * What the processes that run attempts share: the messages between a driver (or a queue worker) and
 * its attempt children, the project's code version that both sides compare, and the IO managers a
 * child opens for values (never tables through the pipe: values go through a persistent IO manager).
 */
import { createHash } from "node:crypto"
import { join } from "node:path"
import type { AnyProject } from "@materia/assets"
import {
  type IOManager,
  lazyIOManager,
  makeMemoryIOManager,
  type RunEvent,
  type StepAttempt,
  type StepAttemptResult,
  type StepErrorData
} from "@materia/core"

/** Where a child finds the values of the store: the project's local folder (fs), or S3 through the project's own IO managers. */
export interface ValueStore {
  /** The folder whose `.materia/storage` holds the fs IO manager's values (the default IO manager). */
  readonly root: string
}

/** The first message to a child: which project to load and where values live. */
export interface ChildInit {
  readonly type: "init"
  readonly projectFile: string
  readonly values: ValueStore
}

/** What a driver tells a child about one attempt: run it, or stop it. */
export type AttemptMessage =
  | { readonly type: "run"; readonly id: number; readonly attempt: StepAttempt }
  | { readonly type: "cancel"; readonly id: number }

/** What a child tells its driver about one attempt: a live event, its result or its error. */
export type FromAttempt =
  | { readonly type: "event"; readonly id: number; readonly event: RunEvent }
  | { readonly type: "done"; readonly id: number; readonly result: StepAttemptResult }
  | { readonly type: "failed"; readonly id: number; readonly error: StepErrorData }

/** Attempt messages travel in batches: those of one tick in one write, in order. */
export type ToChild = ChildInit | { readonly type: "batch"; readonly messages: ReadonlyArray<AttemptMessage> }

export type FromChild =
  | { readonly type: "ready"; readonly project: string; readonly codeVersion: string }
  | { readonly type: "load-error"; readonly message: string }
  | { readonly type: "batch"; readonly messages: ReadonlyArray<FromAttempt> }

/**
 * The project's code version: a hash of every asset's definition (each one's code version included),
 * without where the module was installed (`definedIn`), which differs from machine to machine.
 */
export const projectCodeVersion = (project: AnyProject): string => {
  const hash = createHash("sha256")
  hash.update(`${project.name}\n`)
  for (const spec of project.graph.specs) {
    const { definedIn: _where, ...definition } = spec as typeof spec & { readonly definedIn?: unknown }
    hash.update(`${JSON.stringify(definition)}\n`)
  }
  return hash.digest("hex").slice(0, 16)
}

/**
 * The IO managers a child uses: the store's (fs under the root's `.materia/storage` as the default;
 * `memory` refused: its values live in one process) and the project's own (S3, ...).
 */
export const childIOManagers = (project: AnyProject, values: ValueStore): Map<string, IOManager> => {
  const fs = lazyIOManager("fs", async () =>
    (await import("@materia/io-managers/fs")).makeFsIOManager({
      root: join(values.root, ".materia", "storage"),
      name: "fs"
    })
  )
  const managers = new Map<string, IOManager>([
    ["default", fs],
    ["fs", fs],
    ["memory", makeMemoryIOManager("memory")]
  ])
  for (const [name, io] of project.ioManagers) managers.set(name, io)
  return managers
}

/** Why a step cannot run in another process, or undefined: values kept by the memory IO manager. */
export const inProcessOnly = (project: AnyProject, attempt: StepAttempt): string | undefined => {
  const spec = project.graph.specs[attempt.step.node]
  const usesMemory = (name: string): boolean =>
    name === "memory" || project.ioManagers.get(name)?.name === "memory"
  if (spec !== undefined && usesMemory(spec.ioManager))
    return `asset "${spec.key}" is stored by the memory IO manager, whose values live inside one process; steps that run in other processes (the processes and queue executors) need a persistent IO manager: give it io: "fs" (or S3), or run with the in-process executor`
  const handles = [
    ...attempt.states.map(([key, s]) => [key, s.latest?.handle] as const),
    ...(attempt.partitionStates ?? []).flatMap(([key, states]) =>
      states.map(([, s]) => [key, s.latest?.handle] as const)
    )
  ]
  for (const [key, handle] of handles)
    if (handle?.location.startsWith("memory://") === true && key !== attempt.step.key)
      return `input "${key}" of asset "${attempt.step.key}" is kept by the memory IO manager of the driving process, which another process cannot read; store it with a persistent IO manager (io: "fs" or S3), or run with the in-process executor`
  return undefined
}
