/**
 * The S3 IO manager: the local-disk layout and formats on an S3 bucket. Every value goes to its own
 * key `<prefix>/<asset key path>/<attempt id>/value.arrow|parquet|bin|json`, streamed through
 * lib-storage's multipart `Upload` while its sha256 (the data version) is computed, then `manifest.json`.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { createHash, randomUUID } from "node:crypto"
import { openAsBlob } from "node:fs"
import { mkdir, mkdtemp, open, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Readable } from "node:stream"
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  S3Client,
  type S3ClientConfig
} from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
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
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { verifiedIpcBatches } from "../fs/IpcStreamReader.ts"
import { decodeManifest, extensionOf, type Manifest, ValueFormat } from "../fs/Manifest.ts"
import { parquetBatches, readParquetTable } from "../fs/Parquet.ts"
import {
  decodeJson,
  type EncodedValue,
  encodeValue,
  manifestOf,
  storedValueOf,
  type TableFormat,
  tableFormats
} from "../fs/ValueEncoding.ts"
import {
  errorCode,
  hashMismatch,
  isSafeSegment,
  isValueFormat,
  MANIFEST,
  sizeMismatch,
  wipeAdvice
} from "../ValueLocation.ts"
import { bodySource } from "./BodySource.ts"

/**
 * Options of `makeS3IOManager`. Without `client`, the manager makes its own S3 client; `region` and
 * `credentials` then default to what the AWS SDK finds (environment, profile, instance role).
 */
export interface S3IOManagerOptions {
  /** The bucket that holds every value; it must exist. */
  readonly bucket: string
  /** Key prefix of every object, e.g. `materia/prod` (no leading `/`, no `.` or `..` segment). */
  readonly prefix?: string
  /** An S3-compatible endpoint such as `http://127.0.0.1:9000` (MinIO, s3rver); default: AWS. */
  readonly endpoint?: string
  /** Default: the SDK's (AWS_REGION, profile), or `us-east-1` when `endpoint` is given. */
  readonly region?: string
  readonly credentials?: NonNullable<S3ClientConfig["credentials"]>
  /** `bucket` in the path rather than the host name; default: true when `endpoint` is given. */
  readonly forcePathStyle?: boolean
  /** The name assets use to pick this IO manager (default `s3`). */
  readonly name?: string
  /**
   * How tables are stored when the asset names no `format`: `arrow` (an Arrow IPC stream, the
   * default) or `parquet`, as with the local-disk IO manager. Bytes and JSON are stored as they are.
   */
  readonly format?: TableFormat
  /**
   * A client to use instead of one made from the options above (which must then be absent). Give
   * it `requestChecksumCalculation` and `responseChecksumValidation` `"WHEN_REQUIRED"` for
   * S3-compatible servers that do not understand the SDK's default checksums. Its request handler
   * is wrapped so that an interrupted write aborts its own in-flight requests.
   */
  readonly client?: S3Client
  /** Bytes per multipart part (default 16 MiB, at least 5 MiB); S3 allows 10,000 parts per object. */
  readonly partSize?: number
  /** Parts uploaded at once (default 4); memory use is about `partSize × queueSize`. */
  readonly queueSize?: number
  /**
   * Where a Parquet object is downloaded (and verified) to be streamed row group by row group:
   * Parquet is read footer first, so it cannot be decoded while it arrives. Default: the OS's
   * temporary folder. The file is removed when the stream ends.
   */
  readonly tempDir?: string
}

