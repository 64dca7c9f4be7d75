/**
 * `materia daemon` checks freshness policies as a user runs it (real processes, the project's SQLite
 * file, a real webhook): an asset never materialized is reported overdue in the daemon's output and
 * the project's alert is posted once; a second daemon, which reads the stored verdict, does not post
 * it again. Neither launches a run.
 */

import { readFile, writeFile } from "node:fs/promises"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { CLI_TEST_TIMEOUT, makeTempProject, transcript } from "../cli/TempProject.ts"

const FIXTURE = join(import.meta.dirname, "fixtures", "scheduled.ts")

describe("materia daemon and freshness policies", { timeout: CLI_TEST_TIMEOUT }, () => {
  it("reports an overdue asset and alerts once", async ({ onTestFinished }) => {
    const received: Array<Record<string, unknown>> = []
    const server = createServer((request, response) => {
      let body = ""
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString()
      })
      request.on("end", () => {
        received.push(JSON.parse(body) as Record<string, unknown>)
        response.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alert`

    const p = await makeTempProject("slow.ts", onTestFinished)
    const text = (await readFile(FIXTURE, "utf8"))
      .replace('"__CRON__"', JSON.stringify("0 0 1 1 *"))
      .replace('"__STATUS__"', '"stopped"')
      .replace('asset("ping", {}', 'asset("ping", { freshness: { maxAge: "1 hour" } }')
      .replace(
        'import { asset, defineProject, schedule, sensor } from "@materia/assets"',
        'import { asset, defineProject, schedule, sensor, webhookAlert } from "@materia/assets"'
      )
      .replace(
        'defineProject({ name: "scheduled", assets: [ping] })',
        `defineProject({ name: "scheduled", assets: [ping], alerts: [webhookAlert({ url: ${JSON.stringify(url)} })] })`
      )
    expect(text).toContain("webhookAlert({ url")
    await writeFile(p.path("materia.config.ts"), text)

    const first = await p.materia("daemon", "--ticks", "1", "--tick-interval", "100")
    expect(first.code, transcript(first)).toBe(0)
    expect(first.stdout).toContain("1 freshness policy")
    expect(first.stdout).toMatch(
      /freshness ping @ \S+: overdue: ping was never materialized \(freshness policy: at most 1 h old\); alerted 1 alert/
    )
    expect(first.stdout).not.toContain("launched run")
    expect(received).toMatchObject([
      { version: 1, kind: "freshness", project: "scheduled", assetKey: "ping" }
    ])

    const second = await p.materia(
      "daemon",
      "--ticks",
      "1",
      "--tick-interval",
      "100",
      "--automation-interval",
      "1"
    )
    expect(second.code, transcript(second)).toBe(0)
    expect(second.stdout).toMatch(/freshness ping @ \S+: overdue: ping was never materialized/)
    expect(second.stdout).not.toContain("alerted")
    expect(received).toHaveLength(1)
  })
})
