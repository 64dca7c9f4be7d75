import { makeQueueRunner } from "../../../server/src/queue/QueueRunner.ts"
import { REDIS_URL, startWorker, testPrefix, workerCodeVersion } from "./Distributed.ts"
import { executorSuite } from "./ExecutorSuite.ts"

// Two `materia worker` processes serving the default pool, a fresh Redis prefix per test.
executorSuite(
  "queue",
  async (project, file, root) => {
    const prefix = testPrefix()
    const workers = await Promise.all([
      startWorker(root, prefix, ["default"]),
      startWorker(root, prefix, ["default"])
    ])
    const runner = await makeQueueRunner({
      redisUrl: REDIS_URL,
      prefix,
      project: project.name,
      codeVersion: await workerCodeVersion(file)
    })
    return {
      runner,
      close: async () => {
        await runner.close()
        await Promise.all(workers.map((w) => w.stop("SIGTERM")))
      }
    }
  },
  { isolates: true, elsewhere: true }
)
