// The chat example in a real browser: Debian's chromium driven by playwright-core.
import t from 'tap'
import { existsSync } from 'node:fs'
import { chromium, type Page } from 'playwright-core'
import { startExample } from './helpers.ts'

const executablePath = '/usr/bin/chromium'
const WAIT = 10000

if (!existsSync(executablePath)) {
  if (process.env.CI === 'true') t.fail(`${executablePath} is missing: CI must run the browser test (apt-get install chromium)`)
  else t.pass(`skipped: ${executablePath} not found (apt-get install chromium to run the browser test)`, { skip: true })
} else {
  t.test('two browser pages chat in one room; an HTTP announcement shows on both', async (t) => {
    const base = await startExample(t, 'examples/chat/server.ts')
    const browser = await chromium.launch({
      executablePath,
      timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync']
    })
    t.teardown(() => browser.close())

    // Anything the browser console would show: errors, warnings, failed loads
    // (a missing favicon is a 404 there).
    const consoleLines: string[] = []
    const open = async (user: string): Promise<Page> => {
      const page = await browser.newPage()
      t.teardown(() => page.close())
      page.setDefaultTimeout(WAIT)
      page.on('pageerror', (error) => t.fail(`${user}'s page threw: ${error.message}`))
      page.on('console', (message) => { if (message.type() === 'error' || message.type() === 'warning') consoleLines.push(`${user}: ${message.type()}: ${message.text()}`) })
      page.on('requestfailed', (request) => consoleLines.push(`${user}: ${request.url()} failed: ${request.failure()?.errorText}`))
      page.on('response', (response) => { if (response.status() >= 400) consoleLines.push(`${user}: ${response.url()} answered ${response.status()}`) })
      await page.goto(base)
      await page.fill('#user', user)
      await page.fill('#room', 'lobby-test')
      await page.click('#join')
      await page.locator('#status', { hasText: 'In room lobby-test' }).waitFor()
      await line(page, `${user} joined`).waitFor()
      return page
    }
    const line = (page: Page, text: string) => page.locator('#messages li', { hasText: text })

    const a = await open('alice')
    const b = await open('bob')
    await line(a, 'bob joined').waitFor()

    await a.fill('#text', 'hello from A')
    await a.click('#send')
    await line(b, 'alice: hello from A').waitFor()
    await line(a, 'alice: hello from A').waitFor()
    t.equal(await a.inputValue('#text'), '', 'the text box is cleared after sending')
    t.pass('B shows what A sent')

    const response = await fetch(`${base}/rooms/lobby-test/announce/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Staff meeting at noon' }),
      signal: AbortSignal.timeout(WAIT)
    })
    t.equal(response.status, 202)
    for (const page of [a, b]) await line(page, 'Staff meeting at noon').waitFor()
    t.pass('the announcement shows on both pages')

    await b.close()
    await line(a, 'bob left the room').waitFor()
    t.pass('A is told when B leaves')

    t.same(consoleLines, [], 'the browser console stays clean (no errors, warnings or failed loads)')
  })

  t.test('the page is usable on a phone and every input has a label', async (t) => {
    const base = await startExample(t, 'examples/chat/server.ts')
    const browser = await chromium.launch({ executablePath, timeout: 30000, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] })
    t.teardown(() => browser.close())
    const page = await browser.newPage({ viewport: { width: 375, height: 667 }, isMobile: true })
    page.setDefaultTimeout(WAIT)
    await page.goto(base)
    // Without <meta name="viewport"> a phone lays the page out 980 px wide.
    t.equal(await page.evaluate('window.innerWidth'), 375, 'the page is laid out at the device width')
    t.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no horizontal scrolling')
    for (const [label, id] of [['Name', 'user'], ['Room', 'room'], ['Message', 'text']]) {
      t.equal(await page.getByLabel(label, { exact: true }).getAttribute('id'), id, `#${id} is labelled ${label}`)
    }
    await page.getByLabel('Name').fill('carol')
    await page.getByLabel('Room').fill('phones')
    await page.click('#join')
    await page.locator('#status', { hasText: 'In room phones' }).waitFor()
    await page.getByLabel('Message').fill('hi from a phone')
    await page.click('#send')
    await page.locator('#messages li', { hasText: 'carol: hi from a phone' }).waitFor()
    t.pass('joined and sent through the labelled inputs')
  })
}
