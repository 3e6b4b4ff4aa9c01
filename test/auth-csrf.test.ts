import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { randomBytes } from 'node:crypto'
import asyncViews, {
  path, HttpResponse, View, requirePOST, getToken, rotateToken, csrfExempt, ensureCsrfCookie, ImproperlyConfigured,
  type AsyncViewsOptions, type HttpRequest
} from 'fastify-async-views'
import { build, captureLogs } from './helpers.ts'

const secretKey = 'k'.repeat(40)
const FAILED = 'CSRF verification failed. Request aborted.'

interface Cookie { name: string, value: string, httpOnly?: boolean, sameSite?: string, path?: string, maxAge?: number, secure?: boolean }

const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString()
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

function urls (): AsyncViewsOptions['urlpatterns'] {
  return [
    path('form/', async (request: HttpRequest) => new HttpResponse(`<input name="csrfmiddlewaretoken" value="${getToken(request)}">`), { name: 'form' }),
    path('submit/', async (request: HttpRequest) => ({ ok: true, name: request.POST.get('name') ?? null })),
    path('exempt/', csrfExempt(async () => ({ exempt: true }))),
    path('exempt-wrapped/', requirePOST(ensureCsrfCookie(csrfExempt(async () => ({ exempt: true }))))),
    path('config-exempt/', async () => ({ exempt: true }), { config: { csrfExempt: true } }),
    path('ensure/', ensureCsrfCookie(async () => ({ page: true }))),
    path('own-cookie/', async (request: HttpRequest) => {
      const response = new HttpResponse(getToken(request))
      response.setCookie('theme', 'dark')
      return response
    }),
    path('rotate/', async (request: HttpRequest) => { rotateToken(request); return { token: getToken(request) } }),
    path('class/', class extends View {
      async post () { return { posted: true } }
    }.asView())
  ]
}

async function csrfApp (t: Test, extra: Partial<AsyncViewsOptions> = {}, fastifyOptions = {}): ReturnType<typeof build> {
  return await build(t, { urlpatterns: urls(), secretKey, csrf: true, ...extra }, fastifyOptions)
}

/** A token and the cookies carrying the secret, as a browser has them after GET /form/. */
async function session (app: Awaited<ReturnType<typeof build>>): Promise<{ token: string, cookieToken: string, cookies: Record<string, string>, set: Cookie[] }> {
  const res = await app.inject({ url: '/form/' })
  const set = res.cookies as Cookie[]
  const cookies = Object.fromEntries(set.map((c) => [c.name, c.value]))
  const token = /value="([^"]+)"/.exec(res.body)?.[1] as string
  return { token, cookieToken: cookies.csrftoken, cookies, set }
}

t.test('a token travels in the form field or the X-CSRFToken header (Django\'s JS recipe)', async (t) => {
  const app = await csrfApp(t)
  const { token, cookieToken, cookies, set } = await session(app)
  const secret = set.find((c) => c.name === 'csrfsecret') as Cookie
  const readable = set.find((c) => c.name === 'csrftoken') as Cookie
  t.ok(secret.httpOnly, 'the secret cookie is HttpOnly')
  t.equal(secret.sameSite, 'Lax')
  t.equal(secret.path, '/')
  t.not(readable.httpOnly, true, 'the token cookie is readable by scripts')
  t.equal(readable.sameSite, 'Lax')
  t.equal(readable.path, '/')
  t.equal(readable.maxAge, 31449600)
  t.equal(cookieToken, token, 'one token per request: the page and the cookie agree')

  const byField = await app.inject({ method: 'POST', url: '/submit/', headers: FORM, cookies, payload: form({ csrfmiddlewaretoken: token, name: 'ada' }) })
  t.equal(byField.statusCode, 200)
  t.same(byField.json(), { ok: true, name: 'ada' })

  // The JS recipe: read the csrftoken cookie, send it back as X-CSRFToken.
  const byHeader = await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': cookieToken, 'content-type': 'application/json' }, cookies, payload: '{}' })
  t.equal(byHeader.statusCode, 200)
  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    const res = await app.inject({ method, url: '/submit/', headers: { 'x-csrftoken': cookieToken }, cookies })
    t.equal(res.statusCode, 200, `${method} with the header`)
  }
  // A token from an earlier page of the same secret still works (tokens are salted).
  const again = await app.inject({ url: '/form/', cookies })
  t.same(again.cookies.map((c: Cookie) => c.name), ['csrftoken'], 'the secret is kept; only a token cookie is set')
  const earlier = /value="([^"]+)"/.exec(again.body)?.[1] as string
  t.not(earlier, token)
  const other = await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': token }, cookies })
  t.equal(other.statusCode, 200)
})

