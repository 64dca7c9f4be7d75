/**
 * The code server: the child process of `materia dev` that loads the project's code (which the
 * server itself never imports, since ES modules cannot be unloaded) and answers the server's
 * requests over IPC. Runs execute here; when the project's files change the server starts a new
 * code server and retires this one, which exits once its runs in flight have finished.
 *
 * Started as `node --import tsx CodeServer.ts <CodeServerArgs as JSON>` with an IPC channel.
 */
import { dirname } from "node:path"
import { pathToFileURL } from "node:url"
import type { AnyProject } from "@materia/assets"
import { loadProject } from "../cli/ProjectLoader.ts"
import { definitionsOf } from "../daemon/DaemonProject.ts"
import type { Definitions } from "../daemon/TickEngine.ts"
import { type ApiErrorData, isApiErrorData } from "../http/ApiError.ts"
import type { CodeServerArgs, FromChild, Request, ToChild } from "./CodeServerProtocol.ts"
import { loadErrorOf } from "./LoadError.ts"
import { makeProjectService, type ProjectService } from "./ProjectService.ts"
import { openStoreReader, storeLocationOf } from "./StoreReader.ts"

const send = (message: FromChild): void => {
  if (process.connected) process.send?.(message)
}

const errorData = (error: unknown): ApiErrorData => {
  if (isApiErrorData(error)) return { status: error.status, code: error.code, message: error.message }
  return { status: 500, code: "Internal", message: error instanceof Error ? error.message : String(error) }
}

const handle = (service: ProjectService, request: Request): Promise<unknown> => {
  switch (request.method) {
    case "catalog":
      return service.catalog(request.watermark)
    case "extras":
      return service.extras(request.key)
    case "partitions":
      return service.partitions(request.key, { limit: request.limit, after: request.after })
    case "launch":
      return service.launch(request.body)
    case "reexecute":
      return service.reexecute(request.runId)
    case "cancel":
      return service.cancel(request.runId)
    case "query":
      return service.query(request.body)
    case "backfills":
      return service.backfills(request.limit)
    case "backfill":
      return service.backfill(request.backfillId)
    case "launchBackfill":
      return service.launchBackfill(request.body)
    case "cancelBackfill":
      return service.cancelBackfill(request.backfillId)
    case "schedules":
      return service.schedules()
    case "sensors":
      return service.sensors()
    case "automations":
      return service.automations()
    case "freshness":
      return service.freshness()
    case "ticks":
      return service.ticks(request.ref, request.limit)
    case "setStatus":
      return service.setStatus(request.kind, request.name, request.status)
  }
}

/**
 * The schedules, sensors and automation conditions as `materia daemon` reads them (the project's,
 * or the config module's named exports), or why they are invalid: the assets still serve then.
 */
const definitionsIn = async (
  configFile: string,
  project: AnyProject
): Promise<Definitions | { readonly error: string }> => {
  try {
    // The loader's URL: Node returns the module it already evaluated.
    const module = (await import(pathToFileURL(configFile).href)) as Record<string, unknown>
    return definitionsOf(configFile, project, module)
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) }
  }
}

const main = async () => {
  const args = JSON.parse(process.argv[2] ?? "{}") as CodeServerArgs
  const root = dirname(args.configFile)
  let service: ProjectService
  try {
    const loaded = await loadProject(args.configFile)
    // The reader and the service's store (openConfiguredStore) choose the same store from the same inputs.
    const storage = storeLocationOf(loaded.project.storage, process.env)
    const reader = openStoreReader(loaded.root, storage)
    service = await makeProjectService({
      project: loaded.project,
      root: loaded.root,
      definitions: await definitionsIn(args.configFile, loaded.project),
      env: process.env,
      queryTimeoutMillis: args.queryTimeoutMillis,
      watermark: reader.watermark,
      onCatalog: (catalog) => send({ type: "catalog", catalog }),
      emit: (event) => send({ type: "event", event })
    })
    // Before taking over from the previous code server: the server then holds the catalog.
    await service.refresh()
    send({
      type: "ready",
      name: service.name,
      root: loaded.root,
      codeVersion: service.codeVersion,
      storage
    })
  } catch (error) {
    // The loader wraps the import's failure; importing again gives the original error and its stack.
    const original = await import(pathToFileURL(args.configFile).href).then(
      () => error,
      (cause: unknown) => cause
    )
    // Nothing else to do here: exit once the message is out, whatever the project's code left running.
    process.send?.(
      {
        type: "load-error",
        error: loadErrorOf(args.configFile, root, original),
        storage: storeLocationOf(undefined, process.env)
      } satisfies FromChild,
      undefined,
      {},
      () => process.exit(0)
    )
    return
  }
  let retired = false
  let inFlight = 0
  const retire = async () => {
    if (retired) return
    retired = true
    // Exit only once every run has ended and every answer (a cancel's, say) has been sent.
    while (service.activeRuns() > 0 || inFlight > 0) {
      await service.drained()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    process.disconnect?.()
    process.exit(0)
  }
  process.on("message", (message: ToChild) => {
    if (message.type === "retire") {
      void retire()
      return
    }
    const { id, request } = message
    inFlight++
    handle(service, request)
      .then(
        (value) => send({ type: "response", id, ok: true, value }),
        (error: unknown) => send({ type: "response", id, ok: false, error: errorData(error) })
      )
      .finally(() => inFlight--)
  })
  // The server is gone: cancel what runs here (so runs end `canceled`, not dead) and exit.
  process.on("disconnect", () => {
    if (retired) return
    void service.close().finally(() => process.exit(0))
  })
}

await main()
