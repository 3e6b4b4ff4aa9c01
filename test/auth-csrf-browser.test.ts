// CSRF in a real browser (Debian's chromium driven by playwright-core): a
// template's {% csrf_token %} form, Django's JS recipe (csrftoken cookie ->
// X-CSRFToken), and a cross-site form refused by its Origin.
import t from 'tap'
import Fastify from 'fastify'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import asyncViews, { path, render, HttpResponse, type HttpRequest } from 'fastify-async-views'

const executablePath = '/usr/bin/chromium'

const FORM = `<!doctype html><title>form</title>
<form id="f" method="post" action="/submit/">{% csrf_token %}<input name="name" value="ada"><button id="go">go</button></form>
<script>
  // Django's recipe, as its docs give it.
  function getCookie (name) {
    const found = document.cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith(name + '='))
    return found === undefined ? null : decodeURIComponent(found.slice(name.length + 1))
  }
</script>`

const EVIL = (target: string): string => `<!doctype html><title>evil</title>
<form id="f" method="post" action="${target}/submit/"><input name="name" value="mallory"><button id="go">go</button></form>`

if (!existsSync(executablePath)) {
  if (process.env.CI === 'true') t.fail(`${executablePath} is missing: CI must run the browser test (apt-get install chromium)`)
  else t.pass(`skipped: ${executablePath} not found`, { skip: true })
} else {
  t.test('a browser posts forms and fetches with the token; a cross-site form is refused', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'fav-csrf-browser-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'form.html'), FORM)
    const app = Fastify()
    t.teardown(() => app.close())
    let base = ''
    await app.register(asyncViews, {
      secretKey: 'b'.repeat(40),
      csrf: true,
      templates: { dirs: dir },
      urlpatterns: [
        path('', async (request: HttpRequest) => await render(request, 'form.html')),
        path('submit/', async (request: HttpRequest) => ({ submitted: request.POST.get('name') ?? null })),
        // Served from another host name of the same server: another site.
        path('evil/', async () => new HttpResponse(EVIL(base)))
      ]
    })
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    base = address
    const port = new URL(address).port

    const browser = await chromium.launch({
      executablePath,
      timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync']
    })
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    page.setDefaultTimeout(10000)

    await page.goto(`${base}/`)
    const readable = await page.evaluate<string>('document.cookie')
    t.match(readable, /csrftoken=/, 'the token cookie is readable')
    t.notMatch(readable, /csrfsecret/, 'the secret cookie is not')

    await Promise.all([page.waitForURL(`${base}/submit/`), page.click('#go')])
    t.same(JSON.parse(await page.innerText('body')), { submitted: 'ada' }, 'the form with {% csrf_token %} passes')

    await page.goto(`${base}/`)
    // In the page (the test's TypeScript has no DOM types): getCookie is the page's own.
    const recipe = await page.evaluate<unknown[]>(`(async () => {
      const withToken = await fetch('/submit/', { method: 'POST', headers: { 'X-CSRFToken': getCookie('csrftoken') } })
      const without = await fetch('/submit/', { method: 'POST' })
      return [withToken.status, without.status, (await without.json()).reason]
    })()`)
    t.same(recipe, [200, 403, 'CSRF token missing.'], "Django's JS recipe")

    // localhost is another site than 127.0.0.1: the browser sends its Origin.
    await page.goto(`http://localhost:${port}/evil/`)
    await Promise.all([page.waitForURL(`${base}/submit/`), page.click('#go')])
    const refused = JSON.parse(await page.innerText('body'))
    t.equal(refused.statusCode, 403)
    t.equal(refused.reason, `Origin checking failed - http://localhost:${port} does not match any trusted origins.`)
  })
}
