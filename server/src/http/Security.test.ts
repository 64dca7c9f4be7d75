/** The guards' pure parts: which Host headers pass, and how tokens are read and compared. */
import { describe, expect, it } from "vitest"
import { allowedHosts, bearerOf, cookieOf, isLoopback, tokenMatches } from "./Security.ts"

describe("allowedHosts", () => {
  it("admits the server's own name and the loopback names on its port only", () => {
    const hosts = allowedHosts("127.0.0.1", 3000)
    for (const ok of ["127.0.0.1:3000", "localhost:3000", "[::1]:3000"]) expect(hosts.has(ok)).toBe(true)
    for (const no of [
      "127.0.0.1",
      "localhost:3001",
      "evil.example:3000",
      "localhost.evil:3000",
      "127.0.0.1.nip.io:3000"
    ])
      expect(hosts.has(no)).toBe(false)
  })

  it("brackets IPv6 names, adds the extra names, and admits bare names on port 80", () => {
    const hosts = allowedHosts("::", 80, ["Build-Box", "10.0.0.5", "fe80::1"])
    for (const ok of [
      "[::]:80",
      "[::]",
      "build-box",
      "build-box:80",
      "10.0.0.5",
      "[fe80::1]:80",
      "localhost"
    ])
      expect(hosts.has(ok)).toBe(true)
    expect(hosts.has("10.0.0.6")).toBe(false)
  })
})

describe("tokens", () => {
  it("reads a bearer header and a cookie, and compares tokens exactly", () => {
    expect(bearerOf("Bearer abc")).toBe("abc")
    expect(bearerOf("bearer  abc ")).toBe("abc")
    expect(bearerOf("Basic abc")).toBeUndefined()
    expect(bearerOf("Bearer a b")).toBeUndefined()
    expect(cookieOf("a=1; materia_token=xyz; b=2", "materia_token")).toBe("xyz")
    expect(cookieOf("materia_tokenx=1", "materia_token")).toBeUndefined()
    expect(tokenMatches("secret", "secret")).toBe(true)
    expect(tokenMatches("secret", "secreT")).toBe(false)
    expect(tokenMatches("secret", "secret2")).toBe(false)
    expect(tokenMatches("secret", undefined)).toBe(false)
  })

  it("tells loopback hosts apart", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1"]) expect(isLoopback(host)).toBe(true)
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "example.com"]) expect(isLoopback(host)).toBe(false)
  })
})