/** `makeS3IOManager` was given an option it cannot work with. */
export class InvalidS3Options extends Data.TaggedError("InvalidS3Options")<{
  readonly option: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid S3 IO manager option "${this.option}": ${this.reason}`
  }
}

type Operation = IOManagerError["operation"]

const MIN_PART_SIZE = 5 * 1024 * 1024
/** Fewer, larger parts: on s3rver 16 MiB parts upload ~5–10% faster than 8 MiB ones (bench/S3Bench.ts). */
const DEFAULT_PART_SIZE = 16 * 1024 * 1024
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
/** The best-effort abort of an incomplete upload and the cleanup of a failed write give up after this. */
const CLEANUP_TIMEOUT_MS = 10_000

const contentTypeOf: Readonly<Record<string, string>> = {
  arrow: "application/vnd.apache.arrow.stream",
  parquet: "application/vnd.apache.parquet",
  bytes: "application/octet-stream",
  json: "application/json"
}

const errorName = (cause: unknown): string | undefined =>
  cause instanceof Error && cause.name !== "Error" ? cause.name : undefined

const httpStatus = (cause: unknown): number | undefined => {
  const status = (cause as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode
  return typeof status === "number" ? status : undefined
}

/** An AWS or network error as `NoSuchBucket: The specified bucket does not exist (HTTP 404)`. */
const describeCause = (cause: unknown): string => {
  const message = cause instanceof Error ? cause.message : String(cause)
  const code = errorCode(cause)
  // The SDK renames network errors (ECONNRESET, EPIPE…) "TimeoutError" for its retries: show the code.
  const name = errorName(cause) === "TimeoutError" && code !== undefined ? undefined : errorName(cause)
  const labels = [name, code].filter(
    (label, i, all): label is string =>
      label !== undefined && all.indexOf(label) === i && !message.startsWith(label)
  )
  const status = httpStatus(cause)
  return `${labels.length === 0 ? "" : `${labels.join(" ")}: `}${message}${status === undefined ? "" : ` (HTTP ${status})`}`
}

const CREDENTIAL_ERRORS = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "CredentialsProviderError"
])

const isPreconditionFailed = (cause: unknown): boolean =>
  errorName(cause) === "PreconditionFailed" || httpStatus(cause) === 412

/** A folder-like key segment: non-empty, no separators, no `..`, no control characters. */

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/

/** Why `bucket` breaks S3's bucket naming rules, or `undefined`. */
const bucketProblem = (bucket: string): string | undefined => {
  if (!BUCKET.test(bucket))
    return `${JSON.stringify(bucket)} is not a valid bucket name (expected 3 to 63 lowercase letters, digits, "." or "-", starting and ending with a letter or digit)`
  if (bucket.includes("..")) return `${JSON.stringify(bucket)} is not a valid bucket name (it contains "..")`
  if (IPV4.test(bucket))
    return `${JSON.stringify(bucket)} is not a valid bucket name (it is formatted as an IP address)`
  return undefined
}

/** The prefix without trailing `/`, or why it is refused. */
const normalizePrefix = (prefix: string): { readonly prefix: string } | { readonly problem: string } => {
  const trimmed = prefix.replace(/\/+$/, "")
  if (prefix.startsWith("/"))
    return { problem: `${JSON.stringify(prefix)} starts with "/" (write it without, e.g. "materia/prod")` }
  if (trimmed === "") return { prefix: "" }
  const bad = trimmed.split("/").find((segment) => !isSafeSegment(segment))
  if (bad !== undefined)
    return {
      problem: `${JSON.stringify(prefix)} has the segment ${JSON.stringify(bad)} (expected non-empty segments without "..", "\\" or control characters)`
    }
  return { prefix: trimmed }
}

/** Why an upload did not complete: the value could not be encoded, or S3 refused or lost it. */
type UploadOutcome =
  | { readonly _tag: "Uploaded"; readonly bytes: number; readonly sha256: string }
  | {
      readonly _tag: "EncodeFailed" | "UploadFailed"
      readonly cause: unknown
      /** Why the incomplete multipart upload could not be aborted, if it could not. */
      readonly abortProblem: string | undefined
    }

/** What the encoder has produced so far: the byte count and hash of every chunk handed to the upload. */
interface Hashing {
  readonly hash: ReturnType<typeof createHash>
  bytes: number
  encodeError?: { readonly cause: unknown }
}

/** The encoded chunks one by one, hashed as the upload pulls them; an encoding error is recorded as such. */
async function* hashedChunks(encoded: EncodedValue, state: Hashing): AsyncGenerator<Uint8Array> {
  try {
    // `for await` also accepts an async iterable, should encodings become asynchronous.
    for await (const group of encoded.chunks)
      for (const chunk of group) {
        if (chunk.byteLength === 0) continue
        state.hash.update(chunk)
        state.bytes += chunk.byteLength
        yield chunk
      }
  } catch (cause) {
    state.encodeError = { cause }
    throw cause
  }
}

/** The abort signal of the upload whose requests run in the current async context. */
const uploadSignal = new AsyncLocalStorage<AbortSignal>()
const handlersWithUploadSignals = new WeakSet<object>()

/**
 * Gives the requests lib-storage makes (it passes them no abort signal) the signal of their upload,
 * so that interrupting a write also aborts its in-flight part uploads instead of leaving them
 * running. Requests made outside an upload, or with a signal of their own, are left as they are.
 */
const abortRequestsWithUpload = (client: S3Client): void => {
  const handler = client.config.requestHandler
  if (handlersWithUploadSignals.has(handler)) return
  handlersWithUploadSignals.add(handler)
  const handle = handler.handle.bind(handler)
  handler.handle = (request, options) => {
    const signal = uploadSignal.getStore()
    const given: { readonly abortSignal?: unknown } | undefined = options
    return handle(
      request,
      signal === undefined || given?.abortSignal !== undefined ? options : { ...options, abortSignal: signal }
    )
  }
}

/** The body of a GetObject response as a Node stream (the SDK's Node runtime always gives one). */
const nodeBody = (output: GetObjectCommandOutput): Readable => {
  const body: unknown = output.Body
  if (body instanceof Readable) return body
  throw new TypeError(`expected the response body as a Node.js Readable, found ${typeof body}`)
}

/** Reads a whole body, expected to be `expected` bytes, while hashing it; also counts bytes beyond. */
const readHashing = async (body: Readable, expected: number) => {
  const buffer = Buffer.allocUnsafeSlow(expected)
  const hash = createHash("sha256")
  let found = 0
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    hash.update(chunk)
    if (found < expected) buffer.set(chunk.subarray(0, expected - found), found)
    found += chunk.byteLength
  }
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, Math.min(found, expected))
  return { bytes, found, sha256: hash.digest("hex") }
}

const optionsProblem = (options: S3IOManagerOptions): InvalidS3Options | undefined => {
  const invalid = (option: string, reason: string) => new InvalidS3Options({ option, reason })
  const problem = bucketProblem(options.bucket)
  if (problem !== undefined) return invalid("bucket", problem)
  if (options.prefix !== undefined) {
    const prefix = normalizePrefix(options.prefix)
    if ("problem" in prefix) return invalid("prefix", prefix.problem)
  }
  if (options.client !== undefined) {
    const extra = (["endpoint", "region", "credentials", "forcePathStyle"] as const).find(
      (option) => options[option] !== undefined
    )
    if (extra !== undefined)
      return invalid(extra, `give either \`client\` or \`${extra}\`: a given client is used as it is`)
  }
  if (options.endpoint !== undefined) {
    let protocol: string | undefined
    try {
      protocol = new URL(options.endpoint).protocol
    } catch {
      protocol = undefined
    }
    if (protocol !== "http:" && protocol !== "https:")
      return invalid(
        "endpoint",
        `expected an http:// or https:// URL, found ${JSON.stringify(options.endpoint)}`
      )
  }
  if (options.region !== undefined && options.region.trim() === "")
    return invalid("region", "expected a region name such as eu-west-1, found an empty string")
  if (options.name !== undefined && options.name.trim() === "")
    return invalid("name", "expected a non-empty name")
  if (options.format !== undefined && !tableFormats.includes(options.format))
    return invalid(
      "format",
      `${JSON.stringify(options.format)} is not a table format (expected ${tableFormats.join(" or ")})`
    )
  const { partSize, queueSize } = options
  if (
    partSize !== undefined &&
    (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE)
  )
    return invalid("partSize", `expected a whole number of bytes from 5 MiB to 5 GiB, found ${partSize}`)
  if (queueSize !== undefined && (!Number.isInteger(queueSize) || queueSize < 1))
    return invalid("queueSize", `expected a whole number of at least 1, found ${queueSize}`)
  return undefined
}

