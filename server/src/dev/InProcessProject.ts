/**
 * ProjectApi over a project loaded in this very process: the code server's service without the
 * process boundary. For programs that already hold the project (tests of the HTTP app, scripts);
 * `materia dev` itself never loads the project in the server (see Supervisor.ts).
 */
import type { AnyProject } from "@materia/assets"
import type { ScheduleInfo, SensorInfo } from "../http/ApiSchemas.ts"
import type { LiveMessage } from "../http/Backend.ts"
import type { ProjectApi } from "./ProjectApi.ts"
import { makeProjectService } from "./ProjectService.ts"
import { storeLocationOf } from "./StoreReader.ts"

/** Serves `project` (rooted at `root`, where `.materia/` lives) in process. */
export const inProcessProject = async (
  project: AnyProject,
  root: string,
  options: {
    readonly queryTimeoutMillis?: number | undefined
    /** The environment the metadata and daemon stores are chosen with (MATERIA_DATABASE_URL); default none. */
    readonly env?: Readonly<Record<string, string | undefined>> | undefined
  } = {}
): Promise<ProjectApi> => {
  const listeners = new Set<(message: LiveMessage) => void>()
  const service = await makeProjectService({
    project,
    root,
    queryTimeoutMillis: options.queryTimeoutMillis,
    env: options.env,
    emit: (event) => {
      for (const listener of listeners) listener({ type: "run-event", data: event })
    }
  })
  const state = {
    generation: 1,
    name: service.name,
    nameKnown: true,
    root,
    codeVersion: service.codeVersion,
    loadError: null,
    storage: storeLocationOf(project.storage, options.env ?? {})
  }
  return {
    state: async () => state,
    catalog: service.catalog,
    extras: service.extras,
    partitions: service.partitions,
    launch: service.launch,
    reexecute: service.reexecute,
    cancel: service.cancel,
    query: service.query,
    backfills: service.backfills,
    backfill: service.backfill,
    launchBackfill: service.launchBackfill,
    cancelBackfill: service.cancelBackfill,
    schedules: service.schedules,
    sensors: service.sensors,
    automations: service.automations,
    freshness: service.freshness,
    ticks: service.ticks,
    setScheduleStatus: (name, status) => service.setStatus("schedule", name, status) as Promise<ScheduleInfo>,
    setSensorStatus: (name, status) => service.setStatus("sensor", name, status) as Promise<SensorInfo>,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close: service.close
  }
}
