/**
 * Partitions and backfills in the web UI, in Chromium against `materia dev`: launch a backfill over
 * a range from the backfills page and see it finish with its progress and run, see the partition
 * bar of the asset, materialize one more partition from the asset page's partition picker, and see
 * a bad partition range refused with the server's message.
 */
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { BROWSER_TEST_TIMEOUT, devSession } from "./BrowserHarness.ts"

const TOKEN = "backfill-token"

/** materia dev on the fixture, and Chromium, for every test of this file. */
const session = devSession("daily.ts", TOKEN)

const partitionStatuses = (page: Page): Promise<Record<string, string>> =>
  page.$$eval(".partition-bar rect", (rects) =>
    Object.fromEntries(
      rects.map((r) => [r.getAttribute("data-partition") ?? "", r.getAttribute("data-status") ?? ""])
    )
  )

describe("backfills and partitions in the web UI", { timeout: BROWSER_TEST_TIMEOUT }, () => {
  it("launches a backfill, shows its progress, and materializes a picked partition", async () => {
    const page = await session.browser.context.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(`${session.dev.url}/auth?token=${TOKEN}`)
    await page.click('nav >> text="Backfills"')
    await page.waitForSelector("text=No backfills yet.")

    // A range outside the definition is refused, with the server's reason.
    await page.fill('.backfill-form input[name="select"]', "visits")
    await page.fill('.backfill-form input[name="partitions"]', "2027-01-01...2027-01-02")
    await page.click('.backfill-form button[type="submit"]')
    const refused = await page.waitForSelector(".backfill-form .error")
    expect(await refused.textContent()).toContain("400")
    expect(await refused.textContent()).toContain("2027-01-01")

    await page.fill('.backfill-form input[name="partitions"]', "2026-01-02...2026-01-05")
    await page.click('.backfill-form button[type="submit"]')
    await page.waitForURL(/\/backfills\/[^/]+$/)
    await page.waitForSelector('.backfill-page[data-backfill-status="succeeded"]')
    expect(await page.textContent(".backfill-page .progress")).toContain("4 of 4 done")
    await page.click(".backfill-page .run-ids a")
    await page.waitForSelector('.run-page[data-run-status="succeeded"]')

    // The asset's partition bar: the four backfilled days.
    await page.goto(`${session.dev.url}/asset/visits`)
    await page.waitForSelector('.partition-bar rect[data-status="materialized"]')
    expect(await partitionStatuses(page)).toEqual({
      "2026-01-01": "missing",
      "2026-01-02": "materialized",
      "2026-01-03": "materialized",
      "2026-01-04": "materialized",
      "2026-01-05": "materialized",
      "2026-01-06": "missing"
    })

    // Pick the first day on the bar and materialize it.
    await page.click('.partition-bar rect[data-partition="2026-01-01"]')
    expect(await page.inputValue('.asset-page input[name="partitions"]')).toBe("2026-01-01")
    await page.click('.asset-page .launch-form button[type="submit"]')
    await page.waitForSelector('.run-page[data-run-status="succeeded"]')
    await page.goto(`${session.dev.url}/asset/visits`)
    await page.waitForSelector('.partition-bar rect[data-partition="2026-01-01"][data-status="materialized"]')
    expect(errors).toEqual([])
    await page.close()
  })
})
