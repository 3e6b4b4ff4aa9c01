import t, { type Test } from 'tap'
import Fastify from 'fastify'
import asyncViews, { path, ImproperlyConfigured, type HttpRequest, type AsyncViewsOptions } from 'fastify-async-views'
import { build, captureLogs } from './helpers.ts'
import { cli, freePort, ownRedis } from './fixtures/redis/own-redis.ts'

const secretKey = 'x'.repeat(40)

function cookieOf (res: { headers: Record<string, unknown> }, name = 'sessionid'): string | undefined {
  const raw = res.headers['set-cookie']
  const lines = raw === undefined ? [] : Array.isArray(raw) ? raw as string[] : [raw as string]
  return lines.find((line) => line.startsWith(name + '='))
}
const pair = (line: string): string => line.slice(0, line.indexOf(';'))

const views = [
  path('set/', async (request: HttpRequest) => {
    const q = request.GET
    request.session.set(q.get('k') ?? 'k', JSON.parse(q.get('v') ?? '1'))
    return { keys: request.session.keys() }
  }),
  path('get/', async (request: HttpRequest) => ({ data: Object.fromEntries(request.session.keys().map((k) => [k, request.session.get(k)])), empty: request.session.isEmpty() })),
  path('flush/', async (request: HttpRequest) => { await request.session.flush(); return { ok: true } }),
  path('boom/', async (request: HttpRequest) => { request.session.set('lost', true); throw new Error('boom') }),
  path('expiry/', async (request: HttpRequest) => { request.session.set('a', 1); request.session.setExpiry(Number(request.GET.get('s'))); return { age: request.session.getExpiryAge() } }),
  path('big/', async (request: HttpRequest) => { request.session.set('big', 'x'.repeat(5000)); return { ok: true } }),
  path('bad/', async (request: HttpRequest) => {
    const errors: string[] = []
    for (const [key, value] of [['d', new Date()], ['u', undefined], ['n', NaN], ['m', new Map()], ['cookie', 1], ['sessionId', 'x'], ['f', () => 1], ['b', 10n], ['h', Object.assign(new Array(3), { 0: 1, 2: 3 })], ['z', { a: -0 }], ['c', new (class Point { x = 1 })()]] as Array<[string, unknown]>) {
      try { request.session.set(key, value) } catch (error) { errors.push(`${key}:${(error as Error).name}`) }
    }
    return { errors, empty: request.session.isEmpty() }
  })
]

async function app (t: Test, extra: Partial<AsyncViewsOptions> = {}, logs = captureLogs('error')) {
  return await build(t, { secretKey, sessions: {}, urlpatterns: views, ...extra }, logs.options)
}

t.test('a session set in one request is read in the next, through an encrypted cookie with Django attributes', async (t) => {
  const a = await app(t)
  const res = await a.inject('/set/?k=greeting&v=%22hi%22')
  t.equal(res.statusCode, 200)
  const line = cookieOf(res)
  t.ok(line, 'Set-Cookie sessionid')
  t.match(line, /; Max-Age=1209600; /)
  t.match(line, /; Path=\/; /)
  t.match(line, /; HttpOnly/)
  t.match(line, /; SameSite=Lax/)
  t.notMatch(line, /Secure/, 'no Secure over http')
  t.notMatch(line, /greeting|hi/, 'the value is encrypted')
  const next = await a.inject({ url: '/get/', headers: { cookie: pair(line!) } })
  t.same(next.json(), { data: { greeting: 'hi' }, empty: false })
  t.equal(cookieOf(next), undefined, 'an unmodified session sets no cookie')
  const https = await a.inject({ url: '/set/', headers: { 'x-forwarded-proto': 'https' } })
  t.ok(cookieOf(https), 'set over (untrusted) forwarded https too')
})

t.test('Secure on https (trustProxy)', async (t) => {
  const a = await build(t, { secretKey, sessions: {}, urlpatterns: views }, { trustProxy: true })
  const res = await a.inject({ url: '/set/', headers: { 'x-forwarded-proto': 'https' } })
  t.match(cookieOf(res), /; Secure/)
})

