/**
 * The automation page in Chromium against `materia dev` and its daemon: the schedule, sensor and
 * automation condition are listed with the daemon's state; Start makes the schedule tick, its tick
 * history shows the run it launched (linked to the run's page), and Stop stops it.
 */
import { describe, expect, it } from "vitest"
import { BROWSER_TEST_TIMEOUT, devSession } from "./BrowserHarness.ts"

const TOKEN = "automation-token"

/** materia dev on the fixture, and Chromium, for every test of this file. */
const session = devSession("scheduled.ts", TOKEN, ["--tick-interval", "250"])

describe("the automation page", { timeout: BROWSER_TEST_TIMEOUT }, () => {
  it("starts a schedule, shows its tick and run, and stops it with the button", async () => {
    const page = await session.browser.context.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(`${session.dev.url}/auth?token=${TOKEN}`)
    await page.click('nav >> text="Automation"')
    await page.waitForSelector('.daemon[data-daemon-state="running"]')
    const row = 'tr[data-schedule="every_three"]'
    await page.waitForSelector(`${row}[data-status="stopped"]`)
    expect(await page.textContent(row)).toContain("*/3 * * * * *")
    expect(await page.textContent(row)).toContain("(default)")
    expect(await page.textContent('tr[data-sensor="inbox"]')).toContain("stopped")
    expect(await page.textContent('tr[data-automation="pong"]')).toContain("eager")
    // The daemon's first verdict on ping's freshness policy (never materialized yet: overdue).
    await page.waitForSelector('tr[data-freshness="ping"][data-verdict="overdue"]')
    expect(await page.textContent('tr[data-freshness="ping"]')).toContain("never materialized")

    await page.click(`${row} button[data-action="start"]`)
    await page.waitForSelector(`${row}[data-status="running"]`)
    await page.waitForSelector(`${row} .badge[data-status="requested"]`)

    // The tick history: the run the tick launched succeeds, and links to its page.
    await page.click(`${row} a`)
    await page.waitForURL(/\/automation\/schedule\/every_three$/)
    const runLink = await page.waitForSelector(
      '.ticks-page .tick-runs li:has(.badge[data-status="succeeded"]) a'
    )
    const runId = (await runLink.textContent()) ?? ""
    expect(runId).not.toBe("")

    await page.click('.ticks-page .page-header button[data-action="stop"]')
    await page.waitForSelector('.ticks-page[data-status="stopped"]')
    const stored = (await (
      await fetch(`${session.dev.url}/api/v1/schedules`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    ).json()) as { schedules: Array<{ name: string; status: string }> }
    expect(stored.schedules).toMatchObject([{ name: "every_three", status: "stopped" }])

    await page.click(`a[href="/runs/${runId}"]`)
    await page.waitForSelector('.run-page[data-run-status="succeeded"]')
    expect(errors).toEqual([])
    await page.close()
  })
})
