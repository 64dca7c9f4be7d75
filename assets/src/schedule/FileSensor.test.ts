import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { afterEach, describe, expect, it } from "vitest"
import { newFilesSensor } from "./FileSensor.ts"
import { evaluateSensor } from "./Sensor.ts"

let dir = ""
afterEach(async () => {
  if (dir !== "") await rm(dir, { recursive: true, force: true })
})

const evaluate = (s: ReturnType<typeof newFilesSensor>, cursor: string | undefined) =>
  Effect.runPromise(evaluateSensor(s, { cursor, now: 0, lastTickAt: undefined }))

describe("newFilesSensor", () => {
  it("requests a run per new matching file, with its path as run key, and moves the cursor", async () => {
    dir = await mkdtemp(join(tmpdir(), "materia-files-"))
    const s = newFilesSensor("exports", {
      folder: dir,
      pattern: /\.csv$/,
      select: "orders",
      partitionsOf: (path) => [path.slice(-14, -4)]
    })
    expect(await evaluate(s, undefined)).toEqual({ skipReason: `no new file under ${dir}` })
    await mkdir(join(dir, "eu"))
    await writeFile(join(dir, "eu", "orders-2026-02-09.csv"), "a")
    await writeFile(join(dir, "notes.txt"), "b")
    await utimes(join(dir, "eu", "orders-2026-02-09.csv"), 1000, 1000)
    const first = await evaluate(s, undefined)
    expect(first).toEqual({
      runRequests: [
        {
          select: "orders",
          runKey: join("eu", "orders-2026-02-09.csv"),
          tags: { "materia/file": join(dir, "eu", "orders-2026-02-09.csv") },
          partitions: ["2026-02-09"]
        }
      ],
      cursor: "1000000"
    })
    await writeFile(join(dir, "orders-2026-02-10.csv"), "c")
    await utimes(join(dir, "orders-2026-02-10.csv"), 2000, 2000)
    const second = await evaluate(s, first.cursor)
    // The file at the cursor is listed again (same millisecond); the daemon drops its run key.
    expect(second.runRequests?.map((r) => r.runKey)).toEqual([
      join("eu", "orders-2026-02-09.csv"),
      "orders-2026-02-10.csv"
    ])
    expect(second.cursor).toBe("2000000")
  })

  it("a folder that does not exist yet has no new file", async () => {
    const s = newFilesSensor("exports", {
      folder: join(tmpdir(), "materia-no-such-folder"),
      select: "orders"
    })
    expect((await evaluate(s, undefined)).skipReason).toContain("no new file")
  })
})