t.test('tampered, foreign and garbage cookies give an empty session, never an error', async (t) => {
  const a = await app(t)
  const line = pair(cookieOf(await a.inject('/set/?k=a&v=1'))!)
  const other = await build(t, { secretKey: 'y'.repeat(40), sessions: {}, urlpatterns: views })
  const foreign = pair(cookieOf(await other.inject('/set/?k=a&v=1'))!)
  const value = decodeURIComponent(line.slice('sessionid='.length))
  const flipped = (value[0] === 'A' ? 'B' : 'A') + value.slice(1)
  for (const cookie of [foreign, `sessionid=${encodeURIComponent(flipped)}`, 'sessionid=garbage', 'sessionid=', 'sessionid=%%%', `sessionid=${encodeURIComponent('a;b')}`]) {
    const res = await a.inject({ url: '/get/', headers: { cookie } })
    t.equal(res.statusCode, 200, cookie)
    t.same(res.json(), { data: {}, empty: true }, cookie)
  }
})

t.test('secretKey fallbacks still read old cookies; new ones use the current key', async (t) => {
  const old = await build(t, { secretKey, sessions: {}, urlpatterns: views })
  const line = pair(cookieOf(await old.inject('/set/?k=a&v=1'))!)
  const rotated = await build(t, { secretKey: ['z'.repeat(40), secretKey], sessions: {}, urlpatterns: views })
  t.same((await rotated.inject({ url: '/get/', headers: { cookie: line } })).json().data, { a: 1 })
  const fresh = pair(cookieOf(await rotated.inject('/set/?k=b&v=2'))!)
  t.same((await old.inject({ url: '/get/', headers: { cookie: fresh } })).json().data, {}, 'the old key alone cannot read it')
})

t.test('values must round-trip through JSON; cookie and sessionId are reserved', async (t) => {
  const a = await app(t)
  const res = await a.inject('/bad/')
  t.same(res.json(), { errors: ['d:TypeError', 'u:TypeError', 'n:TypeError', 'm:TypeError', 'cookie:TypeError', 'sessionId:TypeError', 'f:TypeError', 'b:TypeError', 'h:TypeError', 'z:TypeError', 'c:TypeError'], empty: true })
})

t.test('a 500 saves nothing', async (t) => {
  const a = await app(t)
  const res = await a.inject('/boom/')
  t.equal(res.statusCode, 500)
  t.equal(cookieOf(res), undefined)
})

t.test('flush clears the cookie; an empty new session sets none', async (t) => {
  const a = await app(t)
  const line = pair(cookieOf(await a.inject('/set/?k=a&v=1'))!)
  const res = await a.inject({ url: '/flush/', headers: { cookie: line } })
  t.match(cookieOf(res), /^sessionid=; Max-Age=0/)
  t.equal(cookieOf(await a.inject('/flush/')), undefined)
})

t.test('setExpiry: seconds, 0 (browser close), and expiry enforced server-side', async (t) => {
  const a = await app(t)
  const res = await a.inject('/expiry/?s=60')
  t.same(res.json(), { age: 60 })
  t.match(cookieOf(res), /Max-Age=60;/)
  const atClose = await a.inject('/expiry/?s=0')
  t.notMatch(cookieOf(atClose), /Max-Age/)
  const browser = await build(t, { secretKey, sessions: { expireAtBrowserClose: true }, urlpatterns: views })
  t.notMatch(cookieOf(await browser.inject('/set/')), /Max-Age/)
  // An expired cookie (its age passed) reads as empty, even if the browser kept it.
  const short = await build(t, { secretKey, sessions: { cookieAge: 1 }, urlpatterns: views })
  const line = pair(cookieOf(await short.inject('/set/?k=a&v=1'))!)
  t.same((await short.inject({ url: '/get/', headers: { cookie: line } })).json().data, { a: 1 })
  await new Promise((resolve) => setTimeout(resolve, 2100))
  t.same((await short.inject({ url: '/get/', headers: { cookie: line } })).json().data, {}, 'expired')
})

t.test('over 4000 bytes: a 500 whose log gives the size', async (t) => {
  const logs = captureLogs('error')
  const a = await app(t, {}, logs)
  const res = await a.inject('/big/')
  t.equal(res.statusCode, 500)
  t.equal(cookieOf(res), undefined)
  t.ok(logs.lines.some((line) => /session cookie is \d{4,} bytes, over 4000/.test(String(line.err?.message ?? line.msg))), 'the log names the size')
})