/**
 * Makes the S3 IO manager; throws `InvalidS3Options` for a bad bucket name, prefix or option.
 * Tables are stored as Arrow IPC streams or Parquet files (the asset's `format`, else `options.format`),
 * `Uint8Array`s as is, other values as JSON, exactly as the local-disk IO manager stores them, so
 * equal values get equal data versions on both.
 *
 * Uploads go only through lib-storage's `Upload` (a multipart upload, or one PutObject of a complete
 * buffered part for values under one part), never a streamed PutObject that a cut connection could
 * leave truncated. Parts are left on error (`leavePartsOnError`) and then aborted on a best-effort
 * basis: a failed abort is reported beside the real cause, never instead of it. The manifest is
 * uploaded only after the value's upload completed; a value counts once its materialization commits.
 *
 * Tested against s3rver (S3IOManager.test.ts), which cannot show three behaviours, untested there:
 * refusal of a wrong secret (it checks only that the access key id exists), a successful abort of an
 * incomplete upload (it has no AbortMultipartUpload), and `If-None-Match` refusing to replace a key.
 *
 * @example
 * const s3 = makeS3IOManager({ bucket: "analytics", prefix: "materia/prod", region: "eu-west-1" })
 * const orders = asset("orders", { io: "s3" }, () => loadOrders())
 * export default defineProject({ name: "shop", assets: [orders], ioManagers: { s3 } })
 */
