/**
 * The new-objects sensor against a real S3-protocol server (s3rver on 127.0.0.1): each new object
 * under the prefix is one run request keyed by its key, once; the cursor moves past what was seen.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { evaluateSensor, newObjectsSensor } from "@materia/assets"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

interface S3rverServer {
  run(): Promise<AddressInfo>
  close(): Promise<void>
}
type S3rverConstructor = new (options: {
  readonly address: string
  readonly port: number
  readonly silent: boolean
  readonly directory: string
  readonly configureBuckets: ReadonlyArray<{ readonly name: string }>
}) => S3rverServer
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor

let server: S3rverServer
let directory: string
let client: ConstructorParameters<typeof S3Client>[0]

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "materia-s3-sensor-"))
  server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: "raw" }]
  })
  const port = (await server.run()).port
  client = {
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }
  }
})

afterAll(async () => {
  await server?.close()
  if (directory !== undefined) await rm(directory, { recursive: true, force: true })
})

const put = async (key: string) => {
  const s3 = new S3Client(client!)
  await s3.send(new PutObjectCommand({ Bucket: "raw", Key: key, Body: "x" }))
  s3.destroy()
}

describe("newObjectsSensor", () => {
  it("requests one run per new object under the prefix, matching the pattern, once", async () => {
    const s = newObjectsSensor("landed", {
      bucket: "raw",
      prefix: "orders/",
      pattern: /\.csv$/,
      client,
      select: "orders",
      partitionsOf: (key) => [key.slice("orders/".length, "orders/".length + 10)]
    })
    const tick = (cursor: string | undefined) =>
      Effect.runPromise(evaluateSensor(s, { cursor, now: Date.now(), lastTickAt: undefined }))
    const empty = await tick(undefined)
    expect(empty.runRequests ?? []).toEqual([])
    await put("orders/2026-01-01.csv")
    await put("orders/2026-01-02.csv")
    await put("orders/readme.txt")
    await put("other/2026-01-01.csv")
    const first = await tick(undefined)
    expect(first.runRequests?.map((r) => [r.runKey, r.partitions, r.tags?.["materia/object"]])).toEqual([
      ["orders/2026-01-01.csv", ["2026-01-01"], "s3://raw/orders/2026-01-01.csv"],
      ["orders/2026-01-02.csv", ["2026-01-02"], "s3://raw/orders/2026-01-02.csv"]
    ])
    // The cursor is the newest modification time: only objects at or after it are listed again
    // (the daemon's run keys drop those already launched).
    const again = await tick(first.cursor)
    expect(
      (again.runRequests ?? []).every((r) => first.runRequests?.some((f) => f.runKey === r.runKey))
    ).toBe(true)
  })
})
