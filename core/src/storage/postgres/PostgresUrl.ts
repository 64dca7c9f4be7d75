/**
 * PostgreSQL connection URLs: which one a project uses (its `storage: { kind: "postgres", url }`
 * configuration, else the `MATERIA_DATABASE_URL` environment variable), and how to show one in a
 * message without its password. Pure: the caller passes the environment in.
 */
import { StorageError } from "../Storage.ts"

/** The environment variable that selects PostgreSQL storage when the configuration names none. */
export const DATABASE_URL_ENV = "MATERIA_DATABASE_URL"

/** A storage choice as a project's configuration may hold it. */
export interface PostgresStorageConfig {
  readonly kind: "postgres"
  readonly url: string
  /** The PostgreSQL schema holding Materia's tables; `materia` by default. */
  readonly schema?: string | undefined
}

/** The URL to connect to, and where it came from (for messages: "set by MATERIA_DATABASE_URL"). */
export interface ResolvedPostgresUrl {
  readonly url: string
  readonly source: "configuration" | typeof DATABASE_URL_ENV
}

const REDACTED = "***"

/**
 * The URL with its password (in the user-info part or a `password=` parameter) replaced by `***`,
 * for messages and logs. A string that does not parse as a URL is redacted by pattern.
 */
export const redactPostgresUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = REDACTED
    for (const name of [...parsed.searchParams.keys()])
      if (name.toLowerCase() === "password") parsed.searchParams.set(name, REDACTED)
    return parsed.toString()
  } catch {
    return url
      .replace(/(\/\/[^:/@]*:)[^@]*@/, `$1${REDACTED}@`)
      .replace(/(password=)[^&\s]*/gi, `$1${REDACTED}`)
  }
}

/** Host, port and database of a URL, for the advice in messages (`pg_isready -h <host> -p <port>`). */
export const describePostgresUrl = (
  url: string
): { readonly host: string; readonly port: string; readonly database: string } => {
  try {
    const parsed = new URL(url)
    const hostParam = parsed.searchParams.get("host")
    return {
      host: parsed.hostname === "" ? (hostParam ?? "localhost") : parsed.hostname,
      port: parsed.port === "" ? "5432" : parsed.port,
      database: decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(the user's default)"
    }
  } catch {
    return { host: "localhost", port: "5432", database: "(unknown)" }
  }
}

const invalid = (url: string, source: string, found: string): StorageError =>
  new StorageError({
    reason: "Unknown",
    retryable: false,
    message:
      `the PostgreSQL URL ${redactPostgresUrl(url)} (from ${source}) ${found}; expected ` +
      "postgres://<user>[:<password>]@<host>[:<port>]/<database>, e.g. postgres://postgres@127.0.0.1:5432/materia"
  })

/** Checks that `url` is a postgres:// or postgresql:// URL: `undefined` when it is, else the error. */
export const validatePostgresUrl = (url: string, source: string): StorageError | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return invalid(url, source, "is not a URL")
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")
    return invalid(url, source, `has the scheme "${parsed.protocol.replace(/:$/, "")}"`)
  return undefined
}

/**
 * Which PostgreSQL URL to use: the configured one when the configuration asks for PostgreSQL; when
 * the configuration names no storage, `MATERIA_DATABASE_URL` if set and non-empty; else `undefined`
 * (use the embedded store). An explicit configuration, of any kind, wins over the environment.
 * Returns a StorageError (not thrown) for a missing or non-postgres:// URL.
 */
export const resolvePostgresUrl = (
  configured: { readonly kind: string; readonly url?: string | undefined } | undefined,
  env: Readonly<Record<string, string | undefined>>
): ResolvedPostgresUrl | StorageError | undefined => {
  if (configured?.kind === "postgres") {
    const url = configured.url ?? ""
    if (url.trim() === "")
      return new StorageError({
        reason: "Unknown",
        retryable: false,
        message:
          'the storage configuration { kind: "postgres" } has no url; give one ' +
          '(storage: { kind: "postgres", url: "postgres://user@host:5432/db" }) ' +
          `or set ${DATABASE_URL_ENV}`
      })
    return validatePostgresUrl(url, "the storage configuration") ?? { url, source: "configuration" }
  }
  if (configured !== undefined) return undefined
  const fromEnv = env[DATABASE_URL_ENV]?.trim()
  if (fromEnv === undefined || fromEnv === "") return undefined
  return validatePostgresUrl(fromEnv, DATABASE_URL_ENV) ?? { url: fromEnv, source: DATABASE_URL_ENV }
}
