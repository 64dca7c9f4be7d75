/**
 * `materia dev` as a function: starts the code server of a project, the backend over it and its
 * local store, and one HTTP server (hono on @hono/node-server) for the API and the UI. Tests and
 * the bench start it in process; the CLI command wraps it.
 */
import type { AddressInfo } from "node:net"
import { hostname, networkInterfaces } from "node:os"
import { fileURLToPath } from "node:url"
import { serve } from "@hono/node-server"
import type { Hono } from "hono"
import { makeApp } from "../http/App.ts"
import { generateToken } from "../http/Security.ts"
import { type DaemonSupervisor, makeDaemonSupervisor } from "./DaemonSupervisor.ts"
import { makeDevBackend } from "./DevBackend.ts"
import { startSupervisor } from "./Supervisor.ts"

/** Where the UI engineer's build puts the UI. */
export const UI_DIST = fileURLToPath(new URL("../../ui/dist", import.meta.url))

export interface DevServerOptions {
  /** The project's module (`materia.config.ts`). */
  readonly configFile: string
  /** Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Default 3000; 0 picks a free port. */
  readonly port?: number | undefined
  /** Default: a random one (the caller prints the URL). */
  readonly token?: string | undefined
  readonly uiDir?: string
  readonly queryTimeoutMillis?: number | undefined
  readonly log?: ((line: string) => void) | undefined
  /**
   * Runs `materia daemon` for the project as a supervised child (restarted when the project
   * reloads), with these extra options (`["--tick-interval", "500"]`); none when unset.
   */
  readonly daemon?: { readonly options?: ReadonlyArray<string> | undefined } | undefined
}

export interface DevServer {
  readonly host: string
  readonly port: number
  /** `http://host:port` */
  readonly url: string
  readonly token: string
  /** The URL that gives a browser the token cookie. */
  readonly authUrl: string
  readonly reload: () => Promise<void>
  /** Stops the HTTP server, the code servers (their runs are canceled) and the daemon. */
  readonly close: () => Promise<void>
}

/** Listening on every interface: the machine's host name and addresses are its names too. */
const machineNames = (host: string): ReadonlyArray<string> => {
  if (host !== "0.0.0.0" && host !== "::") return []
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))
  return [hostname(), ...addresses]
}

const urlHost = (host: string): string => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)

/** Starts the server; resolves once it listens. */
export const startDevServer = async (options: DevServerOptions): Promise<DevServer> => {
  const host = options.host ?? "127.0.0.1"
  const token = options.token ?? generateToken()
  const supervisor = startSupervisor({
    configFile: options.configFile,
    queryTimeoutMillis: options.queryTimeoutMillis,
    log: options.log
  })
  const daemon: DaemonSupervisor | undefined =
    options.daemon === undefined
      ? undefined
      : makeDaemonSupervisor({
          configFile: options.configFile,
          options: options.daemon.options,
          log: options.log
        })
  // The daemon reads the definitions when it starts: it starts once the project has loaded, and
  // again after each reload that loaded; a project that fails to load keeps the daemon it had.
  const unsubscribe = supervisor.subscribe((message) => {
    if (message.type !== "project-reloaded") return
    if (message.data.loadError === null) void daemon?.restart()
    else
      daemon?.notStarted(
        `the project failed to load (${message.data.loadError.message}); the daemon starts once it loads`
      )
  })
  const backend = makeDevBackend(supervisor, { daemon })
  const closeBackend = async () => {
    unsubscribe()
    await Promise.all([backend.close(), daemon?.close()])
  }
  let app: Hono | undefined
  const server = serve({
    fetch: (request, env) => app!.fetch(request, env),
    hostname: host,
    port: options.port ?? 3000
  })
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve)
    server.once("error", reject)
  }).catch(async (error: unknown) => {
    await closeBackend()
    throw error
  })
  const port = (server.address() as AddressInfo).port
  app = makeApp({
    backend,
    token,
    host,
    port,
    hostNames: machineNames(host),
    uiDir: options.uiDir ?? UI_DIST
  })
  const url = `http://${urlHost(host)}:${port}`
  return {
    host,
    port,
    url,
    token,
    authUrl: `${url}/auth?token=${encodeURIComponent(token)}`,
    reload: supervisor.reload,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // SSE clients hold connections open: end them so that close completes.
      ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      await Promise.all([closed, closeBackend()])
    }
  }
}
