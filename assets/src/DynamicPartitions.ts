/**
 * Dynamic partition keys from code: add or delete the keys of a `dynamicPartitions(name)`
 * definition in a project's store (the same as `materia partitions add|delete`). Keys are checked
 * (letters, digits, `_ . -`) and the definition must be one the project uses.
 */
import { dynamicNamesOf, dynamicPartitions, type StorageApi, type StorageError } from "@materia/core"
import * as Effect from "effect/Effect"
import { resolveStore, type StorageChoice } from "./Launch.ts"
import { PartitionRequestError } from "./PartitionRequest.ts"
import type { AnyProject } from "./Project.ts"

export interface DynamicPartitionOptions {
  readonly storage?: StorageChoice | undefined
  readonly root?: string | undefined
}

const checked = (project: AnyProject, name: string, keys: ReadonlyArray<string>) =>
  Effect.try({
    try: () => {
      if (!project.graph.specs.some((s) => dynamicNamesOf(s.partitions).includes(name)))
        throw new PartitionRequestError({
          reason: `no asset of project "${project.name}" uses dynamic partitions "${name}"`
        })
      const definition = dynamicPartitions(name)
      for (const key of keys) definition.parse(key, { dynamic: { [name]: [key] } })
      return keys
    },
    catch: (error) =>
      error instanceof PartitionRequestError
        ? error
        : new PartitionRequestError({ reason: error instanceof Error ? error.message : String(error) })
  })

/** Checks the keys, opens the project's store, and applies `change` there. */
const changeKeys = (
  project: AnyProject,
  name: string,
  keys: ReadonlyArray<string>,
  options: DynamicPartitionOptions,
  change: (storage: StorageApi) => Effect.Effect<number, StorageError>
): Effect.Effect<number, PartitionRequestError | StorageError> =>
  Effect.gen(function* () {
    yield* checked(project, name, keys)
    const store = yield* resolveStore(
      options.storage,
      options.root ?? project.root ?? process.cwd(),
      project.storage
    )
    return yield* change(store.storage)
  })

/** Adds keys to a dynamic definition; resolves to how many were new. */
export const addDynamicPartitions = (
  project: AnyProject,
  name: string,
  keys: ReadonlyArray<string>,
  options: DynamicPartitionOptions = {}
): Effect.Effect<number, PartitionRequestError | StorageError> =>
  changeKeys(project, name, keys, options, (storage) =>
    storage.addDynamicPartitions(project.name, name, keys)
  )

/** Deletes keys of a dynamic definition; resolves to how many were there. Their values stay recorded. */
export const deleteDynamicPartitions = (
  project: AnyProject,
  name: string,
  keys: ReadonlyArray<string>,
  options: DynamicPartitionOptions = {}
): Effect.Effect<number, PartitionRequestError | StorageError> =>
  changeKeys(project, name, keys, options, (storage) =>
    storage.deleteDynamicPartitions(project.name, name, keys)
  )
