/**
 * A graph larger than the screen, in Chromium against `materia dev`: it opens at a readable zoom
 * with only the nodes in view drawn, the search box brings a far asset into view, and a reload
 * takes the layout from the cache (no layout worker is started).
 */
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { BROWSER_TEST_TIMEOUT, devSession } from "./BrowserHarness.ts"

const ASSETS = 300
const TOKEN = "large-graph-token"

/** materia dev on the fixture, and Chromium, for every test of this file. */
const session = devSession("wide.ts", TOKEN)

const drawnKeys = (page: Page): Promise<Array<string>> =>
  page
    .$$eval(".graph-node", (nodes) => nodes.map((n) => n.getAttribute("data-key") ?? ""))
    .then((keys) => keys.sort())

describe("a large asset graph", { timeout: BROWSER_TEST_TIMEOUT }, () => {
  it("draws only what is in view, finds a far asset, and reuses its cached layout", async () => {
    const page = await session.browser.context.newPage()
    const workers: Array<string> = []
    page.on("worker", (w) => workers.push(w.url()))
    await page.goto(`${session.dev.url}/`)
    await page.waitForSelector('.graph[data-state="ready"] .graph-node[data-key="w0_a0"]')
    expect(await page.getAttribute(".graph", "data-nodes")).toBe(String(ASSETS))
    const first = await drawnKeys(page)
    expect(first.length).toBeGreaterThan(0)
    expect(first.length).toBeLessThan(ASSETS)
    expect(first).not.toContain("w9_a29")
    expect(workers.length).toBeGreaterThan(0) // elk laid it out in a worker

    await page.fill('input[aria-label="Find an asset"]', "w9_a29")
    await page.press('input[aria-label="Find an asset"]', "Enter")
    await page.waitForSelector('.graph-node.selected[data-key="w9_a29"]')
    expect(await drawnKeys(page)).not.toContain("w0_a0")

    // A run elsewhere changes a status: the graph refreshes from the live events and keeps the view.
    const launched = await fetch(`${session.dev.url}/api/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ select: "w0_a0" })
    })
    expect(launched.status, await launched.clone().text()).toBe(202)
    await page.waitForSelector('.legend-item:has-text("fresh 1")')
    expect(await drawnKeys(page)).toContain("w9_a29")
    expect(await drawnKeys(page)).not.toContain("w0_a0")
    expect(workers).toHaveLength(1) // no new layout for the same shape

    // The same graph again: its layout comes from the cache, no worker starts.
    const reloaded = await session.browser.context.newPage()
    const laterWorkers: Array<string> = []
    reloaded.on("worker", (w) => laterWorkers.push(w.url()))
    await reloaded.goto(`${session.dev.url}/`)
    await reloaded.waitForSelector('.graph[data-state="ready"] .graph-node[data-key="w0_a0"]')
    expect(laterWorkers).toEqual([])
    expect(await drawnKeys(reloaded)).toEqual(first)
    await reloaded.close()
    await page.close()
  })
})
