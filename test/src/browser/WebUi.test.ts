/**
 * The web UI end to end, in Debian's Chromium against a real `materia dev`: sign in through the
 * token URL, see the asset graph colored by status and filter it by a selection, launch a
 * materialization, watch its steps turn green through live events (one run request, no reload),
 * read the captured output, open an asset page and see its first rows; and errors from the API
 * (a selection that matches nothing, an unknown asset, a missing token) shown on the page.
 */
import { rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { BROWSER_TEST_TIMEOUT, devSession } from "./BrowserHarness.ts"

const TOKEN = "browser-test-token"

/** materia dev on the fixture, and Chromium, for every test of this file. */
const session = devSession("shop.ts", TOKEN)

/** What the page printed to its console and any uncaught error, for failure messages. */
const pageLog: Array<string> = []

const openPage = async (): Promise<Page> => {
  const page = await session.browser.context.newPage()
  page.on("console", (m) => pageLog.push(`console.${m.type()}: ${m.text()}`))
  page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`))
  return page
}

/** Waits for `selector`; on failure, the error carries what the server and the page printed. */
const waitFor = async (page: Page, selector: string) => {
  try {
    return await page.waitForSelector(selector)
  } catch (error) {
    const body = await page.textContent("body").catch(() => "")
    throw new Error(
      `${String(error)}\npage text: ${body}\nserver output:\n${session.dev.output()}\npage log:\n${pageLog.join("\n")}`
    )
  }
}

/** Waits until `selector` matches exactly `count` elements. */
const waitForCount = (page: Page, selector: string, count: number) =>
  page.waitForFunction(`document.querySelectorAll(${JSON.stringify(selector)}).length === ${count}`)

const nodeStatuses = (page: Page): Promise<Record<string, string>> =>
  page.$$eval(".graph-node", (nodes) =>
    Object.fromEntries(
      nodes.map((n) => [n.getAttribute("data-key") ?? "", n.getAttribute("data-status") ?? ""])
    )
  )

const stepStatuses = (page: Page): Promise<Record<string, string>> =>
  page.$$eval(".timeline-row", (rows) =>
    Object.fromEntries(
      rows.map((r) => [r.getAttribute("data-step") ?? "", r.getAttribute("data-status") ?? ""])
    )
  )

describe("web UI in Chromium against materia dev", { timeout: BROWSER_TEST_TIMEOUT }, () => {
  it("shows the graph, launches a run, follows it live and shows an asset's rows", async () => {
    const page = await openPage()
    const context = () => `\nserver output:\n${session.dev.output()}\npage:\n${pageLog.join("\n")}`
    await page.goto(`${session.dev.url}/auth?token=${TOKEN}`)
    expect(new URL(page.url()).pathname, context()).toBe("/")

    // The graph: every asset drawn, missing before any run.
    await waitFor(page, '.graph[data-state="ready"] .graph-node[data-key="report"]')
    expect(await nodeStatuses(page), context()).toEqual({
      "sales/orders": "missing",
      "sales/totals": "missing",
      report: "missing"
    })

    // The selection filter keeps the asset and its upstream.
    await page.fill('input[aria-label="Selection filter"]', "+sales/totals")
    await page.click('form:has(input[aria-label="Selection filter"]) button[type="submit"]')
    await waitForCount(page, ".graph-node", 2)
    expect(Object.keys(await nodeStatuses(page)).sort()).toEqual(["sales/orders", "sales/totals"])
    await page.click("text=Clear")
    await waitForCount(page, ".graph-node", 3)

    // Launch everything while `sales/orders` and `report` are held, to watch the run step by step.
    const holdOrders = join(session.project.root, ".hold-orders")
    const holdReport = join(session.project.root, ".hold-report")
    await writeFile(holdOrders, "")
    await writeFile(holdReport, "")
    const runRequests: Array<string> = []
    page.on("request", (r) => {
      if (/\/api\/v1\/runs\/[^/]+$/.test(new URL(r.url()).pathname)) runRequests.push(r.url())
    })
    await page.click("text=Materialize all")
    await page.waitForURL(/\/launch\?select=/)
    expect(await page.inputValue('input[name="select"]')).toBe("*")
    await page.click('.launch-form button[type="submit"]')
    await page.waitForURL(/\/runs\/[^/]+$/)
    const runId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop()!)
    await page.evaluate("window.notReloaded = true")
    await waitFor(page, '.timeline-row[data-step="sales/orders"][data-status="running"]')
    expect(await stepStatuses(page), context()).toEqual({
      "sales/orders": "running",
      "sales/totals": "pending",
      report: "pending"
    })
    const requestsWhenShown = runRequests.length

    // Live: the upstream steps succeed and `report` runs while the run is still running.
    await rm(holdOrders)
    await waitFor(
      page,
      '.run-page[data-run-status="running"] .timeline-row[data-step="report"][data-status="running"]'
    )
    await waitFor(page, '.timeline-row[data-step="sales/totals"][data-status="succeeded"]')
    expect(await stepStatuses(page), context()).toEqual({
      "sales/orders": "succeeded",
      "sales/totals": "succeeded",
      report: "running"
    })
    expect(await page.getAttribute(".run-page", "data-run-status")).toBe("running")
    // No request for the run since it was shown: the changes came through the event streams.
    expect(runRequests, context()).toHaveLength(requestsWhenShown)

    await rm(holdReport)
    await waitFor(page, '.run-page[data-run-status="succeeded"]')
    await waitFor(page, '.timeline-row[data-step="report"][data-status="succeeded"]')
    expect(await stepStatuses(page)).toEqual({
      "sales/orders": "succeeded",
      "sales/totals": "succeeded",
      report: "succeeded"
    })
    await waitFor(page, '.logs .log-line:has-text("report: 2 regions")')
    expect(await page.textContent(".logs .log-line.level-stdout")).toContain("report: 2 regions")
    expect(await page.evaluate("window.notReloaded")).toBe(true)

    // The runs list has the run.
    await page.click('nav >> text="Runs"')
    await waitFor(page, `tr[data-run="${runId}"] .badge[data-status="succeeded"]`)

    // Back on the graph every asset is fresh; a click opens the asset page with its first rows.
    await page.click('nav >> text="Assets"')
    await waitForCount(page, '.graph-node[data-status="fresh"]', 3)
    await page.click('.graph-node[data-key="sales/orders"]')
    await page.waitForURL(/\/asset\/sales%2Forders$/)
    await waitFor(page, '[data-testid="first-rows"] tbody tr')
    const rows = await page.$$eval('[data-testid="first-rows"] tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent))
    )
    expect(rows, context()).toEqual([
      ["1", "eu", "12.5"],
      ["2", "us", "40"],
      ["3", "eu", "7.25"]
    ])
    const header = await page.$$eval('[data-testid="first-rows"] thead th', (ths) =>
      ths.map((th) => th.textContent)
    )
    expect(header).toEqual(["id", "region", "amount"])
    expect(await page.textContent(".asset-page h1")).toContain("sales/orders")
    expect(await page.textContent(".asset-page .badge")).toBe("fresh")
    expect(await page.locator(".asset-page table.list tbody tr").count()).toBeGreaterThanOrEqual(1)

    // Its Materialize button: nothing to do while fresh; with Force, a run of just this asset.
    await page.click('.asset-page .launch-form button[type="submit"]')
    await waitFor(page, '.launch-form .note:has-text("Nothing to do")')
    await page.check('.asset-page .launch-form input[type="checkbox"]')
    await page.click('.asset-page .launch-form button[type="submit"]')
    await page.waitForURL((u) => /^\/runs\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith(runId))
    await waitFor(page, '.run-page[data-run-status="succeeded"]')
    expect(await stepStatuses(page)).toEqual({ "sales/orders": "succeeded" })
    expect(
      pageLog.filter((l) => l.startsWith("pageerror")),
      context()
    ).toEqual([])
    await page.close()
  })

  it("shows a failed step's error, re-executes from the failure, and cancels a run", async () => {
    const page = await openPage()
    await page.goto(`${session.dev.url}/auth?token=${TOKEN}`)
    const failReport = join(session.project.root, ".fail-report")
    await writeFile(failReport, "")
    await page.goto(`${session.dev.url}/launch?select=report`)
    await page.check('.launch-form input[type="checkbox"]')
    await page.click('.launch-form button[type="submit"]')
    await waitFor(page, '.run-page[data-run-status="failed"]')
    const failedRun = new URL(page.url()).pathname
    await waitFor(page, '.timeline-row[data-step="report"][data-status="failed"]')
    expect(await page.textContent(".timeline-error")).toContain("the report service is down")
    expect(await page.textContent(".logs")).toContain("the report service is down")

    await rm(failReport)
    await page.click("text=Re-execute from failure")
    await page.waitForURL((u) => /^\/runs\/[^/]+$/.test(u.pathname) && u.pathname !== failedRun)
    await waitFor(page, '.run-page[data-run-status="succeeded"]')
    expect(await stepStatuses(page)).toEqual({ report: "succeeded" })

    // A held step keeps the run going until it is canceled from its page.
    const holdReport = join(session.project.root, ".hold-report")
    await writeFile(holdReport, "")
    try {
      await page.goto(`${session.dev.url}/launch?select=report`)
      await page.check('.launch-form input[type="checkbox"]')
      await page.click('.launch-form button[type="submit"]')
      await waitFor(page, '.timeline-row[data-step="report"][data-status="running"]')
      await page.click('.run-page button:has-text("Cancel")')
      await waitFor(page, '.run-page[data-run-status="canceled"]')
      expect(await stepStatuses(page)).toEqual({ report: "canceled" })
    } finally {
      await rm(holdReport, { force: true })
    }
    expect(pageLog.filter((l) => l.startsWith("pageerror"))).toEqual([])
    await page.close()
  })

  it("shows the API's errors on the page", async () => {
    const page = await openPage()
    await page.goto(`${session.dev.url}/auth?token=${TOKEN}`)

    // A selection that matches nothing: the 400 names the nearest keys.
    await page.goto(`${session.dev.url}/launch?select=${encodeURIComponent("sales/ordrs")}`)
    await page.click('.launch-form button[type="submit"]')
    const selectionError = await waitFor(page, ".launch-form .error")
    expect(await selectionError.textContent()).toContain('did you mean "sales/orders"')
    expect(new URL(page.url()).pathname).toBe("/launch")

    // Run config that is not a JSON object never reaches the server.
    await page.fill('textarea[name="config"]', "[1, 2]")
    await page.fill('input[name="select"]', "report")
    await page.click('.launch-form button[type="submit"]')
    await waitFor(page, '.launch-form .error:has-text("run config must be a JSON object")')

    // An unknown asset: the 404 names it.
    await page.goto(`${session.dev.url}/asset/${encodeURIComponent("no/such")}`)
    const notFound = await waitFor(page, ".error")
    expect(await notFound.textContent()).toContain("404")
    expect(await notFound.textContent()).toContain('"no/such"')

    // Without the token cookie a launch is refused, and the page says how to sign in.
    await session.browser.context.clearCookies()
    await page.goto(`${session.dev.url}/launch?select=report`)
    await page.click('.launch-form button[type="submit"]')
    const unauthorized = await waitFor(page, ".launch-form .error")
    expect(await unauthorized.textContent()).toContain("401")
    expect(await unauthorized.textContent()).toContain("/auth?token=")
    expect(pageLog.filter((l) => l.startsWith("pageerror"))).toEqual([])
    await page.close()
  })
})
