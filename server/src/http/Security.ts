/**
 * The server's guards: a Host header check against DNS rebinding (only the server's own name and
 * the loopback names, on its port) and the token, given as a bearer header by API clients or as an
 * HttpOnly, SameSite=Strict cookie set by `GET /auth?token=…` for browsers (EventSource cannot
 * send headers). Tokens are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

/** The cookie that carries the token for browsers. */
export const TOKEN_COOKIE = "materia_token"

/** A fresh random token (URL-safe). */
export const generateToken = (): string => randomBytes(24).toString("base64url")

const digest = (text: string): Buffer => createHash("sha256").update(text).digest()

/** Whether `given` equals `token`, without leaking where they differ. */
export const tokenMatches = (token: string, given: string | undefined): boolean =>
  given !== undefined && timingSafeEqual(digest(token), digest(given))

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]

/** Whether the server listens on a loopback address only (reads are open there). */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)

const bracketed = (name: string): string => (name.includes(":") && !name.startsWith("[") ? `[${name}]` : name)

/**
 * The Host header values the server answers to: its own host, the loopback names and `extra`
 * names (the machine's names when it listens on every interface), each with its port (and bare,
 * when the port is 80).
 */
export const allowedHosts = (
  host: string,
  port: number,
  extra: ReadonlyArray<string> = []
): ReadonlySet<string> => {
  const names = new Set([host, ...extra].map((n) => bracketed(n).toLowerCase()))
  for (const name of LOOPBACK_NAMES) names.add(name)
  const hosts = new Set<string>()
  for (const name of names) {
    hosts.add(`${name}:${port}`)
    if (port === 80) hosts.add(name)
  }
  return hosts
}

/** The bearer token of an `Authorization` header, if any. */
export const bearerOf = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/** The value of cookie `name` in a `Cookie` header, if any. */
export const cookieOf = (header: string | undefined, name: string): string | undefined => {
  if (header === undefined) return undefined
  for (const part of header.split(";")) {
    const eq = part.indexOf("=")
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** The `Set-Cookie` value that gives a browser the token. */
export const tokenCookie = (token: string): string =>
  `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`
