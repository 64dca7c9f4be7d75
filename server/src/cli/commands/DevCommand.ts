/**
 * `materia dev [--host H] [--port P] [--project FILE] [--no-daemon]`: serves the HTTP API and the
 * web UI of a project until Ctrl-C. The project's code runs in a child process that restarts when
 * its files change; `materia daemon` runs in another (restarted with it) so schedules and sensors
 * tick. Prints the URL with the token (MATERIA_TOKEN, or a generated one).
 */
import { dirname } from "node:path"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { findConfig } from "../ProjectLoader.ts"

export const devCommand: Command = {
  name: "dev",
  usage: `materia dev [--host H] [--port P] [--project FILE] [--no-daemon]

  --host H             the address to listen on (default 127.0.0.1)
  --port P             the port (default 3000; 0 picks a free one)
  --query-timeout MS   SQL queries running longer are interrupted (default 30000)
  --tick-interval MS   the daemon's time between ticks (default 1000)
  --no-daemon          do not run \`materia daemon\` beside the server (schedules and sensors
                       then tick only if a daemon runs elsewhere; start/stop still record)
  --project FILE       the project module (default: the nearest materia.config.ts)

The token of mutating endpoints and SQL is MATERIA_TOKEN, or a random one; the printed URL
(/auth?token=…) gives a browser the cookie. Runs use the project's .materia/ store.`,
  run: async (args, context) => {
    const { values } = parseOptions("dev", args, {
      host: { type: "string" },
      port: { type: "string" },
      "query-timeout": { type: "string" },
      "tick-interval": { type: "string" },
      "no-daemon": { type: "boolean" },
      project: { type: "string" }
    })
    const port = values.port === "0" ? 0 : (positiveInt("dev", "port", values.port) ?? 3000)
    if (port > 65_535)
      throw new UsageError({
        message: `materia dev: --port expects a port (0–65535), found "${values.port}"`
      })
    const queryTimeoutMillis = positiveInt("dev", "query-timeout", values["query-timeout"])
    const tickInterval = positiveInt("dev", "tick-interval", values["tick-interval"])
    if (values["no-daemon"] === true && tickInterval !== undefined)
      throw new UsageError({
        message: "materia dev: --tick-interval sets the daemon's interval; drop it or --no-daemon"
      })
    const configFile = findConfig(values.project, context.cwd)
    const { startDevServer } = await import("../../dev/DevServer.ts")
    const host = values.host ?? "127.0.0.1"
    const server = await startDevServer({
      configFile,
      host,
      port,
      token: process.env.MATERIA_TOKEN || undefined,
      queryTimeoutMillis,
      daemon:
        values["no-daemon"] === true
          ? undefined
          : { options: tickInterval === undefined ? [] : ["--tick-interval", String(tickInterval)] },
      log: (line) => context.output.err(line)
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE" || error.code === "EACCES" || error.code === "EADDRNOTAVAIL")
        throw new UsageError({
          message: `materia dev: cannot listen on ${host}:${port} (${error.code}: ${error.message}); pick another --port (0 picks a free one) or --host`
        })
      throw error
    })
    context.output.out(`materia dev: serving ${dirname(configFile)} at ${server.url}`)
    context.output.out(`Open ${server.authUrl}`)
    await new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve()
      context.signal.addEventListener("abort", () => resolve(), { once: true })
    })
    context.output.err("materia dev: stopping (runs in flight are canceled, the daemon stops)")
    await server.close()
    return ExitCode.Ok
  }
}