t.test('failures are 403 with Django\'s reasons', async (t) => {
  const logs = captureLogs('warn')
  const app = await csrfApp(t, {}, logs.options)
  const { token, cookies } = await session(app)
  const post = async (opts: { headers?: Record<string, string>, cookies?: Record<string, string>, payload?: string }): Promise<{ statusCode: number, body: Record<string, unknown> }> => {
    const res = await app.inject({ method: 'POST', url: '/submit/', ...opts, headers: { ...FORM, ...opts.headers } })
    return { statusCode: res.statusCode, body: res.json() }
  }
  const reason = (r: string): Record<string, unknown> => ({ statusCode: 403, error: 'Forbidden', message: FAILED, reason: r })

  t.same(await post({ payload: form({ csrfmiddlewaretoken: token }) }), { statusCode: 403, body: reason('CSRF cookie not set.') })
  t.same(await post({ cookies, payload: form({ name: 'x' }) }), { statusCode: 403, body: reason('CSRF token missing.') })
  t.same(await post({ cookies, payload: form({ csrfmiddlewaretoken: token.slice(0, -2) + 'xx' }) }), { statusCode: 403, body: reason('CSRF token from POST incorrect.') })
  t.same(await post({ cookies, headers: { 'x-csrftoken': 'nope' } }), { statusCode: 403, body: reason("CSRF token from the 'X-Csrftoken' HTTP header incorrect.") })
  // Django reads the field first and the header only when the field is empty.
  t.same(await post({ cookies, headers: { 'x-csrftoken': token }, payload: form({ csrfmiddlewaretoken: 'bad' }) }), { statusCode: 403, body: reason('CSRF token from POST incorrect.') })
  t.equal((await post({ cookies, headers: { 'x-csrftoken': token }, payload: form({ csrfmiddlewaretoken: '' }) })).statusCode, 200)

  // The secret itself is no token.
  const signed = cookies.csrfsecret
  const rawSecret = signed.slice(0, signed.lastIndexOf('.'))
  t.same(await post({ cookies, headers: { 'x-csrftoken': rawSecret } }), { statusCode: 403, body: reason("CSRF token from the 'X-Csrftoken' HTTP header incorrect.") })
  // A secret cookie the server did not sign is no cookie.
  t.same(await post({ cookies: { ...cookies, csrfsecret: `${rawSecret}.forged` }, headers: { 'x-csrftoken': token } }), { statusCode: 403, body: reason('CSRF cookie not set.') })
  t.same(await post({ cookies: { ...cookies, csrfsecret: rawSecret }, headers: { 'x-csrftoken': token } }), { statusCode: 403, body: reason('CSRF cookie not set.') })
  // Another client's token does not fit this client's secret.
  const other = await session(app)
  t.same(await post({ cookies, headers: { 'x-csrftoken': other.token } }), { statusCode: 403, body: reason("CSRF token from the 'X-Csrftoken' HTTP header incorrect.") })

  const warned = logs.lines.filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('Forbidden ('))
  t.ok(warned.length >= 5, 'each refusal is logged as Django does')
  t.equal(warned[0].msg, 'Forbidden (CSRF cookie not set.): /submit/')
})

t.test('a custom header name is named in its reason', async (t) => {
  const app = await csrfApp(t, { csrf: { headerName: 'X-XSRF-TOKEN', cookieName: 'XSRF-TOKEN', fieldName: '_token' } })
  const res = await app.inject({ url: '/form/' })
  const cookies = Object.fromEntries((res.cookies as Cookie[]).map((c) => [c.name, c.value]))
  t.ok(cookies['XSRF-TOKEN'], 'the token cookie has the configured name')
  t.equal((await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-xsrf-token': cookies['XSRF-TOKEN'] }, cookies })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/submit/', headers: FORM, payload: form({ _token: cookies['XSRF-TOKEN'] }), cookies })).statusCode, 200)
  const bad = await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-xsrf-token': 'x' }, cookies })
  t.equal(bad.json().reason, "CSRF token from the 'X-Xsrf-Token' HTTP header incorrect.")
})

