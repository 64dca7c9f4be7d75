/**
 * `materia dev` as a real process for the server tests: starts it on a free port in a temporary
 * project (TempProject), reads the URL and token it prints, and gives a JSON client and a
 * Server-Sent Events reader for its API.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { type CliProcess, type CliResult, makeTempProject, type TempProject } from "../cli/TempProject.ts"

/** One Server-Sent Event. */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

/** A live SSE connection: the events so far, waiting for one, and closing. */
export interface SseStream {
  readonly events: ReadonlyArray<SseEvent>
  /** Resolves with the first event (already received or to come) that `match` accepts. */
  readonly waitFor: (match: (event: SseEvent) => boolean, what: string) => Promise<SseEvent>
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>
  readonly close: () => void
}

export interface DevProcess {
  readonly project: TempProject
  readonly cli: CliProcess
  readonly url: string
  readonly token: string
  /** Sends a request (with the token unless `auth: false`) and returns the status and the JSON body. */
  readonly api: <T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options?: { readonly auth?: boolean }
  ) => Promise<{ readonly status: number; readonly body: T }>
  readonly sse: (path: string, headers?: Record<string, string>) => Promise<SseStream>
  /** Polls `GET path` until `done` accepts its body (a poll, not a timing assertion). */
  /** What the server printed on stderr so far (reloads, load errors). */
  readonly stderr: () => string
  readonly until: <T>(path: string, done: (body: T) => boolean, what: string) => Promise<T>
}

/** Starts `materia dev --port 0 ...args` in a temporary copy of `fixture`. */
export const startDev = async (
  fixture: string,
  onTestFinished: Parameters<typeof makeTempProject>[1],
  args: ReadonlyArray<string> = []
): Promise<DevProcess> => {
  const project = await makeTempProject(fixture, onTestFinished)
  return attachDev(project, project.start("dev", "--port", "0", ...args))
}

/** Waits for a started `materia dev` to print its URL, then wraps it. */
export const attachDev = async (project: TempProject, cli: CliProcess): Promise<DevProcess> => {
  let ended: CliResult | undefined
  void cli.result.then((r) => {
    ended = r
  })
  let stdout = ""
  let stderr = ""
  cli.child.stdout?.on("data", (chunk: Buffer | string) => {
    stdout += chunk.toString()
  })
  cli.child.stderr?.on("data", (chunk: Buffer | string) => {
    stderr += chunk.toString()
  })
  const printed = () => /Open (http:\/\/[^/\s]+)\/auth\?token=(\S+)/.exec(stdout)
  for (let match = printed(); match === null; match = printed()) {
    if (ended !== undefined)
      throw new Error(
        `materia dev exited (${ended.code ?? ended.signal}) before serving:\n${ended.stdout}\n${ended.stderr}`
      )
    await sleep(50)
  }
  const match = printed()!
  const url = match[1]!
  const token = decodeURIComponent(match[2]!)
  const api: DevProcess["api"] = async (method, path, body, options = {}) => {
    const headers: Record<string, string> = {}
    if (options.auth !== false) headers.Authorization = `Bearer ${token}`
    if (body !== undefined) headers["Content-Type"] = "application/json"
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
    })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, body: parsed as never }
  }
  const sse = async (path: string, headers: Record<string, string> = {}): Promise<SseStream> => {
    const controller = new AbortController()
    const response = await fetch(`${url}${path}`, {
      headers: { Authorization: `Bearer ${token}`, ...headers },
      signal: controller.signal
    })
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`)
    const events: Array<SseEvent> = []
    const waiters = new Set<() => void>()
    const ended = (async () => {
      const decoder = new TextDecoder()
      let buffer = ""
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true })
          for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, cut)
            buffer = buffer.slice(cut + 2)
            let event = "message"
            const data: Array<string> = []
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) event = line.slice(6).trim()
              else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""))
            }
            if (data.length > 0) events.push({ event, data: data.join("\n") })
            for (const wake of waiters) wake()
          }
        }
      } catch {
        // Aborted by close().
      }
      for (const wake of waiters) wake()
    })()
    let done = false
    void ended.then(() => {
      done = true
    })
    return {
      events,
      ended,
      close: () => controller.abort(),
      waitFor: async (match, what) => {
        for (;;) {
          const found = events.find(match)
          if (found !== undefined) return found
          if (done)
            throw new Error(
              `the stream ${path} ended without ${what}; got:\n${events.map((e) => `${e.event} ${e.data}`).join("\n")}`
            )
          await new Promise<void>((resolve) => {
            const wake = () => {
              waiters.delete(wake)
              resolve()
            }
            waiters.add(wake)
          })
        }
      }
    }
  }
  const until: DevProcess["until"] = async <T>(path: string, done: (body: T) => boolean, what: string) => {
    for (let polls = 0; ; polls++) {
      const { status, body } = await api<T>("GET", path)
      if (status === 200 && done(body)) return body
      if (ended !== undefined) throw new Error(`materia dev exited while waiting for ${what}`)
      if (polls > 6000)
        throw new Error(`gave up waiting for ${what}; last answer ${status} ${JSON.stringify(body)}`)
      await sleep(50)
    }
  }
  return { project, cli, url, token, api, sse, until, stderr: () => stderr }
}

/** The parsed `data` of an SSE event. */
export const dataOf = <
  T = { seq: number; event: { _tag: string; runId: string; key?: string } & Record<string, unknown> }
>(
  event: SseEvent
): T => JSON.parse(event.data) as T
