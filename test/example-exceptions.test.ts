import t from 'tap'
import { startExample } from './helpers.ts'

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, text: string, body: any, type: string | null }> {
  const response = await fetch(url, { headers, redirect: 'manual' })
  const text = await response.text()
  return { status: response.status, text, body: text === '' ? undefined : JSON.parse(text), type: response.headers.get('content-type') }
}

t.test('the exceptions example in production (DEBUG off)', async (t) => {
  const base = await startExample(t, 'examples/exceptions/server.ts')

  t.test('a view that finds its article: 200', async (t) => {
    const r = await get(`${base}/articles/1/`)
    t.equal(r.status, 200)
    t.same(r.body, { id: 1, title: 'Async views in Django', premium: false, price: 0 })
  })

  t.test('Http404 raised by a view goes through handler404', async (t) => {
    const r = await get(`${base}/articles/99/`)
    t.equal(r.status, 404)
    t.match(r.type, /^application\/json/)
    t.same(r.body, { error: 'Not Found', message: 'The page you asked for does not exist.', path: '/articles/99/' })
  })

  t.test('unmatched URLs go through handler404 too', async (t) => {
    for (const path of ['/no/such/page/', '/articles/abc/', '/articles/1/full/extra/']) {
      const r = await get(`${base}${path}`)
      t.equal(r.status, 404, path)
      t.same(r.body, { error: 'Not Found', message: 'The page you asked for does not exist.', path }, path)
    }
    const slash = await get(`${base}/articles/1`)
    t.equal(slash.status, 301, 'APPEND_SLASH still redirects before any 404')
  })

  t.test('PermissionDenied: 403 with the default JSON body', async (t) => {
    const r = await get(`${base}/reports/`)
    t.equal(r.status, 403)
    t.same(r.body, { statusCode: 403, error: 'Forbidden', message: 'Staff only.' })
    const staff = await get(`${base}/reports/`, { 'x-staff-token': 'letmein' })
    t.equal(staff.status, 200)
    t.same(staff.body, { articles: 2 })
  })

  t.test('a custom exception mapped by processException: 402', async (t) => {
    const r = await get(`${base}/articles/2/full/`)
    t.equal(r.status, 402)
    t.same(r.body, { error: 'Payment Required', message: 'This article costs 5 EUR', price: 5, currency: 'EUR' })
    const paid = await get(`${base}/articles/2/full/`, { cookie: 'subscriber=yes' })
    t.equal(paid.status, 200)
    t.equal(paid.body.body, 'The whole text.')
    t.equal((await get(`${base}/articles/1/full/`)).status, 200, 'a free article needs no payment')
    t.equal((await get(`${base}/articles/7/full/`)).status, 404, 'Http404 passes through the middleware\'s processException untouched')
  })

  t.test('a production 500 hides everything about the cause', async (t) => {
    const r = await get(`${base}/crash/`)
    t.equal(r.status, 500)
    t.equal(r.text, '{"statusCode":500,"error":"Internal Server Error","message":"Internal Server Error"}')
    t.notMatch(r.text, /hunter2|postgres|10\.0\.0\.5|stack|server\.ts/)
  })
})

t.test('with DEBUG=1 the technical pages come back, as in Django', async (t) => {
  const base = await startExample(t, 'examples/exceptions/server.ts', { DEBUG: '1' })

  const crash = await get(`${base}/crash/`)
  t.equal(crash.status, 500)
  t.equal(crash.body.message, 'could not connect to postgres://admin:hunter2@10.0.0.5/shop')
  t.ok(Array.isArray(crash.body.stack) && crash.body.stack.some((line: string) => line.includes('server.ts')), 'the stack, for the developer')

  const missing = await get(`${base}/no/such/page/`)
  t.equal(missing.status, 404)
  t.ok(Array.isArray(missing.body.tried), 'the technical 404 lists the patterns tried, instead of handler404')
  t.equal((await get(`${base}/articles/2/full/`)).status, 402, 'processException runs whatever DEBUG says')
})