t.test('options: secretKey and sessions are checked, naming the option', async (t) => {
  const cases: Array<[AsyncViewsOptions, RegExp]> = [
    [{ sessions: {} }, /'sessions' needs the option 'secretKey'/],
    [{ secretKey: 'short', sessions: {} }, /'secretKey' must have 32 characters or more/],
    [{ secretKey: [secretKey, 3 as never] }, /'secretKey\[1\]' must be a string/],
    [{ secretKey: [] }, /'secretKey' must be a string/],
    [{ secretKey, sessions: { store: 'file' as never } }, /'sessions.store' must be 'cookie' or 'redis'/],
    [{ secretKey, sessions: { cookieAge: -1 } }, /'sessions.cookieAge'/],
    [{ secretKey, sessions: { nope: 1 } as never }, /Unknown option 'sessions.nope'/],
    [{ secretKey, sessions: {}, websocket: { allowedOrigins: ['*'] } }, /'websocket.allowedOrigins': '\*' is refused while sessions.websocket is on/],
    [{ secretKey, auth: { backends: [] } }, /'auth' needs the option 'sessions'/]
  ]
  for (const [options, message] of cases) {
    const a = Fastify()
    await t.rejects(async () => { await a.register(asyncViews, options) }, { name: 'ImproperlyConfigured', message }, message.source)
    await a.close()
  }
  // sessions.websocket: false lifts the '*' refusal.
  const ok = await build(t, { secretKey, sessions: { websocket: false }, websocket: { allowedOrigins: ['*'] } })
  t.ok(ok)
  t.ok(ImproperlyConfigured)
})

t.test('an app that registered @fastify/secure-session first has it adopted; @fastify/session conflicts', async (t) => {
  const a = Fastify()
  t.teardown(() => a.close())
  const { default: secureSession } = await import('@fastify/secure-session')
  await a.register(secureSession, { key: Buffer.alloc(32, 7), cookieName: 'sessionid', cookie: { path: '/' } })
  await a.register(asyncViews, { secretKey, sessions: {}, urlpatterns: views })
  const line = pair(cookieOf(await a.inject('/set/?k=a&v=1'))!)
  t.same((await a.inject({ url: '/get/', headers: { cookie: line } })).json().data, { a: 1 })

  const b = Fastify()
  t.teardown(() => b.close())
  const { default: cookie } = await import('@fastify/cookie')
  const { default: session } = await import('@fastify/session')
  await b.register(cookie)
  await b.register(session, { secret: secretKey })
  await t.rejects(async () => { await b.register(asyncViews, { secretKey, sessions: {} }) }, { name: 'ImproperlyConfigured', message: /conflicts/ })
})

t.test('request.session without the option says which option', async (t) => {
  const a = await build(t, { urlpatterns: [path('s/', async (request: HttpRequest) => { request.session.get('a'); return {} })] }, captureLogs('fatal').options)
  t.equal((await a.inject('/s/')).statusCode, 500)
})

t.test('a plain Fastify route sees the session through Fastify too, and the app pays nothing without the option', async (t) => {
  const plain = Fastify()
  t.teardown(() => plain.close())
  await plain.register(asyncViews, { urlpatterns: [] })
  await plain.ready()
  t.notOk(plain.hasPlugin('@fastify/secure-session'), 'no session plugin loaded')
  t.notOk(plain.hasPlugin('@fastify/cookie'), 'no cookie plugin loaded')
})

