/**
 * Borrowing a connection of a node-postgres pool and running a transaction on it, as every Materia
 * program that talks to PostgreSQL does (the metadata store, the daemon's store).
 */
import type { Pool, PoolClient } from "pg"
import { classifyPostgresFailure } from "./PostgresFailure.ts"

/**
 * Runs `f` on a connection of `pool` and gives it back; a connection whose failure says it is
 * unusable (lost, the server restarting) is destroyed rather than reused. A connection that drops
 * between two statements reports it as an 'error' event, listened to here: without a listener the
 * error would crash the process, and the next statement fails with it.
 */
export const withPooledClient = async <A>(pool: Pool, f: (client: PoolClient) => Promise<A>): Promise<A> => {
  const client = await pool.connect()
  let failure: unknown
  const lost = (cause: unknown) => {
    failure ??= cause
  }
  client.on("error", lost)
  try {
    return await f(client)
  } catch (cause) {
    failure ??= cause
    throw cause
  } finally {
    client.off("error", lost)
    client.release(failure !== undefined && classifyPostgresFailure(failure).reason === "Unavailable")
  }
}

/** Runs `f` in one transaction on `client` (opened with `begin`); any error rolls it back. */
export const inTransaction = async <A>(
  client: PoolClient,
  f: (client: PoolClient) => Promise<A>,
  begin = "BEGIN"
): Promise<A> => {
  await client.query(begin)
  try {
    const result = await f(client)
    await client.query("COMMIT")
    return result
  } catch (cause) {
    await client.query("ROLLBACK").catch(() => undefined)
    throw cause
  }
}
