/**
 * What the browser tests (and the UI benchmark) need: the web UI built (`server/ui/dist`, rebuilt
 * when a source is newer), a real `materia dev` child process on a free port serving a project
 * folder, and Debian's Chromium driven by playwright-core with a fresh profile. No browser is ever
 * downloaded: Chromium comes from `apt-get install chromium` (/usr/bin/chromium).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { type BrowserContext, chromium } from "playwright-core"
import { afterAll, beforeAll } from "vitest"

const REPO = resolve(import.meta.dirname, "../../..")
const BIN = join(REPO, "server/bin/materia.mjs")
const UI = join(REPO, "server/ui")
const FIXTURES = join(import.meta.dirname, "fixtures")
const TMP = join(REPO, "test/.tmp")

/** Debian's Chromium; `.ci/run` installs it when missing. */
export const CHROMIUM = "/usr/bin/chromium"

/** A guard against a hung browser or server, not a timing assertion (builds and starts take seconds). */
export const BROWSER_TEST_TIMEOUT = 300_000

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

const newestMtime = (path: string): number => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

const uiIsFresh = (): boolean => {
  const index = join(UI, "dist/index.html")
  const sources = Math.max(
    newestMtime(join(UI, "src")),
    newestMtime(join(UI, "index.html")),
    newestMtime(join(UI, "vite.config.ts"))
  )
  return existsSync(index) && statSync(index).mtimeMs >= sources
}

const buildUi = (): void => {
  const vite = join(REPO, "node_modules/vite/bin/vite.js")
  const build = spawnSync(process.execPath, [vite, "build", "--config", join(UI, "vite.config.ts")], {
    cwd: REPO,
    encoding: "utf8",
    // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
    env: { ...process.env, NODE_ENV: "production" }
  })
  if (build.status !== 0)
    throw new Error(
      `vite build of server/ui failed (exit ${build.status}):\n${build.stdout}\n${build.stderr}`
    )
}

/** A lock older than this was left by a killed process. */
const STALE_LOCK_MILLIS = 300_000

/**
 * Builds the UI with Vite unless `server/ui/dist/index.html` is newer than every source
 * (`src/`, `index.html`, `vite.config.ts`). Test files run in parallel: a lock folder lets one
 * build while the others wait for it. Throws with Vite's output when the build fails.
 */
export const ensureUiBuilt = async (): Promise<void> => {
  const lock = join(TMP, "ui-build.lock")
  await mkdir(TMP, { recursive: true })
  for (;;) {
    if (uiIsFresh()) return
    try {
      mkdirSync(lock)
    } catch {
      const held = statSync(lock, { throwIfNoEntry: false })
      if (held !== undefined && Date.now() - held.mtimeMs > STALE_LOCK_MILLIS)
        rmSync(lock, { recursive: true, force: true })
      await sleep(100)
      continue
    }
    try {
      if (!uiIsFresh()) buildUi()
    } finally {
      rmSync(lock, { recursive: true, force: true })
    }
    return
  }
}

/** A running `materia dev`. */
export interface DevServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly token: string
  readonly child: ChildProcess
  /** Everything it printed so far, for failure messages. */
  readonly output: () => string
  /** Stops it (Ctrl-C, then SIGKILL if it does not exit) and waits for its exit. */
  readonly stop: () => Promise<void>
}

/**
 * Starts `materia dev --port 0` in `cwd` with MATERIA_TOKEN set, and resolves once it printed its
 * URL; rejects with its output if it exits first.
 */
export const startDev = (
  cwd: string,
  token: string,
  extraArgs: ReadonlyArray<string> = []
): Promise<DevServer> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, "dev", "--port", "0", ...extraArgs], {
      cwd,
      env: {
        ...process.env,
        MATERIA_TOKEN: token,
        NO_COLOR: "1",
        npm_command: undefined,
        INIT_CWD: undefined
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let started = false
    const exited = new Promise<void>((resolveExit) => child.on("close", () => resolveExit()))
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill("SIGINT")
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
      await exited
      clearTimeout(timer)
    }
    const onData = (chunk: string) => {
      output += chunk
      const match = /Open (http:\/\/[^\s/]+)\/auth\?token=/.exec(output)
      if (!started && match !== null) {
        started = true
        done({ url: match[1]!, token, child, output: () => output, stop })
      }
    }
    child.stdout?.setEncoding("utf8").on("data", onData)
    child.stderr?.setEncoding("utf8").on("data", onData)
    child.on("error", fail)
    child.on("close", (code, signal) => {
      if (!started) fail(new Error(`materia dev exited (${code ?? signal}) before serving:\n${output}`))
    })
  })

/** A project folder under test/.tmp/ whose materia.config.ts is a copy of `fixtures/<fixture>`. */
export const makeProject = async (
  fixture: string
): Promise<{ root: string; remove: () => Promise<void> }> => {
  await mkdir(TMP, { recursive: true })
  const root = await mkdtemp(join(TMP, "browser-"))
  await writeFile(join(root, "materia.config.ts"), await readFile(join(FIXTURES, fixture), "utf8"))
  return { root, remove: () => rm(root, { recursive: true, force: true }) }
}

/** Chromium with a fresh profile folder (removed by `close`). */
export const launchChromium = async (): Promise<{
  context: BrowserContext
  /** The profile folder (`--user-data-dir`): it names this browser's processes. */
  profile: string
  close: () => Promise<void>
}> => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)`)
  const profile = mkdtempSync(join(tmpdir(), "materia-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 }
  })
  return {
    context,
    profile,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

/** A project served by `materia dev` and a Chromium, shared by the tests of one describe block. */
export interface DevSession {
  readonly dev: DevServer
  readonly project: { readonly root: string; readonly remove: () => Promise<void> }
  readonly browser: Awaited<ReturnType<typeof launchChromium>>
}

/**
 * Registers, in the calling describe block, the setup of a DevSession (the UI built, a project from
 * `fixtures/<fixture>`, `materia dev` on it with `token`, Chromium) before its tests and the
 * teardown after them. Read the returned session's fields inside tests only.
 */
export const devSession = (
  fixture: string,
  token: string,
  devArgs: ReadonlyArray<string> = []
): DevSession => {
  let current: Partial<{ -readonly [K in keyof DevSession]: DevSession[K] }> = {}
  beforeAll(async () => {
    await ensureUiBuilt()
    current.project = await makeProject(fixture)
    current.dev = await startDev(current.project.root, token, devArgs)
    current.browser = await launchChromium()
    current.browser.context.setDefaultTimeout(120_000)
  }, BROWSER_TEST_TIMEOUT)
  afterAll(async () => {
    await current.browser?.close()
    await current.dev?.stop()
    await current.project?.remove()
    current = {}
  })
  const field = <K extends keyof DevSession>(name: K): DevSession[K] => {
    const value = current[name]
    if (value === undefined) throw new Error(`the dev session's ${name} is read before its setup ran`)
    return value as DevSession[K]
  }
  return {
    get dev() {
      return field("dev")
    },
    get project() {
      return field("project")
    },
    get browser() {
      return field("browser")
    }
  }
}