t.test('Origin must be the request\'s own scheme://host or a trusted origin', async (t) => {
  const app = await csrfApp(t, { csrf: { trustedOrigins: ['https://partner.example', 'https://*.corp.example'] } })
  const { token, cookies } = await session(app)
  const post = async (origin: string, extra: Record<string, string> = {}): Promise<{ statusCode: number, reason?: string }> => {
    const res = await app.inject({ method: 'POST', url: '/submit/', headers: { origin, 'x-csrftoken': token, ...extra }, cookies })
    return { statusCode: res.statusCode, reason: res.statusCode === 403 ? res.json().reason : undefined }
  }
  t.same(await post('http://localhost:80'), { statusCode: 200, reason: undefined }, 'inject\'s Host is localhost:80')
  t.same(await post('https://evil.example'), { statusCode: 403, reason: 'Origin checking failed - https://evil.example does not match any trusted origins.' })
  t.same(await post('https://localhost:80'), { statusCode: 403, reason: 'Origin checking failed - https://localhost:80 does not match any trusted origins.' }, 'the scheme counts')
  t.same(await post('null'), { statusCode: 403, reason: 'Origin checking failed - null does not match any trusted origins.' })
  t.equal((await post('https://partner.example')).statusCode, 200)
  t.equal((await post('http://partner.example')).statusCode, 403, 'a trusted origin is scheme + host')
  t.equal((await post('https://a.corp.example')).statusCode, 200)
  t.equal((await post('https://corp.example')).statusCode, 200, "Django's *. also admits the domain itself")
  t.equal((await post('https://evilcorp.example')).statusCode, 403, 'never a suffix of another domain')
  // The Origin is checked before the token: a cross-site POST with a stolen token still fails.
  t.equal((await post('https://evil.example')).reason?.startsWith('Origin checking failed'), true)
})

t.test('on https without Origin, the Referer is checked', async (t) => {
  const app = await csrfApp(t, { csrf: { trustedOrigins: ['https://*.corp.example'] } }, { trustProxy: true })
  const { token, cookies } = await session(app)
  const post = async (headers: Record<string, string>): Promise<{ statusCode: number, reason?: string }> => {
    const res = await app.inject({ method: 'POST', url: '/submit/', headers: { host: 'shop.example', 'x-forwarded-proto': 'https', 'x-csrftoken': token, ...headers }, cookies })
    return { statusCode: res.statusCode, reason: res.statusCode === 403 ? res.json().reason : undefined }
  }
  t.same(await post({}), { statusCode: 403, reason: 'Referer checking failed - no Referer.' })
  t.same(await post({ referer: 'not a url' }), { statusCode: 403, reason: 'Referer checking failed - Referer is malformed.' })
  t.same(await post({ referer: 'http://shop.example/form/' }), { statusCode: 403, reason: 'Referer checking failed - Referer is insecure while host is secure.' })
  t.same(await post({ referer: 'https://evil.example/x' }), { statusCode: 403, reason: 'Referer checking failed - https://evil.example/x does not match any trusted origins.' })
  t.equal((await post({ referer: 'https://shop.example/form/' })).statusCode, 200)
  t.equal((await post({ referer: 'https://a.corp.example/' })).statusCode, 200)
  t.equal((await post({ origin: 'https://shop.example' })).statusCode, 200, 'an Origin replaces the Referer check')
  // Over plain http, no Referer is needed (Django checks it only on https).
  const plain = await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': token }, cookies })
  t.equal(plain.statusCode, 200)
})

t.test('what is not checked: safe methods, exempt views and routes, 404s', async (t) => {
  const app = await csrfApp(t)
  for (const method of ['GET', 'HEAD', 'OPTIONS'] as const) {
    t.not((await app.inject({ method, url: '/submit/' })).statusCode, 403, method)
  }
  t.same((await app.inject({ method: 'POST', url: '/exempt/' })).json(), { exempt: true })
  t.same((await app.inject({ method: 'POST', url: '/config-exempt/' })).json(), { exempt: true })
  t.same((await app.inject({ method: 'POST', url: '/exempt-wrapped/' })).json(), { exempt: true }, 'the mark survives other decorators, as in Django')
  t.equal((await app.inject({ method: 'POST', url: '/class/' })).statusCode, 403, 'class-based views are checked')
  t.equal((await app.inject({ method: 'POST', url: '/nowhere/' })).statusCode, 404, 'a 404 stays a 404')
  t.equal((await app.inject({ method: 'POST', url: '/submit' })).statusCode, 404, 'no APPEND_SLASH redirect for POST, and no 403 either')
})

