/**
 * The web UI's static files (`server/ui/dist`, built by `npm run build:ui -w server`). The folder
 * is listed once into a table of URL path → file, and requests are answered from that table only:
 * no file path is ever built from a request. Unknown paths get `index.html` (a single-page app);
 * when the UI is not built, a small page says how to build it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { extname, join, relative, sep } from "node:path"

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8"
}

/** One file of the UI, read into memory. */
export interface UiFile {
  readonly body: Uint8Array
  readonly type: string
  /** Vite's hashed assets never change: cache them for long. */
  readonly immutable: boolean
}

export interface StaticUi {
  /** The file for a URL path (`/`, `/assets/index-3f2a.js`); `index.html` for unknown paths. */
  readonly get: (urlPath: string) => UiFile
  readonly built: boolean
}

const MAX_FILES = 10_000

const listFiles = (dir: string): Map<string, string> => {
  const files = new Map<string, string>()
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (files.size >= MAX_FILES) return
      const path = join(folder, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile()) files.set(`/${relative(dir, path).split(sep).join("/")}`, path)
    }
  }
  walk(dir)
  return files
}

const notBuiltPage = (dir: string): UiFile => ({
  body: new TextEncoder().encode(
    `<!doctype html><html><head><meta charset="utf-8"><title>Materia</title></head><body>
<h1>Materia</h1><p>The web UI is not built (no <code>${dir}/index.html</code>).</p>
<p>Build it with <code>npm run build:ui -w server</code>, then reload this page.
The HTTP API is served under <a href="/api/v1/openapi.json">/api/v1</a>.</p></body></html>`
  ),
  type: TYPES[".html"]!,
  immutable: false
})

/** Loads the UI from `dir`; a missing or incomplete build gives the "not built" page for every path. */
export const loadStaticUi = (dir: string): StaticUi => {
  let files = new Map<string, UiFile>()
  try {
    if (statSync(join(dir, "index.html")).isFile())
      for (const [urlPath, path] of listFiles(dir))
        files.set(urlPath, {
          body: readFileSync(path),
          type: TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
          immutable: urlPath.startsWith("/assets/")
        })
  } catch {
    files = new Map()
  }
  const index = files.get("/index.html") ?? notBuiltPage(dir)
  return {
    built: files.size > 0,
    get: (urlPath) => files.get(urlPath) ?? index
  }
}
