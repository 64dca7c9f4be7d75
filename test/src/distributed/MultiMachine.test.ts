/**
 * The multi-machine simulation: a driver and three workers, each in its own folder (no shared value
 * storage; the installed code is shared), values exchanged only through S3 (s3rver) and records only
 * through PostgreSQL (a fresh database). Two workers serve `cpu`, one serves `gpu`.
 */
import { existsSync } from "node:fs"
import { rm } from "node:fs/promises"
import { join } from "node:path"
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { createTestDatabase, makePostgresStorage } from "@materia/core/postgres"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startS3Server, type TestS3Server } from "../S3Server.ts"
import { REDIS_URL, type StartedProcess, startDriver, startWorker, testPrefix } from "./Distributed.ts"
import { fixtureProject, SUITE_TIMEOUT } from "./ExecutorSuite.ts"

const BUCKET = "materia-regions"

let s3: TestS3Server
let endpoint: string
beforeAll(async () => {
  s3 = await startS3Server([BUCKET])
  endpoint = s3.endpoint
})
afterAll(async () => {
  await s3?.close()
})

describe("multi-machine simulation", () => {
  it(
    "a driver and three workers share only S3 and PostgreSQL; the gpu step runs only on the gpu worker, regions train in parallel",
    async () => {
      const database = await createTestDatabase()
      const prefix = testPrefix()
      const s3Prefix = `regions/${prefix}`
      const fixture = join(import.meta.dirname, "fixtures/regions.ts")
      const machines = await Promise.all(
        ["driver", "cpu1", "cpu2", "gpu"].map((m) => fixtureProject(fixture, `machine-${m}`))
      )
      const [driverDir, cpu1Dir, cpu2Dir, gpuDir] = machines.map((m) => m.root) as [
        string,
        string,
        string,
        string
      ]
      const env = {
        MATERIA_TEST_S3_ENDPOINT: endpoint,
        MATERIA_TEST_S3_BUCKET: BUCKET,
        MATERIA_TEST_S3_PREFIX: s3Prefix
      }
      const started: Array<StartedProcess> = []
      try {
        const withEnv = (dir: string, pools: ReadonlyArray<string>) =>
          startWorker(dir, prefix, pools, [], REDIS_URL, env)
        const [cpu1, cpu2, gpu] = await Promise.all([
          withEnv(cpu1Dir, ["cpu"]),
          withEnv(cpu2Dir, ["cpu"]),
          withEnv(gpuDir, ["gpu"])
        ])
        started.push(cpu1, cpu2, gpu)
        const driver = startDriver(
          driverDir,
          { projectFile: machines[0]!.file, redisUrl: REDIS_URL, prefix, select: ["report"] },
          { ...env, MATERIA_DATABASE_URL: database.url }
        )
        started.push(driver)
        const result = await driver.result()
        expect(result.steps.filter((s) => s.status !== "succeeded")).toEqual([])
        expect(result.status).toBe("succeeded")
        expect(result.steps.map((s) => s.key).sort()).toEqual([
          "ingest",
          "model",
          "report",
          "train_eu",
          "train_us"
        ])

        const storage = await Effect.runPromise(makePostgresStorage({ url: database.url }))
        const events = (await Effect.runPromise(storage.events(result.runId))).map((e) => e.event)
        await Effect.runPromise(storage.close)
        const made = new Map(
          events.flatMap((e) =>
            e._tag === "Materialization" ? [[e.key, e.metadata as Record<string, number>]] : []
          )
        )
        expect(made.size).toBe(5)
        const pid = (p: StartedProcess) => p.child.pid
        expect(made.get("model")!.worker).toBe(pid(gpu))
        const cpuPids = [pid(cpu1), pid(cpu2)]
        for (const key of ["ingest", "train_eu", "train_us", "report"])
          expect(cpuPids).toContain(made.get(key)!.worker)
        const eu = made.get("train_eu")!
        const us = made.get("train_us")!
        expect(eu.worker).not.toBe(us.worker)
        expect(eu.start! < us.end! && us.start! < eu.end!).toBe(true)

        // Values only in S3: no machine kept one on its own disk.
        for (const dir of [driverDir, cpu1Dir, cpu2Dir, gpuDir])
          expect(existsSync(join(dir, ".materia", "storage"))).toBe(false)
        const s3 = new S3Client({
          endpoint,
          region: "us-east-1",
          forcePathStyle: true,
          credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }
        })
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: s3Prefix }))
        s3.destroy()
        expect((listed.Contents ?? []).length).toBeGreaterThanOrEqual(5)
      } finally {
        await Promise.all(started.map((p) => p.stop("SIGKILL")))
        await database.drop()
        for (const m of machines) await rm(m.root, { recursive: true, force: true })
      }
    },
    SUITE_TIMEOUT
  )
})
