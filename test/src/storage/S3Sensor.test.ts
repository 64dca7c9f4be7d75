/**
 * The new-objects sensor against a real S3-protocol server (s3rver on 127.0.0.1): each new object
 * under the prefix is one run request keyed by its key, once; the cursor moves past what was seen.
 */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { evaluateSensor, newObjectsSensor } from "@materia/assets"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startS3Server, type TestS3Server } from "../S3Server.ts"

let s3: TestS3Server
let client: ConstructorParameters<typeof S3Client>[0]

beforeAll(async () => {
  s3 = await startS3Server(["raw"])
  client = { endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: s3.credentials }
})

afterAll(async () => {
  await s3?.close()
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
