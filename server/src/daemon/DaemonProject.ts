/**
 * What the daemon commands load: the project, its schedules, sensors and automation conditions,
 * validated against its graph, and the daemon store beside the project's metadata (its SQLite file,
 * or its PostgreSQL database; `OpenDaemonStore.ts` decides). Until `defineProject` takes them, they
 * are read from the config module's named exports (`export const schedules = [...]`, `sensors`,
 * `automations`); a project that carries them wins.
 */
import { pathToFileURL } from "node:url"
import {
  type AnyProject,
  type AutomationDefinition,
  type ScheduleDefinition,
  type SensorDefinition,
  validateSchedules
} from "@materia/assets"
import { UsageError } from "../cli/CliError.ts"
import type { CommandContext } from "../cli/Command.ts"
import { findConfig, loadProject } from "../cli/ProjectLoader.ts"
import type { DaemonStore } from "./DaemonStore.ts"
import { openDaemonStore } from "./OpenDaemonStore.ts"
import type { Definitions } from "./TickEngine.ts"

export interface DaemonProject {
  readonly project: AnyProject
  readonly file: string
  readonly root: string
  readonly definitions: Definitions
  readonly store: DaemonStore
}

const MAKERS = {
  schedules: "schedule(name, {...})",
  sensors: "sensor(name, {...})",
  automations: "automate(assetKey, condition)"
} as const

const listOf = <T>(
  file: string,
  what: "schedules" | "sensors" | "automations",
  tag: string,
  value: unknown
): ReadonlyArray<T> => {
  if (value === undefined) return []
  if (!Array.isArray(value))
    throw new UsageError({
      message: `${file}: the \`${what}\` export must be an array of ${MAKERS[what]} definitions, found ${typeof value}`
    })
  value.forEach((d: unknown, i) => {
    if (typeof d !== "object" || d === null || (d as { _tag?: unknown })._tag !== tag)
      throw new UsageError({
        message: `${file}: ${what}[${i}] is not made by ${MAKERS[what]}`
      })
  })
  return value as ReadonlyArray<T>
}

/** The schedules, sensors and automations of a project (or the named exports of its config module). */
export const definitionsOf = (
  file: string,
  project: AnyProject,
  module: Readonly<Record<string, unknown>>
): Definitions => {
  // defineProject({ schedules, sensors, automations }) wins; named exports of the config module
  // (`export const schedules = [...]`) are read when the project declares none of a kind.
  const given = (list: ReadonlyArray<unknown>) => (list.length > 0 ? list : undefined)
  const carried = {
    schedules: given(project.schedules),
    sensors: given(project.sensors),
    automations: given(project.automations)
  }
  const schedules = listOf<ScheduleDefinition>(
    file,
    "schedules",
    "ScheduleDefinition",
    carried.schedules ?? module.schedules
  )
  const sensors = listOf<SensorDefinition>(
    file,
    "sensors",
    "SensorDefinition",
    carried.sensors ?? module.sensors
  )
  const automations = listOf<AutomationDefinition>(
    file,
    "automations",
    "AutomationDefinition",
    carried.automations ?? module.automations
  )
  try {
    validateSchedules(project, schedules, sensors, automations)
  } catch (error) {
    throw new UsageError({ message: `${file}: ${error instanceof Error ? error.message : String(error)}` })
  }
  return { graph: project.graph, schedules, sensors, automations }
}

/** Loads the project and its schedules and sensors, and opens the daemon store. */
export const openDaemonProject = async (
  explicit: string | undefined,
  context: CommandContext
): Promise<DaemonProject> => {
  let file: string
  let loaded: Awaited<ReturnType<typeof loadProject>>
  try {
    file = findConfig(explicit, context.cwd)
    loaded = await loadProject(file)
  } catch (error) {
    // A bad cron string or schedule throws while the module loads: a definition error, exit 2.
    if (error instanceof UsageError) throw error
    throw new UsageError({ message: error instanceof Error ? error.message : String(error) })
  }
  // The same URL as the loader's: Node returns the module it already evaluated.
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>
  const definitions = definitionsOf(file, loaded.project, module)
  const store = await openDaemonStore(loaded.root, loaded.project.storage, process.env)
  return { project: loaded.project, file, root: loaded.root, definitions, store }
}

/** The schedule or sensor named `name`, or a usage error listing the names. */
export const findDefinition = <D extends { readonly name: string }>(
  kind: "schedule" | "sensor",
  definitions: ReadonlyArray<D>,
  name: string | undefined
): D => {
  const names = definitions.map((d) => d.name)
  if (name === undefined)
    throw new UsageError({
      message: `name a ${kind}: ${names.length === 0 ? `the project has no ${kind}s` : names.join(", ")}`
    })
  const found = definitions.find((d) => d.name === name)
  if (found === undefined)
    throw new UsageError({
      message: `no ${kind} "${name}"; ${names.length === 0 ? `the project has no ${kind}s (export const ${kind}s = [...] in the config)` : `${kind}s: ${names.join(", ")}`}`
    })
  return found
}