t.test('store redis: @fastify/session on our ioredis store, <prefix>:session:<id> with a TTL; Redis down is a prompt 503', async (t) => {
  const server = await ownRedis(t)
  if (server === undefined) return
  const logs = captureLogs('fatal')
  const a = await build(t, { secretKey, sessions: { store: 'redis', redis: { url: `redis://127.0.0.1:${server.port}`, prefix: 'tst' } }, urlpatterns: views }, logs.options)
  const anonymous = await a.inject('/get/')
  t.same(anonymous.json(), { data: {}, empty: true })
  t.equal(cookieOf(anonymous), undefined, 'no cookie for a visitor whose session stays empty')
  t.equal((await cli(server.port, 'dbsize')).trim(), '0', 'and no key (saveUninitialized: false)')

  const res = await a.inject('/set/?k=a&v=%5B1%2C2%5D')
  const line = cookieOf(res)!
  t.match(line, /; Max-Age=1209600; /)
  t.match(line, /; Path=\/; HttpOnly; SameSite=Lax$/)
  const id = decodeURIComponent(pair(line).slice('sessionid='.length)).split('.')[0]
  t.same(JSON.parse(await cli(server.port, 'get', `tst:session:${id}`)), { a: [1, 2] })
  const ttl = Number(await cli(server.port, 'ttl', `tst:session:${id}`))
  t.ok(ttl > 1209500 && ttl <= 1209600, `TTL ${ttl} is cookieAge`)
  t.same((await a.inject({ url: '/get/', headers: { cookie: pair(line) } })).json().data, { a: [1, 2] })

  for (const cookie of ['sessionid=nope', `sessionid=${encodeURIComponent(id + '.forged')}`, 'sessionid=']) {
    const tampered = await a.inject({ url: '/get/', headers: { cookie } })
    t.equal(tampered.statusCode, 200, cookie)
    t.same(tampered.json().data, {}, cookie)
  }

  const flushed = await a.inject({ url: '/flush/', headers: { cookie: pair(line) } })
  t.match(cookieOf(flushed), /^sessionid=; Max-Age=0/)
  t.equal(await cli(server.port, 'exists', `tst:session:${id}`), '0\n', 'flush deletes the key')

  const again = pair(cookieOf(await a.inject('/set/?k=b&v=1'))!)
  t.equal((await a.inject('/boom/')).statusCode, 500)
  await server.stop()
  for (const request of [{ url: '/get/', headers: { cookie: again } }, { url: '/set/' }]) {
    const started = performance.now()
    const down = await a.inject(request)
    const ms = performance.now() - started
    t.equal(down.statusCode, 503, `${request.url}: 503`)
    t.equal(down.json().message, 'Session store unavailable')
    t.ok(ms < 1000, `${request.url}: answered in ${ms.toFixed(0)} ms`)
  }
})

t.test('store redis without a server or a Redis layer is refused at register', async (t) => {
  const a = Fastify()
  await t.rejects(async () => { await a.register(asyncViews, { secretKey, sessions: { store: 'redis' } }) }, { name: 'ImproperlyConfigured', message: /'redis' needs sessions.redis/ })
  await a.close()
  const b = Fastify()
  const port = await freePort()
  await t.rejects(async () => { await b.register(asyncViews, { secretKey, sessions: { store: 'redis', redis: { url: `redis://127.0.0.1:${port}` } } }) }, { name: 'ImproperlyConfigured', message: /Redis at .* is unavailable/ })
  await b.close()
})

t.test('lib/peers: a missing optional peer names the option and the install command', async (t) => {
  const { importPeer, registerPeer } = await import('../dist/peers/index.js')
  await t.rejects(importPeer('@fastify/not-installed-here', 'uploads'), { name: 'ImproperlyConfigured', message: "Option 'uploads' needs the package @fastify/not-installed-here: npm install @fastify/not-installed-here" })
  const a = Fastify()
  t.teardown(() => a.close())
  t.equal(await registerPeer(a, { package: '@fastify/cookie', option: 'csrf' }, {}), 'registered')
  t.ok(a.hasPlugin('@fastify/cookie'))
  t.equal(await registerPeer(a, { package: '@fastify/cookie', option: 'csrf' }, {}), 'adopted', 'a second part adopts the first one\'s')
  await t.rejects(registerPeer(a, { package: '@fastify/cookie', option: 'csrf', checkAdopted: () => 'it signs with another secret' }, {}), { message: /the @fastify\/cookie the app registered does not fit: it signs with another secret/ })
  await t.rejects(registerPeer(a, { package: '@fastify/session', option: 'sessions', conflicts: ['@fastify/cookie'] }, {}), { message: /registered @fastify\/cookie, which conflicts/ })
})
