import t from 'tap'
import { path, HttpResponse, TimingMiddleware, createTimingMiddleware, SecurityMiddleware, createSecurityMiddleware } from 'fastify-async-views'
import { build, sleep } from './helpers.ts'

t.test('TimingMiddleware sets Server-Timing for views and plain routes', async (t) => {
  const app = await build(t, {
    middleware: [TimingMiddleware],
    urlpatterns: [path('slow/', async () => { await sleep(30); return { ok: true } })]
  })
  const res = await app.inject('/slow/')
  const header = String(res.headers['server-timing'])
  const m = /^app;dur=(\d+\.\d), view;dur=(\d+\.\d)$/.exec(header)
  t.ok(m, header)
  t.ok(Number(m?.[1]) >= 25, 'app duration covers the view')
  t.ok(Number(m?.[2]) >= 25 && Number(m?.[2]) <= Number(m?.[1]), 'view duration is within app duration')
  const notFound = await app.inject('/missing')
  t.match(String(notFound.headers['server-timing']), /^app;dur=\d+\.\d$/, '404s are timed, without a view metric')
})

t.test('createTimingMiddleware options', async (t) => {
  t.throws(() => createTimingMiddleware({ metric: 'bad name' }), TypeError)
  const app = await build(t, {
    middleware: [createTimingMiddleware({ metric: 'total', view: false })],
    urlpatterns: [path('v/', async () => new HttpResponse('x', { headers: { 'server-timing': 'db;dur=1' } }))]
  })
  t.match([(await app.inject('/v/')).headers['server-timing']].flat().join(', '), /^db;dur=1, total;dur=\d+\.\d$/, 'appends to what the view set')
})

t.test('SecurityMiddleware adds Django\'s security headers without overriding the view', async (t) => {
  const app = await build(t, {
    middleware: [SecurityMiddleware],
    urlpatterns: [
      path('v/', async () => ({})),
      path('own/', async () => new HttpResponse('', { headers: { 'referrer-policy': 'no-referrer' } }))
    ]
  })
  const res = await app.inject('/v/')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['referrer-policy'], 'same-origin')
  t.equal(res.headers['cross-origin-opener-policy'], 'same-origin')
  t.notOk(res.headers['strict-transport-security'], 'no HSTS by default')
  t.equal((await app.inject('/own/')).headers['referrer-policy'], 'no-referrer')
})

t.test('createSecurityMiddleware: HSTS on secure requests and the HTTPS redirect', async (t) => {
  const app = await build(t, {
    middleware: [createSecurityMiddleware({ hstsSeconds: 3600, hstsIncludeSubdomains: true, hstsPreload: true, referrerPolicy: null, sslRedirect: true })],
    urlpatterns: [path('v/', async () => ({}))]
  }, { trustProxy: true })
  const plain = await app.inject({ url: '/v/?a=1', headers: { host: 'example.com' } })
  t.equal(plain.statusCode, 301)
  t.equal(plain.headers.location, 'https://example.com/v/?a=1')
  const secure = await app.inject({ url: '/v/', headers: { host: 'example.com', 'x-forwarded-proto': 'https' } })
  t.equal(secure.statusCode, 200)
  t.equal(secure.headers['strict-transport-security'], 'max-age=3600; includeSubDomains; preload')
  t.notOk(secure.headers['referrer-policy'])
})
