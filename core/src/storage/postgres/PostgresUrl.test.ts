/**
 * Choosing the PostgreSQL URL (configuration, then MATERIA_DATABASE_URL) and redacting passwords.
 */
import { describe, expect, it } from "vitest"
import { StorageError } from "../Storage.ts"
import { describePostgresUrl, redactPostgresUrl, resolvePostgresUrl } from "./PostgresUrl.ts"

describe("resolvePostgresUrl", () => {
  const url = "postgres://materia:pw@db.internal:5432/materia"

  it("uses the configured URL, over the environment", () => {
    expect(
      resolvePostgresUrl({ kind: "postgres", url }, { MATERIA_DATABASE_URL: "postgres://other@x/y" })
    ).toEqual({ url, source: "configuration" })
  })

  it("uses MATERIA_DATABASE_URL when the configuration names no storage", () => {
    expect(resolvePostgresUrl(undefined, { MATERIA_DATABASE_URL: ` ${url} ` })).toEqual({
      url,
      source: "MATERIA_DATABASE_URL"
    })
    expect(resolvePostgresUrl(undefined, { MATERIA_DATABASE_URL: "postgresql://h/db" })).toEqual({
      url: "postgresql://h/db",
      source: "MATERIA_DATABASE_URL"
    })
  })

  it("leaves the embedded store when neither asks for PostgreSQL, or another kind is configured", () => {
    expect(resolvePostgresUrl(undefined, {})).toBeUndefined()
    expect(resolvePostgresUrl(undefined, { MATERIA_DATABASE_URL: "  " })).toBeUndefined()
    expect(resolvePostgresUrl({ kind: "memory" }, { MATERIA_DATABASE_URL: url })).toBeUndefined()
  })

  it("refuses a missing URL or one that is not postgres://, without showing its password", () => {
    const missing = resolvePostgresUrl({ kind: "postgres", url: "" }, { MATERIA_DATABASE_URL: url })
    expect(missing).toBeInstanceOf(StorageError)
    expect((missing as StorageError).message).toContain('{ kind: "postgres" } has no url')

    const mysql = resolvePostgresUrl(undefined, { MATERIA_DATABASE_URL: "mysql://root:secret@h/db" })
    expect(mysql).toBeInstanceOf(StorageError)
    expect((mysql as StorageError).message).toContain('(from MATERIA_DATABASE_URL) has the scheme "mysql"')
    expect((mysql as StorageError).message).not.toContain("secret")

    const garbage = resolvePostgresUrl({ kind: "postgres", url: "db.internal:5432" }, {})
    expect((garbage as StorageError).message).toContain("(from the storage configuration)")
  })
})

describe("redactPostgresUrl", () => {
  it("replaces the password, in the user info or a password parameter", () => {
    expect(redactPostgresUrl("postgres://u:p%40ss@h:5433/db?sslmode=require")).toBe(
      "postgres://u:***@h:5433/db?sslmode=require"
    )
    expect(redactPostgresUrl("postgres://u@h/db?password=hunter2&x=1")).toBe(
      "postgres://u@h/db?password=***&x=1"
    )
    expect(redactPostgresUrl("postgres://u@h/db")).toBe("postgres://u@h/db")
  })

  it("redacts by pattern a string that does not parse as a URL", () => {
    const redacted = redactPostgresUrl("postgres://u:hunter2@[bad/db password=hunter2")
    expect(redacted).not.toContain("hunter2")
  })
})

describe("describePostgresUrl", () => {
  it("gives the host, port and database used in advice", () => {
    expect(describePostgresUrl("postgres://u@db.internal/materia")).toEqual({
      host: "db.internal",
      port: "5432",
      database: "materia"
    })
    expect(describePostgresUrl("postgres:///materia?host=/var/run/postgresql")).toEqual({
      host: "/var/run/postgresql",
      port: "5432",
      database: "materia"
    })
  })
})
