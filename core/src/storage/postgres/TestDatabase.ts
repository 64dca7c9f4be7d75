/**
 * Fresh PostgreSQL databases for tests and benchmarks: `createTestDatabase()` creates
 * `materia_test_<random>` on the server at 127.0.0.1:5432 (from its `postgres` database) and
 * `drop()` removes it, closing any connection left open, so parallel test files never collide.
 */
import { randomBytes } from "node:crypto"
import type { Client } from "pg"

/** The maintenance database tests connect to in order to create and drop theirs. */
export const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"

/** A database of one's own: its URL, its name, and how to drop it. */
export interface TestDatabase {
  readonly name: string
  readonly url: string
  readonly drop: () => Promise<void>
}

const admin = async <A>(adminUrl: string, f: (client: Client) => Promise<A>): Promise<A> => {
  const { default: pg } = await import("pg")
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Creates an empty database named `materia_test_<16 hex digits>`. */
export const createTestDatabase = async (adminUrl: string = ADMIN_URL): Promise<TestDatabase> => {
  const name = `materia_test_${randomBytes(8).toString("hex")}`
  await admin(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  let dropped = false
  return {
    name,
    url: url.toString(),
    drop: async () => {
      if (dropped) return
      dropped = true
      await admin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    }
  }
}