export const makeS3IOManager = (options: S3IOManagerOptions): IOManager => {
  const problem = optionsProblem(options)
  if (problem !== undefined) throw problem
  const name = options.name ?? "s3"
  const bucket = options.bucket
  const normalized = normalizePrefix(options.prefix ?? "")
  const prefix = "prefix" in normalized ? normalized.prefix : ""
  const partSize = options.partSize ?? DEFAULT_PART_SIZE
  const queueSize = options.queueSize ?? 4
  const defaultFormat = options.format ?? "arrow"
  const tempRoot = options.tempDir ?? tmpdir()
  const client =
    options.client ??
    new S3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.region === undefined
        ? options.endpoint === undefined
          ? {}
          : { region: "us-east-1" }
        : { region: options.region }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      // With the SDK's default checksums, S3-compatible servers (s3rver, MinIO-like ones) may store
      // the aws-chunked framing inside the object: send plain bodies, and checksums only when required.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED"
    })
  abortRequestsWithUpload(client)

  const keyOf = (...segments: ReadonlyArray<string>) =>
    (prefix === "" ? segments : [prefix, ...segments]).join("/")
  const uri = (key: string) => `s3://${bucket}/${key}`

  const failure = (
    operation: Operation,
    assetKey: string,
    location: string | undefined,
    reason: string,
    cause?: unknown
  ) => new IOManagerError({ ioManager: name, assetKey, operation, location, reason, cause })

  const advice = wipeAdvice

  /** How to fix what S3 (or the network) answered, when we know. */
  const remedy = (cause: unknown): string => {
    const causeName = errorName(cause) ?? ""
    if (causeName === "NoSuchBucket")
      return `; bucket "${bucket}" does not exist: create it, or fix the \`bucket\` option`
    if (CREDENTIAL_ERRORS.has(causeName) || httpStatus(cause) === 403)
      return `; the credentials were refused: check the \`credentials\` option (or the profile or environment the AWS SDK reads) and that they may read and write bucket "${bucket}"`
    if (isPreconditionFailed(cause))
      return "; an object already exists at this key, and stored values are never overwritten: every write needs a new attempt id"
    if (cause instanceof Error && cause.message.includes("Region is missing"))
      return "; set the `region` option (or AWS_REGION)"
    if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"].includes(errorCode(cause) ?? ""))
      return "; check the `endpoint` option and that the server is reachable"
    return ""
  }

  /** An S3 request as an effect (interruption aborts it); failures name the object and the S3 error. */
  const request =
    (operation: Operation, assetKey: string) =>
    <A>(what: string, key: string, run: (signal: AbortSignal) => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) =>
          cause instanceof IOManagerError
            ? cause
            : failure(
                operation,
                assetKey,
                uri(key),
                `could not ${what} (${describeCause(cause)})${remedy(cause)}`,
                cause
              )
      })

  /** Aborts an incomplete multipart upload; returns why it could not, or `undefined`. */
  const abortIncomplete = async (key: string, uploadId: string | undefined): Promise<string | undefined> => {
    if (uploadId === undefined) return undefined
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
        abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS)
      })
      return undefined
    } catch (cause) {
      return `the incomplete multipart upload ${uploadId} could not be aborted (${describeCause(cause)}); an AbortIncompleteMultipartUpload lifecycle rule on the bucket removes its parts`
    }
  }

  /** Uploads `body` to `key` through lib-storage; only fails (rejects) on a bug, else reports the outcome. */
  const upload = async (
    key: string,
    body: Readable | Uint8Array,
    contentType: string,
    signal: AbortSignal,
    hashing?: Hashing
  ): Promise<UploadOutcome> => {
    const uploader = new Upload({
      client,
      // If-None-Match: "*" makes S3 refuse to replace an existing object (PutObject and
      // CompleteMultipartUpload); attempt ids are unique, so this only guards against misuse.
      params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: "*" },
      partSize,
      queueSize,
      leavePartsOnError: true
    })
    const onAbort = () => {
      void uploader.abort()
      if (body instanceof Readable) body.destroy()
    }
    if (signal.aborted) onAbort()
    else signal.addEventListener("abort", onAbort, { once: true })
    try {
      await uploadSignal.run(signal, () => uploader.done())
      return { _tag: "Uploaded", bytes: hashing?.bytes ?? 0, sha256: hashing?.hash.digest("hex") ?? "" }
    } catch (cause) {
      const abortProblem = await abortIncomplete(key, uploader.uploadId)
      const encodeError = hashing?.encodeError
      return encodeError === undefined
        ? { _tag: "UploadFailed", cause, abortProblem }
        : { _tag: "EncodeFailed", cause: encodeError.cause, abortProblem }
    } finally {
      signal.removeEventListener("abort", onAbort)
      if (body instanceof Readable) body.destroy()
    }
  }

  /** Best-effort removal of objects a failed write created; errors are ignored (nothing refers to them). */
  const removeQuietly = async (keys: ReadonlyArray<string>) => {
    for (const key of keys)
      await client
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), {
          abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS)
        })
        .catch(() => undefined)
  }

  /** The attempt's key parts, checked to be safe key segments. */
  const folderForWrite = (context: OutputContext) => {
    const refuse = (reason: string) => Effect.fail(failure("write", context.assetKey, undefined, reason))
    if (!isSafeSegment(context.attemptId))
      return refuse(
        `attempt id ${JSON.stringify(context.attemptId)} is not a safe key segment (expected a non-empty name without "/", "\\" or "..")`
      )
    if (context.assetPath.length === 0) return refuse("the asset key path is empty")
    const unsafe = context.assetPath.find((segment) => !isSafeSegment(segment))
    if (unsafe !== undefined)
      return refuse(`asset key segment ${JSON.stringify(unsafe)} is not a safe key segment`)
    return Effect.succeed([...context.assetPath, context.attemptId])
  }

  const write = (value: unknown, context: OutputContext): Effect.Effect<StoredValue, IOManagerError> =>
    Effect.gen(function* () {
      const assetKey = context.assetKey
      const segments = yield* folderForWrite(context)
      // A format the asset names binds it to tables; the manager's own applies to tables only.
      const named: string | undefined = context.format
      if (named !== undefined && !tableFormats.includes(named as TableFormat))
        return yield* Effect.fail(
          failure(
            "write",
            assetKey,
            undefined,
            `unknown format ${JSON.stringify(named)} (expected ${tableFormats.join(" or ")})`
          )
        )
      const encoded = yield* Effect.try({
        try: () =>
          encodeValue(value, {
            tableFormat: context.format ?? defaultFormat,
            tablesOnly: context.format !== undefined
          }),
        catch: (cause) =>
          failure(
            "write",
            assetKey,
            undefined,
            `could not inspect the value (${describeCause(cause)})`,
            cause
          )
      })
      if ("problem" in encoded)
        return yield* Effect.fail(failure("write", assetKey, undefined, encoded.problem))
      const location = segments.join("/")
      const file = `value.${extensionOf[encoded.format]}`
      const valueKey = keyOf(...segments, file)
      const manifestKey = keyOf(...segments, MANIFEST)
      const fail = (key: string, reason: string, cause?: unknown) =>
        failure("write", assetKey, uri(key), reason, cause)
      /** Objects this write made: removed if it does not complete (manifest first). */
      const created: Array<string> = []

      const uploaded = (key: string, outcome: UploadOutcome) => {
        if (outcome._tag === "Uploaded") return Effect.succeed(outcome)
        const aborted = outcome.abortProblem === undefined ? "" : `; ${outcome.abortProblem}`
        const reason =
          outcome._tag === "EncodeFailed"
            ? `could not encode the value as ${encoded.format} while uploading it (${describeCause(outcome.cause)}); no object was written${aborted}`
            : `upload failed (${describeCause(outcome.cause)})${remedy(outcome.cause)}${aborted}`
        return Effect.fail(fail(key, reason, outcome.cause))
      }

      const stored = Effect.gen(function* () {
        const hashing: Hashing = { hash: createHash("sha256"), bytes: 0 }
        const { bytes, sha256 } = yield* Effect.flatMap(
          Effect.tryPromise({
            try: (signal) =>
              upload(
                valueKey,
                // One chunk read ahead at most: memory stays near partSize × queueSize.
                Readable.from(hashedChunks(encoded, hashing), { objectMode: true, highWaterMark: 1 }),
                contentTypeOf[encoded.format] ?? "application/octet-stream",
                signal,
                hashing
              ),
            catch: (cause) => fail(valueKey, `upload failed (${describeCause(cause)})`, cause)
          }),
          (outcome) => uploaded(valueKey, outcome)
        )
        created.push(valueKey)
        const manifest = manifestOf(encoded, file, bytes, sha256)
        const text = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8")
        created.unshift(manifestKey)
        yield* Effect.flatMap(
          Effect.tryPromise({
            try: (signal) => upload(manifestKey, text, "application/json", signal),
            catch: (cause) => fail(manifestKey, `upload failed (${describeCause(cause)})`, cause)
          }),
          (outcome) => {
            // Someone else's manifest is there: it must not be removed with ours.
            if (outcome._tag !== "Uploaded" && isPreconditionFailed(outcome.cause)) created.shift()
            return uploaded(manifestKey, outcome)
          }
        )
        return storedValueOf(name, location, encoded, sha256, bytes)
      })
      return yield* Effect.onExit(stored, (exit) =>
        Exit.isFailure(exit) && created.length > 0
          ? Effect.promise(() => removeQuietly([...created]))
          : Effect.void
      )
    })

  /** The keys of a handle this manager wrote, checked to be safe. */
  const keysOfHandle = (handle: ValueHandle, assetKey: string, operation: Operation) => {
    const refuse = (reason: string) => Effect.fail(failure(operation, assetKey, handle.location, reason))
    if (handle.ioManager !== name)
      return refuse(`the handle belongs to IO manager "${handle.ioManager}", not "${name}"`)
    if (!isValueFormat(handle.format))
      return refuse(`unknown format "${handle.format}" (expected one of ${ValueFormat.literals.join(", ")})`)
    const segments = handle.location.split("/")
    if (segments.length < 2 || !segments.every(isSafeSegment))
      return refuse("expected a location <asset key path>/<attempt id> of safe key segments")
    const file = `value.${extensionOf[handle.format]}`
    return Effect.succeed({
      format: handle.format,
      file,
      valueKey: keyOf(...segments, file),
      manifestKey: keyOf(...segments, MANIFEST)
    })
  }

  const isMissing = (cause: unknown) => {
    const causeName = errorName(cause)
    return causeName === "NoSuchKey" || causeName === "NotFound"
  }

  /** Reads and checks the manifest of a handle; a missing one names the object and the fix. */
  const readManifest = (handle: ValueHandle, assetKey: string) =>
    Effect.gen(function* () {
      const keys = yield* keysOfHandle(handle, assetKey, "load")
      const fail = (key: string, reason: string, cause?: unknown) =>
        failure("load", assetKey, uri(key), reason, cause)
      const text = yield* Effect.tryPromise({
        try: async (signal) => {
          const output = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keys.manifestKey }), {
            abortSignal: signal
          })
          if (output.Body === undefined) throw new TypeError("the response has no body")
          return output.Body.transformToString("utf8")
        },
        catch: (cause) =>
          isMissing(cause)
            ? fail(keys.manifestKey, `the manifest is missing; ${advice(assetKey)}`, cause)
            : fail(
                keys.manifestKey,
                `could not read the manifest (${describeCause(cause)})${remedy(cause)}`,
                cause
              )
      })
      const manifest = yield* Effect.mapError(decodeManifest(text), (issue) =>
        fail(keys.manifestKey, `the manifest is not valid (${issue.message}); ${advice(assetKey)}`, issue)
      )
      if (manifest.format !== keys.format || manifest.file !== keys.file)
        return yield* Effect.fail(
          fail(
            keys.manifestKey,
            `the manifest describes ${manifest.file} (${manifest.format}), but the handle is for ${keys.file} (${keys.format}); ${advice(assetKey)}`
          )
        )
      return { ...keys, manifest }
    })

  /** Starts the GetObject of a value and checks its length against the manifest before reading it. */
  const openValue = async (valueKey: string, manifest: Manifest, signal: AbortSignal, assetKey: string) => {
    let output: GetObjectCommandOutput
    try {
      output = await client.send(new GetObjectCommand({ Bucket: bucket, Key: valueKey }), {
        abortSignal: signal
      })
    } catch (cause) {
      throw isMissing(cause)
        ? failure(
            "load",
            assetKey,
            uri(valueKey),
            `the value object is missing (its manifest exists); ${advice(assetKey)}`,
            cause
          )
        : cause
    }
    const body = nodeBody(output)
    if (output.ContentLength !== undefined && output.ContentLength !== manifest.bytes) {
      body.destroy()
      throw resized(assetKey, valueKey, manifest, output.ContentLength)
    }
    return body
  }

  const corrupt = (assetKey: string, key: string, manifest: Manifest, found: string) =>
    failure("load", assetKey, uri(key), hashMismatch("the value object", manifest.sha256, found, assetKey))

  const resized = (assetKey: string, key: string, manifest: Manifest, found: number) =>
    failure("load", assetKey, uri(key), sizeMismatch("the value object", manifest.bytes, found, assetKey))

  /** A whole value object, read while hashed and checked against its manifest. */
  const readVerified = (handle: ValueHandle, assetKey: string) =>
    Effect.gen(function* () {
      const { manifest, valueKey } = yield* readManifest(handle, assetKey)
      const read = yield* request("load", assetKey)("read the value", valueKey, async (signal) => {
        const body = await openValue(valueKey, manifest, signal, assetKey)
        const onAbort = () => body.destroy()
        signal.addEventListener("abort", onAbort, { once: true })
        try {
          return await readHashing(body, manifest.bytes)
        } finally {
          signal.removeEventListener("abort", onAbort)
          body.destroy()
        }
      })
      if (read.found !== manifest.bytes)
        return yield* Effect.fail(resized(assetKey, valueKey, manifest, read.found))
      if (read.sha256 !== manifest.sha256)
        return yield* Effect.fail(corrupt(assetKey, valueKey, manifest, read.sha256))
      return { manifest, valueKey, bytes: read.bytes }
    })

  /** The reason a value object does not decode as `format`. */
  const undecodable = (assetKey: string, key: string, format: string, cause: unknown) =>
    failure(
      "load",
      assetKey,
      uri(key),
      `the value object does not decode as ${format} (${describeCause(cause)}); ${advice(assetKey)}`,
      cause
    )

  const load = (handle: ValueHandle, context: InputContext): Effect.Effect<unknown, IOManagerError> =>
    Effect.gen(function* () {
      const assetKey = context.assetKey
      if (handle.format === "parquet")
        // Downloaded to a file first: the object's bytes never sit in memory beside the table.
        return yield* Effect.scoped(
          Effect.gen(function* () {
            const { valueKey, path } = yield* downloadVerified(handle, assetKey)
            return yield* Effect.tryPromise({
              try: async () => readParquetTable(await openAsBlob(path)),
              catch: (cause) => undecodable(assetKey, valueKey, "parquet", cause)
            })
          })
        )
      const { manifest, valueKey, bytes } = yield* readVerified(handle, assetKey)
      const format: string = manifest.format
      const decoded = (decode: () => unknown) =>
        Effect.try({ try: decode, catch: (cause) => undecodable(assetKey, valueKey, format, cause) })
      switch (format) {
        case "bytes":
          return bytes
        case "arrow":
          return yield* decoded(() => tableFromIPC(bytes))
        case "json":
          return yield* decoded(() => decodeJson(bytes))
        default:
          return yield* Effect.fail(
            failure(
              "load",
              assetKey,
              uri(valueKey),
              `the ${name} IO manager cannot decode format "${format}"`
            )
          )
      }
    })

  /** The record batches of a stored Arrow stream; the object is verified once the reader reaches its end. */
  async function* verifiedBatches(
    body: Readable,
    manifest: Manifest,
    key: string,
    assetKey: string
  ): AsyncGenerator<RecordBatch> {
    try {
      yield* verifiedIpcBatches(bodySource(body), manifest, {
        resized: (found) => resized(assetKey, key, manifest, found),
        corrupt: (found) => corrupt(assetKey, key, manifest, found),
        undecodable: (cause) =>
          failure(
            "load",
            assetKey,
            uri(key),
            `the value object does not decode as an Arrow IPC stream (${describeCause(cause)}); ${advice(assetKey)}`,
            cause
          )
      })
    } finally {
      body.destroy()
    }
  }

  /**
   * A value object downloaded to a temporary file while hashed, checked against its manifest; the
   * file is removed with the scope. Memory holds one body chunk at a time.
   */
  const downloadVerified = (handle: ValueHandle, assetKey: string) =>
    Effect.gen(function* () {
      const { manifest, valueKey } = yield* readManifest(handle, assetKey)
      const folder = yield* Effect.acquireRelease(
        request("load", assetKey)("make a temporary folder for", valueKey, async () => {
          await mkdir(tempRoot, { recursive: true })
          return mkdtemp(join(tempRoot, "materia-s3-"))
        }),
        (made) => Effect.promise(() => rm(made, { recursive: true, force: true }).catch(() => undefined))
      )
      const path = join(folder, `${randomUUID()}.${extensionOf[manifest.format]}`)
      const read = yield* request("load", assetKey)("download the value", valueKey, async (signal) => {
        const body = await openValue(valueKey, manifest, signal, assetKey)
        const onAbort = () => body.destroy()
        signal.addEventListener("abort", onAbort, { once: true })
        const file = await open(path, "wx")
        try {
          const hash = createHash("sha256")
          let found = 0
          for await (const chunk of body as AsyncIterable<Uint8Array>) {
            const pending = file.write(chunk, 0, chunk.byteLength, found)
            hash.update(chunk)
            found += chunk.byteLength
            await pending
          }
          return { found, sha256: hash.digest("hex") }
        } finally {
          signal.removeEventListener("abort", onAbort)
          body.destroy()
          await file.close()
        }
      })
      if (read.found !== manifest.bytes)
        return yield* Effect.fail(resized(assetKey, valueKey, manifest, read.found))
      if (read.sha256 !== manifest.sha256)
        return yield* Effect.fail(corrupt(assetKey, valueKey, manifest, read.sha256))
      return { manifest, valueKey, path }
    })

  const loadBatches = (
    handle: ValueHandle,
    context: InputContext
  ): Stream.Stream<RecordBatchLike, IOManagerError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const assetKey = context.assetKey
        if (handle.format === "parquet") {
          const { valueKey, path } = yield* downloadVerified(handle, assetKey)
          const blob = yield* request("load", assetKey)("open the downloaded copy", valueKey, () =>
            openAsBlob(path)
          )
          return Stream.fromAsyncIterable(parquetBatches(blob), (cause) =>
            undecodable(assetKey, valueKey, "parquet", cause)
          )
        }
        if (handle.format !== "arrow")
          return yield* Effect.fail(
            failure(
              "load",
              assetKey,
              handle.location,
              `expected an Arrow table to stream as record batches, found a value stored as ${handle.format}`
            )
          )
        const { manifest, valueKey } = yield* readManifest(handle, assetKey)
        // The body is destroyed when the stream ends, fails or is interrupted.
        const body = yield* Effect.acquireRelease(
          request("load", assetKey)("read the value", valueKey, (signal) =>
            openValue(valueKey, manifest, signal, assetKey)
          ),
          (opened) => Effect.sync(() => opened.destroy())
        )
        return Stream.fromAsyncIterable(
          verifiedBatches(body, manifest, valueKey, assetKey),
          (cause): IOManagerError =>
            cause instanceof IOManagerError
              ? cause
              : failure(
                  "load",
                  assetKey,
                  uri(valueKey),
                  `could not read the value (${describeCause(cause)})${remedy(cause)}`,
                  cause
                )
        )
      })
    )

  const remove = (handle: ValueHandle): Effect.Effect<void, IOManagerError> =>
    Effect.gen(function* () {
      const segments = handle.location.split("/")
      const assetKey = segments.length > 1 ? segments.slice(0, -1).join("/") : handle.location
      const { manifestKey, valueKey } = yield* keysOfHandle(handle, assetKey, "delete")
      const s3 = request("delete", assetKey)
      // The manifest goes first: a value without one never counts. Deleting a missing key succeeds,
      // so retention may run twice.
      for (const key of [manifestKey, valueKey])
        yield* s3("delete the object", key, (signal) =>
          client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })
        )
    })

  return { name, write, load, loadBatches, delete: remove }
}
