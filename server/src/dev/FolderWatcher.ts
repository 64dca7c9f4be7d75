/**
 * Watches a project folder for code changes: one `fs.watch` per directory (inotify-style watches on
 * folders survive editors that replace files by renaming), skipping dot-folders, node_modules and
 * build output, and calling back (debounced) when a code file (.ts, .js, .json…) changes. New
 * folders are picked up on the next change.
 */
import { type Dirent, type FSWatcher, readdirSync, watch } from "node:fs"
import { join } from "node:path"

/** Folder names never watched: the store, dependencies, VCS and other dot-folders, build output. */
const IGNORED_DIR = /^(\..*|node_modules|dist|build)$/
/** Only code changes count: data files the assets write do not. */
const CODE_FILE = /\.(ts|tsx|mts|cts|js|mjs|cjs|json)$/
const MAX_DIRS = 2000

export interface FolderWatcher {
  readonly close: () => void
}

/** Starts watching `root`; `onChange` runs `debounceMillis` after the last change. */
export const watchFolder = (
  root: string,
  onChange: () => void,
  options: { readonly debounceMillis: number; readonly onError: (error: Error) => void }
): FolderWatcher => {
  const watchers = new Map<string, FSWatcher>()
  let timer: NodeJS.Timeout | undefined
  let closed = false
  const changed = () => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      if (closed) return
      rescan()
      onChange()
    }, options.debounceMillis)
  }
  let rescanTimer: NodeJS.Timeout | undefined
  const rescanSoon = () => {
    clearTimeout(rescanTimer)
    rescanTimer = setTimeout(() => {
      if (!closed) rescan()
    }, options.debounceMillis)
  }
  const add = (dir: string) => {
    if (watchers.has(dir) || watchers.size >= MAX_DIRS) return
    try {
      const watcher = watch(dir, (_event, file) => {
        const name = file?.toString()
        if (name === undefined || CODE_FILE.test(name)) changed()
        else if (!IGNORED_DIR.test(name)) rescanSoon() // maybe a new folder: watch it
      })
      watcher.on("error", () => {
        watcher.close()
        watchers.delete(dir)
      })
      watchers.set(dir, watcher)
    } catch (error) {
      if (dir === root) options.onError(error as Error)
      return
    }
    let entries: Array<Dirent>
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries)
      if (entry.isDirectory() && !IGNORED_DIR.test(entry.name)) add(join(dir, entry.name))
  }
  const rescan = () => add(root)
  rescan()
  return {
    close: () => {
      closed = true
      clearTimeout(timer)
      clearTimeout(rescanTimer)
      for (const watcher of watchers.values()) watcher.close()
      watchers.clear()
    }
  }
}