t.test('plain Fastify routes are checked too, after the middleware\'s request phase', async (t) => {
  const seen: string[] = []
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    urlpatterns: urls(),
    secretKey,
    csrf: true,
    middleware: [
      (getResponse) => async (request) => {
        seen.push(`in ${request.method}`)
        const response = await getResponse(request)
        seen.push(`out ${response.statusCode}`)
        return response
      },
      (getResponse) => {
        const mw = async (request: HttpRequest): Promise<HttpResponse> => await getResponse(request)
        mw.processView = () => { seen.push('processView') }
        return mw
      }
    ]
  })
  app.post('/api/plain', async () => ({ plain: true }))
  app.post('/api/plain-exempt', { config: { csrfExempt: true } }, async () => ({ plain: true }))
  await app.ready()
  const refused = await app.inject({ method: 'POST', url: '/api/plain', payload: {} })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().reason, 'CSRF cookie not set.')
  t.same(seen, ['in POST', 'processView', 'out 403'], 'the user\'s processView runs first; the 403 goes out through the middleware')
  t.equal((await app.inject({ method: 'POST', url: '/api/plain-exempt', payload: {} })).statusCode, 200)
  const { token, cookies } = await session(app)
  const ok = await app.inject({ method: 'POST', url: '/api/plain', headers: { 'x-csrftoken': token }, cookies, payload: {} })
  t.same(ok.json(), { plain: true })
})

