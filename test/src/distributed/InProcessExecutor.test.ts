import { executorSuite } from "./ExecutorSuite.ts"

executorSuite("in-process", async () => ({ runner: undefined, close: async () => {} }), {
  isolates: false,
  elsewhere: false
})
