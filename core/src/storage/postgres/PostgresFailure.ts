/**
 * How a failure of PostgreSQL (or of the connection to it, through node-postgres) is read: its
 * SQLSTATE or socket code, a message for it, and whether the whole transaction may be tried again.
 * Shared by every Materia program that talks to PostgreSQL: the metadata store, the daemon's store
 * and the dev server's reader.
 */

/** What a failure means for the caller: why, and whether trying the whole transaction again may succeed. */
export interface PostgresFailure {
  readonly reason: "Unavailable" | "Busy" | "Corrupt" | "Conflict" | "Unknown"
  readonly retryable: boolean
}

/** The SQLSTATE of a server error, or the code of a socket error; undefined for anything else. */
export const postgresErrorCode = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined
  const code = (cause as { readonly code: unknown }).code
  return typeof code === "string" ? code : undefined
}

/** A failure's message: every cause of an AggregateError (a refused connection tries each address). */
export const postgresCauseMessage = (cause: unknown): string => {
  if (cause instanceof AggregateError && cause.errors.length > 0)
    return cause.errors.map(postgresCauseMessage).join("; ")
  if (cause instanceof Error)
    return cause.message === "" ? (postgresErrorCode(cause) ?? cause.name) : cause.message
  return String(cause)
}

/** Socket errors of Node.js after which the same transaction may succeed on a new connection. */
const TRANSIENT_SOCKET_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN"
])

/** node-postgres reports a lost connection by message, without a code. */
const LOST_CONNECTION =
  /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect/i

/** Maps a SQLSTATE or a socket error to a reason; `retryable` when the whole transaction may be tried again. */
export const classifyPostgresFailure = (cause: unknown): PostgresFailure => {
  const code = postgresErrorCode(cause)
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    if (code === "40001" || code === "40P01" || code === "55P03") return { reason: "Busy", retryable: true }
    // connection exceptions, the server shutting down or starting, too many connections
    if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300")
      return { reason: "Unavailable", retryable: true }
    if (code.startsWith("23")) return { reason: "Conflict", retryable: false }
    if (code === "XX001" || code === "XX002") return { reason: "Corrupt", retryable: false }
    if (code.startsWith("28") || code === "3D000" || code === "42501" || code.startsWith("53"))
      return { reason: "Unavailable", retryable: false }
    return { reason: "Unknown", retryable: false }
  }
  if (code !== undefined && TRANSIENT_SOCKET_CODES.has(code))
    return { reason: "Unavailable", retryable: true }
  if (cause instanceof AggregateError && cause.errors.some((e) => classifyPostgresFailure(e).retryable))
    return { reason: "Unavailable", retryable: true }
  if (cause instanceof Error && LOST_CONNECTION.test(cause.message))
    return { reason: "Unavailable", retryable: true }
  return { reason: "Unknown", retryable: false }
}

/** The schema names Materia accepts (a schema is quoted into every statement). */
export const POSTGRES_SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/
