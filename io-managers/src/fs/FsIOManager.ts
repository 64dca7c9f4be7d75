/**
 * The local-disk IO manager: every value goes to a new, immutable attempt folder
 * `<root>/<asset key path>/<attempt id>/` holding `value.arrow|parquet|bin|json` and `manifest.json`,
 * written under a temporary name, fsynced and renamed, with its sha256 (the data version) computed while writing.
 */
import { createHash } from "node:crypto"
import { openAsBlob } from "node:fs"
import { type FileHandle, mkdir, open, readFile, realpath, rename, rm, rmdir } from "node:fs/promises"
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path"
import {
  type InputContext,
  type IOManager,
  IOManagerError,
  type OutputContext,
  type RecordBatchLike,
  type StoredValue,
  type ValueHandle
} from "@materia/core"
import { type RecordBatch, tableFromIPC } from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  errorCode,
  hashMismatch,
  isSafeSegment,
  isValueFormat,
  MANIFEST,
  sizeMismatch,
  wipeAdvice
} from "../ValueLocation.ts"
import { fileSource } from "./FileSource.ts"
import { verifiedIpcBatches } from "./IpcStreamReader.ts"
import { decodeManifest, extensionOf, type Manifest, ValueFormat } from "./Manifest.ts"
import { parquetBatches, readParquetTable } from "./Parquet.ts"
import {
  decodeJson,
  type EncodedValue,
  encodeValue,
  manifestOf,
  storedValueOf,
  type TableFormat,
  tableFormats
} from "./ValueEncoding.ts"

/** Options of `makeFsIOManager`. */
export interface FsIOManagerOptions {
  /** The folder that holds every value; created on the first write. */
  readonly root: string
  /** The name assets use to pick this IO manager (default `fs`). */
  readonly name?: string
  /**
   * How tables are stored when the asset names no `format`: `arrow` (an Arrow IPC stream, the
   * default) or `parquet`. Other values (bytes, JSON) are stored as they are either way.
   */
  readonly format?: TableFormat
}

type Operation = IOManagerError["operation"]

/** Reads of whole values go this many bytes at a time, hashing one chunk while reading the next. */
const READ_CHUNK = 8 * 1024 * 1024
/** An OS error as `ENOENT: no such file…`, so the code always shows in a reason. */
const describeCause = (cause: unknown): string => {
  const message = cause instanceof Error ? cause.message : String(cause)
  const code = errorCode(cause)
  return code === undefined || message.startsWith(code) ? message : `${code}: ${message}`
}

const isInside = (root: string, path: string): boolean => {
  const rel = relative(root, path)
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)
}

/**
 * Hashes a whole file, reading the next chunk while hashing the current one (two buffers, reused).
 * Reads to the end of the file, however long it has grown.
 */
const hashFile = async (file: FileHandle): Promise<{ readonly bytes: number; readonly sha256: string }> => {
  const hash = createHash("sha256")
  const buffers = [Buffer.allocUnsafeSlow(READ_CHUNK), Buffer.allocUnsafeSlow(READ_CHUNK)] as const
  let bytes = 0
  let turn = 0
  let pending = file.read(buffers[0], 0, READ_CHUNK, 0)
  for (;;) {
    const { bytesRead, buffer } = await pending
    if (bytesRead === 0) break
    bytes += bytesRead
    turn = 1 - turn
    pending = file.read(buffers[turn]!, 0, READ_CHUNK, bytes)
    hash.update(buffer.subarray(0, bytesRead))
  }
  return { bytes, sha256: hash.digest("hex") }
}

/** Steps through a value's chunk groups, made synchronously (Arrow IPC) or asynchronously (Parquet, in wasm). */
const groupsOf = (chunks: EncodedValue["chunks"]) => {
  if (Symbol.asyncIterator in chunks) {
    const groups = chunks[Symbol.asyncIterator]()
    return {
      next: () => groups.next(),
      close: () => {
        groups.return?.(undefined).catch(() => undefined)
      }
    }
  }
  const groups = chunks[Symbol.iterator]()
  return {
    next: async () => groups.next(),
    close: () => {
      groups.return?.(undefined)
    }
  }
}

