/**
 * The daemon child of `materia dev`: runs `materia daemon --project <file>` in its own process
 * (so neither a crash of the daemon nor a run's body can take the server down) and sends every
 * line it prints to the server over IPC, and, every second, who holds the store's lease (read from
 * the daemon store, `DaemonStore.lease`). It stops like `materia daemon` on Ctrl-C — releasing
 * the lease, leaving launched runs to be adopted — on SIGINT or SIGTERM, and also when the server
 * is gone (the IPC channel closes), so a killed server never leaves a daemon behind.
 *
 * Started as `node --import tsx DaemonChild.ts <DaemonChildArgs as JSON>` with an IPC channel.
 */
import * as Effect from "effect/Effect"
import { runCli } from "../cli/Cli.ts"
import { loadProject } from "../cli/ProjectLoader.ts"
import type { DaemonStore } from "../daemon/DaemonStore.ts"
import { openDaemonStore } from "../daemon/OpenDaemonStore.ts"
import { thisHost } from "../daemon/RunLauncher.ts"

/** How often the child reads the lease. */
const LEASE_POLL_MILLIS = 1000

/** How the child is started. */
export interface DaemonChildArgs {
  readonly configFile: string
  /** More `materia daemon` options (`--tick-interval 500`). */
  readonly options: ReadonlyArray<string>
}

/**
 * What the child sends: each line the daemon prints, the store's lease each time it is read
 * (`mine`: held by this child's daemon; `holder` null: nobody holds it), then its exit code.
 */
export type FromDaemon =
  | { readonly type: "line"; readonly stream: "out" | "err"; readonly text: string }
  | {
      readonly type: "lease"
      readonly holder: string | null
      readonly expiresAt: number | null
      readonly mine: boolean
      readonly at: number
    }
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

/**
 * Reads the lease every second from its own handle on the daemon store, until stopped. The daemon
 * in this process holds it as `<host>:<this pid>:<nonce>`. A store that does not open yet (the
 * project does not load) is tried again; the daemon itself reports why it cannot start.
 */
const watchLease = async (): Promise<void> => {
  const mine = `${thisHost()}:${process.pid}:`
  let store: DaemonStore | undefined
  while (!controller.signal.aborted) {
    try {
      if (store === undefined) {
        const loaded = await loadProject(args.configFile)
        store = await openDaemonStore(loaded.root, loaded.project.storage, process.env)
      }
      const lease = await Effect.runPromise(store.lease())
      send({
        type: "lease",
        holder: lease?.holder ?? null,
        expiresAt: lease?.expiresAt ?? null,
        mine: lease?.holder.startsWith(mine) === true,
        at: Date.now()
      })
    } catch {
      // Not readable now (a store being migrated, a database restarting): read again next time.
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        controller.signal.removeEventListener("abort", done)
        resolve()
      }
      const timer = setTimeout(done, LEASE_POLL_MILLIS)
      controller.signal.addEventListener("abort", done, { once: true })
    })
  }
  if (store !== undefined) await Effect.runPromise(store.close())
}
const watching = watchLease()

const code = await runCli(["daemon", "--project", args.configFile, ...args.options], {
  cwd: process.cwd(),
  output: {
    stdout: process.stdout,
    out: (text) => send({ type: "line", stream: "out", text }),
    err: (text) => send({ type: "line", stream: "err", text })
  },
  signal: controller.signal
})
controller.abort()
await watching
// Exit once the last lines are out (the channel may already be closed).
if (process.connected)
  process.send?.({ type: "done", code } satisfies FromDaemon, undefined, {}, () => process.exit(code))
else process.exit(code)