t.test('ensureCsrfCookie sets the cookie; rotateToken makes a new secret', async (t) => {
  const app = await csrfApp(t)
  const plain = await app.inject({ url: '/submit/' })
  t.equal((plain.cookies as Cookie[]).length, 0, 'a page that makes no token sets no cookie')
  const ensured = await app.inject({ url: '/ensure/' })
  const names = (ensured.cookies as Cookie[]).map((c) => c.name).sort()
  t.same(names, ['csrfsecret', 'csrftoken'])
  const own = await app.inject({ url: '/own-cookie/' })
  t.same((own.cookies as Cookie[]).map((c) => c.name).sort(), ['csrfsecret', 'csrftoken', 'theme'], "the view's own cookies and the CSRF ones")

  const { token, cookies } = await session(app)
  const rotated = await app.inject({ method: 'POST', url: '/rotate/', headers: { 'x-csrftoken': token }, cookies })
  t.equal(rotated.statusCode, 200)
  const fresh = Object.fromEntries((rotated.cookies as Cookie[]).map((c) => [c.name, c.value]))
  t.not(fresh.csrfsecret, cookies.csrfsecret, 'a new secret cookie')
  t.equal(fresh.csrftoken, rotated.json().token)
  t.equal((await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': token }, cookies: fresh })).statusCode, 403, 'the old token no longer fits')
  t.equal((await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': fresh.csrftoken }, cookies: fresh })).statusCode, 200)
})

t.test('useSessions keeps the secret in request.session', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const secureSession = (await import('@fastify/secure-session')).default
  await app.register(secureSession, { key: randomBytes(32), cookie: { path: '/' } })
  await app.register(asyncViews, { urlpatterns: urls(), secretKey, csrf: { useSessions: true } })
  await app.ready()
  const res = await app.inject({ url: '/form/' })
  const cookies = Object.fromEntries((res.cookies as Cookie[]).map((c) => [c.name, c.value]))
  t.notOk(cookies.csrfsecret, 'no secret cookie')
  t.ok(cookies.session, 'the secret went into the session')
  t.ok(cookies.csrftoken)
  t.equal((await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': cookies.csrftoken }, cookies })).statusCode, 200)
  const noSession = await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': cookies.csrftoken } })
  t.equal(noSession.json().reason, 'CSRF cookie not set.')
})

t.test('bad options and conflicting plugins fail register', async (t) => {
  const attempt = async (options: Record<string, unknown>, before?: (app: ReturnType<typeof Fastify>) => Promise<void>): Promise<unknown> => {
    const app = Fastify()
    t.teardown(() => app.close())
    await before?.(app)
    return await app.register(asyncViews, options as AsyncViewsOptions).ready().then(() => undefined, (error: unknown) => error)
  }
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ csrf: true }, /Option 'csrf' needs the option 'secretKey'/],
    [{ csrf: true, secretKey: 'short' }, /Option 'secretKey' must have 32 characters or more/],
    [{ csrf: 'yes', secretKey }, /Option 'csrf' must be true or an object/],
    [{ csrf: { cookiename: 'x' }, secretKey }, /Unknown option 'csrf.cookiename'/],
    [{ csrf: { trustedOrigins: ['example.com'] }, secretKey }, /csrf.trustedOrigins.*must be an origin with its scheme/],
    [{ csrf: { headerName: 'bad header' }, secretKey }, /csrf.headerName/],
    [{ csrf: { useSessions: true }, secretKey }, /csrf.useSessions' needs sessions/]
  ]
  for (const [options, message] of cases) {
    const error = await attempt(options)
    t.ok(error instanceof ImproperlyConfigured, JSON.stringify(options))
    t.match((error as Error).message, message)
  }
  const protection = (await import('@fastify/csrf-protection')).default
  const cookie = (await import('@fastify/cookie')).default
  const conflict = await attempt({ csrf: true, secretKey }, async (app) => { await app.register(cookie, { secret: 'x'.repeat(32) }); await app.register(protection) })
  t.match((conflict as Error).message, /@fastify\/csrf-protection is already registered/)
  const unsigned = await attempt({ csrf: true, secretKey }, async (app) => { await app.register(cookie) })
  t.match((unsigned as Error).message, /has no 'secret'/)
})

t.test('secretKey fallbacks still verify the secret cookie; a key no longer listed does not', async (t) => {
  const older = 'o'.repeat(40)
  const before = await csrfApp(t, { secretKey: older })
  const { token, cookies } = await session(before)
  const rotated = await csrfApp(t, { secretKey: [secretKey, older] })
  t.equal((await rotated.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': token }, cookies })).statusCode, 200)
  const dropped = await csrfApp(t, { secretKey })
  t.equal((await dropped.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': token }, cookies })).json().reason, 'CSRF cookie not set.')
})

t.test('an adopted @fastify/cookie with a secret serves the secret cookie', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register((await import('@fastify/cookie')).default, { secret: 'app-own-cookie-secret-of-32-chars!!' })
  await app.register(asyncViews, { urlpatterns: urls(), secretKey, csrf: true })
  await app.ready()
  const { token, cookies } = await session(app)
  t.equal((await app.inject({ method: 'POST', url: '/submit/', headers: { 'x-csrftoken': token }, cookies })).statusCode, 200)
})

t.test('an app without csrf or templates pays nothing: no plugin, no hook', async (t) => {
  const app = await build(t, { urlpatterns: urls() })
  t.notOk(app.hasPlugin('@fastify/cookie'))
  t.notOk(app.hasPlugin('@fastify/csrf-protection'))
  t.notOk(app.hasPlugin('@fastify/view'))
  const hooks = (printed: string): string[] => [...new Set([...printed.matchAll(/• \((\w+)\) (.*)/g)].map((m) => `${m[1]} ${m[2]}`))].sort()
  t.same(hooks(app.printRoutes({ includeHooks: true, commonPrefix: false })), ['onRequest ["asyncViewsNotFound()"]'], 'only the 404 hook of the view routes')
  // The same app with csrf has more (so the check above can fail).
  const withCsrf = hooks((await csrfApp(t)).printRoutes({ includeHooks: true, commonPrefix: false }))
  t.ok(withCsrf.some((hook) => hook.includes('fastifyCookieHandler')), withCsrf.join('; '))
})

t.test('without the csrf option, rotateToken does nothing and getToken says what is missing', async (t) => {
  const logs = captureLogs('error')
  const app = await build(t, { urlpatterns: urls() }, logs.options)
  t.same((await app.inject({ method: 'POST', url: '/submit/' })).json(), { ok: true, name: null }, 'nothing is checked')
  const rotate = await app.inject({ method: 'POST', url: '/rotate/' })
  t.equal(rotate.statusCode, 500, 'getToken after rotateToken: the 500 of a missing option')
  t.match(JSON.stringify(logs.lines), "getToken() needs the option 'csrf'")
  t.equal(rotate.cookies.length, 0)
})