/** Reads a whole file of `expected` bytes while hashing it; also reports whether it is longer. */
const readHashing = async (file: FileHandle, expected: number) => {
  const buffer = Buffer.allocUnsafeSlow(expected)
  const hash = createHash("sha256")
  const readAt = (offset: number) =>
    file.read(buffer, offset, Math.min(READ_CHUNK, expected - offset), offset).then((r) => r.bytesRead)
  let offset = 0
  let pending = expected > 0 ? readAt(0) : Promise.resolve(0)
  for (;;) {
    const bytesRead = await pending
    if (bytesRead === 0) break
    const start = offset
    offset += bytesRead
    pending = offset < expected ? readAt(offset) : Promise.resolve(0)
    hash.update(buffer.subarray(start, offset))
  }
  let found = offset
  if (offset === expected) {
    const probe = new Uint8Array(READ_CHUNK)
    for (;;) {
      const { bytesRead } = await file.read(probe, 0, probe.byteLength, found)
      if (bytesRead === 0) break
      hash.update(probe.subarray(0, bytesRead))
      found += bytesRead
    }
  }
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, offset)
  return { bytes, found, sha256: hash.digest("hex") }
}

/**
 * Makes the local-disk IO manager. Tables are stored as Arrow IPC streams or Parquet files (the
 * asset's `format`, else `options.format`), `Uint8Array`s as is, other values as JSON (values JSON
 * cannot represent exactly are refused). An asset that names a `format` must produce a table.
 */
