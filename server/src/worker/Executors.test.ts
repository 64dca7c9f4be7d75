import { createServer } from "node:net"
import { asset, defineProject } from "@materia/assets"
import { describe, expect, it } from "vitest"
import { openExecutor, parseExecutor } from "./Executors.ts"

const project = defineProject({ name: "tiny", assets: [asset("a", {}, () => 1)] })
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })

describe("choosing an executor", () => {
  it("names the executors when given an unknown one", () => {
    expect(parseExecutor("queue")).toBe("queue")
    expect(() => parseExecutor("threads")).toThrow(
      'unknown executor "threads"; choose one of in-process, processes, queue'
    )
  })

  it("in-process needs no runner; queue fails at once on an unreachable Redis, naming it without the password", async () => {
    const inProcess = await openExecutor("in-process", { project, projectFile: "unused.ts", root: "." })
    expect(inProcess.runner).toBeUndefined()
    const port = await closedPort()
    await expect(
      openExecutor("queue", {
        project,
        projectFile: "unused.ts",
        root: ".",
        redisUrl: `redis://:hunter2@127.0.0.1:${port}`
      })
    ).rejects.toThrow(`cannot reach Redis at redis://:***@127.0.0.1:${port}`)
  })
})
