import { makeMemoryIOManager } from "@materia/core"
import { ioManagerSuite } from "./IOManagerSuite.ts"

ioManagerSuite(
  "memory",
  async () => ({ io: makeMemoryIOManager(), cleanup: async () => {} }),
  // Plain values get a logical version (code version + input versions), not a content hash.
  { contentVersionsForObjects: false, streams: "single-consumer" }
)
