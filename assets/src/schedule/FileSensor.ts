/**
 * A built-in sensor: new files under a local folder. Each file launches one run, once (its path
 * relative to the folder is the run key), tagged with the file's path; the cursor is the newest
 * modification time seen, so old files are not listed again.
 */
import { type Dirent, readdirSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import type * as Duration from "effect/Duration"
import type { RunRequest } from "./RunRequest.ts"
import type { DefaultStatus } from "./Schedule.ts"
import { type SensorDefinition, sensor } from "./Sensor.ts"

/** Options of `newFilesSensor`. */
export interface NewFilesOptions {
  /** The folder watched, recursively. */
  readonly folder: string
  /** The targets of each file's run, in selection syntax. */
  readonly select: string | ReadonlyArray<string>
  /** Only files whose path relative to the folder matches (e.g. `/\.csv$/`). */
  readonly pattern?: RegExp | undefined
  /** The partitions of a file's run (e.g. a date taken from its name); none by default. */
  readonly partitionsOf?: ((path: string) => ReadonlyArray<string>) | undefined
  /** 30 seconds by default. */
  readonly interval?: Duration.Input | undefined
  readonly defaultStatus?: DefaultStatus | undefined
}

interface Found {
  readonly path: string
  readonly mtime: number
}

const list = (folder: string, root: string, out: Array<Found>): void => {
  let entries: Array<Dirent>
  try {
    entries = readdirSync(folder, { withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && folder === root) return
    throw error
  }
  for (const entry of entries) {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) list(path, root, out)
    else if (entry.isFile()) out.push({ path: relative(root, path), mtime: statSync(path).mtimeMs })
  }
}

/**
 * A sensor launching a run for each new file under `folder`.
 * @example
 * export const sensors = [newFilesSensor("exports", { folder: "/data/exports", pattern: /\.csv$/, select: "orders" })]
 */
export const newFilesSensor = (name: string, options: NewFilesOptions): SensorDefinition =>
  sensor(name, {
    interval: options.interval ?? "30 seconds",
    ...(options.defaultStatus === undefined ? {} : { defaultStatus: options.defaultStatus }),
    evaluate: ({ cursor }) => {
      const since = cursor === undefined ? Number.NEGATIVE_INFINITY : Number(cursor)
      const found: Array<Found> = []
      list(options.folder, options.folder, found)
      // `>=`: a file written in the same millisecond as the cursor is not missed; run keys drop repeats.
      const fresh = found
        .filter((f) => f.mtime >= since && (options.pattern === undefined || options.pattern.test(f.path)))
        .sort((a, b) => a.mtime - b.mtime || (a.path < b.path ? -1 : 1))
      if (fresh.length === 0) return { skipReason: `no new file under ${options.folder}` }
      const runRequests: Array<RunRequest> = fresh.map((f) => ({
        select: options.select,
        runKey: f.path,
        tags: { "materia/file": join(options.folder, f.path) },
        ...(options.partitionsOf === undefined ? {} : { partitions: options.partitionsOf(f.path) })
      }))
      return { runRequests, cursor: String(fresh.at(-1)!.mtime) }
    }
  })
