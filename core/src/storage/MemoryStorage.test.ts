/**
 * The in-memory store against the storage conformance suite.
 */
import { makeMemoryStorage } from "./MemoryStorage.ts"
import { storageSuite } from "./StorageSuite.ts"

storageSuite("MemoryStorage", async () => ({ storage: makeMemoryStorage(), cleanup: async () => {} }))
