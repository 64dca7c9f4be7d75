/**
 * The daemon child of `materia dev`: runs `materia daemon --project <file>` in its own process
 * (so neither a crash of the daemon nor a run's body can take the server down) and sends every
 * line it prints to the server over IPC. It stops like `materia daemon` on Ctrl-C — releasing
 * the lease, leaving launched runs to be adopted — on SIGINT or SIGTERM, and also when the server
 * is gone (the IPC channel closes), so a killed server never leaves a daemon behind.
 *
 * Started as `node --import tsx DaemonChild.ts <DaemonChildArgs as JSON>` with an IPC channel.
 */
import { runCli } from "../cli/Cli.ts"

/** How the child is started. */
export interface DaemonChildArgs {
  readonly configFile: string
  /** More `materia daemon` options (`--tick-interval 500`). */
  readonly options: ReadonlyArray<string>
}

/** What the child sends: each line the daemon prints, then its exit code. */
export type FromDaemon =
  | { readonly type: "line"; readonly stream: "out" | "err"; readonly text: string }
  | { readonly type: "done"; readonly code: number }

const send = (message: FromDaemon): void => {
  if (process.connected) process.send?.(message)
}

const args = JSON.parse(process.argv[2] ?? "{}") as DaemonChildArgs
const controller = new AbortController()
const stop = () => controller.abort()
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
process.on("disconnect", stop)

const code = await runCli(["daemon", "--project", args.configFile, ...args.options], {
  cwd: process.cwd(),
  output: {
    stdout: process.stdout,
    out: (text) => send({ type: "line", stream: "out", text }),
    err: (text) => send({ type: "line", stream: "err", text })
  },
  signal: controller.signal
})
// Exit once the last lines are out (the channel may already be closed).
if (process.connected)
  process.send?.({ type: "done", code } satisfies FromDaemon, undefined, {}, () => process.exit(code))
else process.exit(code)