export const makeFsIOManager = (options: FsIOManagerOptions): IOManager => {
  const name = options.name ?? "fs"
  const root = resolve(options.root)
  const defaultFormat = options.format ?? "arrow"
  if (!tableFormats.includes(defaultFormat))
    throw new TypeError(
      `makeFsIOManager: format ${JSON.stringify(defaultFormat)} is not a table format (expected ${tableFormats.join(" or ")})`
    )

  const failure = (
    operation: Operation,
    assetKey: string,
    location: string | undefined,
    reason: string,
    cause?: unknown
  ) => new IOManagerError({ ioManager: name, assetKey, operation, location, reason, cause })

  const advice = wipeAdvice

  /** A filesystem call as an effect; failures name what was done to which path, with the OS code. */
  const attempt =
    (operation: Operation, assetKey: string, location: string | undefined) =>
    <A>(what: string, path: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) =>
          cause instanceof IOManagerError
            ? cause
            : failure(
                operation,
                assetKey,
                location,
                `could not ${what} ${path} (${describeCause(cause)})`,
                cause
              )
      })

  /** The attempt folder of a write, checked to stay inside the root. */
  const folderForWrite = (context: OutputContext) => {
    const refuse = (reason: string) => Effect.fail(failure("write", context.assetKey, undefined, reason))
    if (!isSafeSegment(context.attemptId))
      return refuse(
        `attempt id ${JSON.stringify(context.attemptId)} is not a safe folder name (expected a non-empty name without "/", "\\" or "..")`
      )
    if (context.assetPath.length === 0) return refuse("the asset key path is empty")
    const unsafe = context.assetPath.find((segment) => !isSafeSegment(segment))
    if (unsafe !== undefined)
      return refuse(`asset key segment ${JSON.stringify(unsafe)} is not a safe folder name`)
    const folder = resolve(root, ...context.assetPath, context.attemptId)
    if (!isInside(root, folder))
      return refuse(`the attempt folder ${folder} would be outside the root ${root}`)
    return Effect.succeed({ folder, location: [...context.assetPath, context.attemptId].join("/") })
  }

  /** The attempt folder of a handle this manager wrote, checked to stay inside the root. */
  const folderOfHandle = (handle: ValueHandle, assetKey: string, operation: Operation) => {
    const refuse = (reason: string) => Effect.fail(failure(operation, assetKey, handle.location, reason))
    if (handle.ioManager !== name)
      return refuse(`the handle belongs to IO manager "${handle.ioManager}", not "${name}"`)
    if (!isValueFormat(handle.format))
      return refuse(`unknown format "${handle.format}" (expected one of ${ValueFormat.literals.join(", ")})`)
    const segments = handle.location.split("/")
    if (segments.length < 2 || !segments.every(isSafeSegment))
      return refuse("expected a location <asset key path>/<attempt id> of safe folder names")
    const folder = resolve(root, ...segments)
    if (!isInside(root, folder)) return refuse(`the location would be outside the root ${root}`)
    return Effect.succeed({ folder, format: handle.format })
  }

  /** Writes a small file (the manifest) under a temporary name, fsyncs it and renames it. */
  const writeSmallFile = (path: string, text: string, fs: ReturnType<typeof attempt>) =>
    Effect.gen(function* () {
      const tmp = `${path}.tmp`
      yield* Effect.acquireUseRelease(
        fs("create", tmp, () => open(tmp, "wx")),
        (file) =>
          fs("write", tmp, async () => {
            await file.writeFile(text, "utf8")
            await file.sync()
          }),
        (file) => Effect.promise(() => file.close().catch(() => undefined))
      )
      yield* fs("rename", tmp, () => rename(tmp, path))
    })

  /** Makes renames and new entries in `folder` durable (skipped where folders cannot be fsynced). */
  const syncFolder = (folder: string, fs: ReturnType<typeof attempt>) =>
    fs("fsync folder", folder, async () => {
      const dir = await open(folder, "r")
      try {
        await dir.sync()
      } catch (cause) {
        if (!["EISDIR", "EINVAL", "EPERM", "ENOTSUP"].includes(errorCode(cause) ?? "")) throw cause
      } finally {
        await dir.close()
      }
    })

  /** Streams the encoded chunks to `file`, hashing each group while its write is in flight. */
  const writeChunks = (
    file: FileHandle,
    path: string,
    encoded: EncodedValue,
    fs: ReturnType<typeof attempt>,
    fail: (reason: string, cause?: unknown) => IOManagerError
  ) => {
    // Stopping early (a failed write, an interruption) closes the source, freeing what it holds.
    const groups = groupsOf(encoded.chunks)
    return Effect.gen(function* () {
      const hash = createHash("sha256")
      let bytes = 0
      const nextGroup = Effect.tryPromise({
        try: groups.next,
        catch: (cause) =>
          fail(`could not encode the value as ${encoded.format} (${describeCause(cause)})`, cause)
      })
      for (;;) {
        const next = yield* nextGroup
        if (next.done === true) break
        const group = next.value
        const size = group.reduce((total, chunk) => total + chunk.byteLength, 0)
        if (size === 0) continue
        const position = bytes
        const written = yield* fs("write", path, async () => {
          const pending = file.writev(group, position)
          for (const chunk of group) hash.update(chunk)
          return (await pending).bytesWritten
        })
        if (written !== size)
          return yield* Effect.fail(fail(`short write to ${path}: ${written} of ${size} bytes`))
        bytes += size
      }
      yield* fs("fsync", path, () => file.sync())
      return { bytes, sha256: hash.digest("hex") }
    }).pipe(Effect.ensuring(Effect.sync(groups.close)))
  }

  const write = (value: unknown, context: OutputContext): Effect.Effect<StoredValue, IOManagerError> =>
    Effect.gen(function* () {
      const assetKey = context.assetKey
      const { folder, location } = yield* folderForWrite(context)
      const fs = attempt("write", assetKey, location)
      const fail = (reason: string, cause?: unknown) => failure("write", assetKey, location, reason, cause)
      // A format the asset names binds it to tables; the manager's own applies to tables only.
      const named: string | undefined = context.format
      if (named !== undefined && !tableFormats.includes(named as TableFormat))
        return yield* Effect.fail(
          fail(`unknown format ${JSON.stringify(named)} (expected ${tableFormats.join(" or ")})`)
        )
      const encoded = yield* Effect.try({
        try: () =>
          encodeValue(value, {
            tableFormat: context.format ?? defaultFormat,
            tablesOnly: context.format !== undefined
          }),
        catch: (cause) => fail(`could not inspect the value (${describeCause(cause)})`, cause)
      })
      if ("problem" in encoded) return yield* Effect.fail(fail(encoded.problem))
      const parent = dirname(folder)
      yield* fs("create folder", parent, () => mkdir(parent, { recursive: true }))
      const [realRoot, realParent] = yield* fs("resolve", parent, () =>
        Promise.all([realpath(root), realpath(parent)])
      )
      if (!isInside(realRoot, realParent))
        return yield* Effect.fail(
          fail(`folder ${parent} resolves to ${realParent}, outside the root ${realRoot}`)
        )
      yield* Effect.tryPromise({
        try: () => mkdir(folder),
        catch: (cause) =>
          errorCode(cause) === "EEXIST"
            ? fail(
                `attempt folder ${folder} already exists; a stored value is never overwritten, so every write needs a new attempt id`,
                cause
              )
            : fail(`could not create folder ${folder} (${describeCause(cause)})`, cause)
      })
      // From here on the folder is ours: any failure or interruption removes it, leaving no partial value.
      const stored = Effect.gen(function* () {
        const file = `value.${extensionOf[encoded.format]}`
        const path = join(folder, file)
        const tmp = `${path}.tmp`
        const { bytes, sha256 } = yield* Effect.acquireUseRelease(
          fs("create", tmp, () => open(tmp, "wx")),
          (handle) => writeChunks(handle, tmp, encoded, fs, fail),
          (handle) => Effect.promise(() => handle.close().catch(() => undefined))
        )
        yield* fs("rename", tmp, () => rename(tmp, path))
        const manifest = manifestOf(encoded, file, bytes, sha256)
        yield* writeSmallFile(join(folder, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, fs)
        yield* syncFolder(folder, fs)
        yield* syncFolder(parent, fs)
        return storedValueOf(name, location, encoded, sha256, bytes)
      })
      return yield* Effect.onExit(stored, (exit) =>
        Exit.isFailure(exit)
          ? Effect.promise(() => rm(folder, { recursive: true, force: true }).catch(() => undefined))
          : Effect.void
      )
    })

  /**
   * Opens a stored value file (closed with the scope) and reads its manifest; checks the manifest
   * matches the handle and the file's size matches the manifest.
   */
  const openStored = (
    handle: ValueHandle,
    assetKey: string
  ): Effect.Effect<
    { readonly file: FileHandle; readonly manifest: Manifest; readonly path: string },
    IOManagerError,
    Scope.Scope
  > =>
    Effect.gen(function* () {
      const { folder, format } = yield* folderOfHandle(handle, assetKey, "load")
      const location = handle.location
      const fail = (reason: string, cause?: unknown) => failure("load", assetKey, location, reason, cause)
      const fs = attempt("load", assetKey, location)
      const fileName = `value.${extensionOf[format]}`
      const path = join(folder, fileName)
      const missing = (what: string, missingPath: string, cause: unknown) =>
        errorCode(cause) === "ENOENT" || errorCode(cause) === "ENOTDIR"
          ? fail(`${what} ${missingPath} is missing; ${advice(assetKey)}`, cause)
          : fail(`could not read ${missingPath} (${describeCause(cause)})`, cause)
      const file = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => open(path, "r"),
          catch: (cause) => missing("value file", path, cause)
        }),
        (opened) => Effect.promise(() => opened.close().catch(() => undefined))
      )
      const manifestPath = join(folder, MANIFEST)
      const text = yield* Effect.tryPromise({
        try: () => readFile(manifestPath, "utf8"),
        catch: (cause) => missing("manifest", manifestPath, cause)
      })
      const manifest = yield* Effect.mapError(decodeManifest(text), (issue) =>
        fail(`manifest ${manifestPath} is not valid (${issue.message}); ${advice(assetKey)}`, issue)
      )
      if (manifest.format !== format || manifest.file !== fileName)
        return yield* Effect.fail(
          fail(
            `manifest ${manifestPath} describes ${manifest.file} (${manifest.format}), but the handle is for ${fileName} (${format}); ${advice(assetKey)}`
          )
        )
      const { size } = yield* fs("stat", path, () => file.stat())
      if (size !== manifest.bytes)
        return yield* Effect.fail(
          fail(
            `value file ${path} has ${size} bytes, expected ${manifest.bytes} (from its manifest): it changed after it was written; ${advice(assetKey)}`
          )
        )
      return { file, manifest, path }
    })

  const corrupt = (assetKey: string, location: string, path: string, manifest: Manifest, found: string) =>
    failure("load", assetKey, location, hashMismatch(`value file ${path}`, manifest.sha256, found, assetKey))

  const resized = (assetKey: string, location: string, path: string, manifest: Manifest, found: number) =>
    failure("load", assetKey, location, sizeMismatch(`value file ${path}`, manifest.bytes, found, assetKey))

  /**
   * A Parquet file checked against its manifest before parquet-wasm reads a byte of it: the file is
   * hashed in one pass (Parquet is read footer first, so it cannot be hashed as it is decoded), then
   * decoded through a Blob made before that pass, which fails to read if the file changes after.
   */
  const verifiedBlob = (
    file: FileHandle,
    manifest: Manifest,
    path: string,
    assetKey: string,
    location: string
  ): Effect.Effect<Blob, IOManagerError> =>
    Effect.gen(function* () {
      const fs = attempt("load", assetKey, location)
      const blob = yield* fs("open", path, () => openAsBlob(path))
      const { bytes, sha256: found } = yield* fs("read", path, () => hashFile(file))
      if (bytes !== manifest.bytes)
        return yield* Effect.fail(resized(assetKey, location, path, manifest, bytes))
      if (found !== manifest.sha256)
        return yield* Effect.fail(corrupt(assetKey, location, path, manifest, found))
      return blob
    })

  /** A Parquet read; a file changed after it was verified fails as such, anything else as undecodable. */
  const parquetFailure = (path: string, assetKey: string, location: string, cause: unknown) =>
    failure(
      "load",
      assetKey,
      location,
      (cause as { name?: unknown } | null)?.name === "NotReadableError"
        ? `value file ${path} changed while it was read; ${advice(assetKey)}`
        : `value file ${path} does not decode as parquet (${describeCause(cause)}); ${advice(assetKey)}`,
      cause
    )

  const decodeParquet = <A>(path: string, assetKey: string, location: string, read: () => Promise<A>) =>
    Effect.tryPromise({
      try: read,
      catch: (cause) => parquetFailure(path, assetKey, location, cause)
    })

  const load = (handle: ValueHandle, context: InputContext): Effect.Effect<unknown, IOManagerError> =>
    Effect.scoped(
      Effect.gen(function* () {
        const assetKey = context.assetKey
        const location = handle.location
        const { file, manifest, path } = yield* openStored(handle, assetKey)
        if (manifest.format === "parquet") {
          const blob = yield* verifiedBlob(file, manifest, path, assetKey, location)
          return yield* decodeParquet(path, assetKey, location, () => readParquetTable(blob))
        }
        const read = yield* attempt("load", assetKey, location)("read", path, () =>
          readHashing(file, manifest.bytes)
        )
        if (read.found !== manifest.bytes)
          return yield* Effect.fail(resized(assetKey, location, path, manifest, read.found))
        if (read.sha256 !== manifest.sha256)
          return yield* Effect.fail(corrupt(assetKey, location, path, manifest, read.sha256))
        const bytes = read.bytes
        if (manifest.format === "bytes") return bytes
        return yield* Effect.try({
          try: () => (manifest.format === "arrow" ? tableFromIPC(bytes) : decodeJson(bytes)),
          catch: (cause) =>
            failure(
              "load",
              assetKey,
              location,
              `value file ${path} does not decode as ${manifest.format} (${describeCause(cause)}); ${advice(assetKey)}`,
              cause
            )
        })
      })
    )

  /** The record batches of a stored Arrow stream; the file is verified once the reader reaches its end. */
  const verifiedBatches = (
    file: FileHandle,
    manifest: Manifest,
    path: string,
    assetKey: string,
    location: string
  ): AsyncGenerator<RecordBatch> =>
    verifiedIpcBatches(fileSource(file), manifest, {
      resized: (found) => resized(assetKey, location, path, manifest, found),
      corrupt: (found) => corrupt(assetKey, location, path, manifest, found),
      undecodable: (cause) =>
        failure(
          "load",
          assetKey,
          location,
          `value file ${path} does not decode as an Arrow IPC stream (${describeCause(cause)}); ${advice(assetKey)}`,
          cause
        )
    })

  const loadBatches = (
    handle: ValueHandle,
    context: InputContext
  ): Stream.Stream<RecordBatchLike, IOManagerError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const assetKey = context.assetKey
        const location = handle.location
        if (handle.format !== "arrow" && handle.format !== "parquet")
          return yield* Effect.fail(
            failure(
              "load",
              assetKey,
              location,
              `expected an Arrow table to stream as record batches, found a value stored as ${handle.format}`
            )
          )
        const { file, manifest, path } = yield* openStored(handle, assetKey)
        if (manifest.format === "parquet") {
          const blob = yield* verifiedBlob(file, manifest, path, assetKey, location)
          return Stream.fromAsyncIterable(parquetBatches(blob), (cause) =>
            parquetFailure(path, assetKey, location, cause)
          )
        }
        return Stream.fromAsyncIterable(
          verifiedBatches(file, manifest, path, assetKey, location),
          (cause): IOManagerError =>
            cause instanceof IOManagerError
              ? cause
              : failure("load", assetKey, location, `could not read ${path} (${describeCause(cause)})`, cause)
        )
      })
    )

  const remove = (handle: ValueHandle): Effect.Effect<void, IOManagerError> =>
    Effect.gen(function* () {
      const segments = handle.location.split("/")
      const assetKey = segments.length > 1 ? segments.slice(0, -1).join("/") : handle.location
      const { folder, format } = yield* folderOfHandle(handle, assetKey, "delete")
      const fs = attempt("delete", assetKey, handle.location)
      const value = `value.${extensionOf[format]}`
      // Only the files this manager writes are removed, then the (now empty) folder: a handle can
      // never remove anything else, such as the folder of a whole asset.
      for (const entry of [value, `${value}.tmp`, MANIFEST, `${MANIFEST}.tmp`]) {
        const path = join(folder, entry)
        yield* fs("remove", path, () => rm(path, { force: true }))
      }
      yield* Effect.tryPromise({
        // Deleting a value that is already gone succeeds: retention may run twice.
        try: () =>
          rmdir(folder).catch((cause: unknown) => {
            if (errorCode(cause) !== "ENOENT") throw cause
          }),
        catch: (cause) =>
          failure(
            "delete",
            assetKey,
            handle.location,
            errorCode(cause) === "ENOTEMPTY"
              ? `folder ${folder} holds files the ${name} IO manager did not write; remove it by hand`
              : `could not remove folder ${folder} (${describeCause(cause)})`,
            cause
          )
      })
    })

  return { name, write, load, loadBatches, delete: remove }
}
