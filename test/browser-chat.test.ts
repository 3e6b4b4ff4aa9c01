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

    const open = async (user: string): Promise<Page> => {
      const page = await browser.newPage()
      t.teardown(() => page.close())
      page.setDefaultTimeout(WAIT)
      page.on('pageerror', (error) => t.fail(`${user}'s page threw: ${error.message}`))
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
  })
}
