/**
 * A real S3-protocol server for tests (s3rver on 127.0.0.1, a free port, a temporary folder), with
 * the buckets asked for. Close it when done: it stops the server and removes its folder.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** The part of s3rver's API the tests use (the package ships no types). */
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

export interface TestS3Server {
  readonly endpoint: string
  /** s3rver's fixed credentials. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  readonly close: () => Promise<void>
}

export const startS3Server = async (buckets: ReadonlyArray<string>): Promise<TestS3Server> => {
  const directory = await mkdtemp(join(tmpdir(), "materia-s3rver-"))
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name }))
  })
  const { port } = await server.run()
  return {
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    close: async () => {
      await server.close()
      await rm(directory, { recursive: true, force: true })
    }
  }
}
