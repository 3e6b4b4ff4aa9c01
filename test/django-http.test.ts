// Django's request, cookie, response and view rules, ported from its suites
// (issue 13): tests/requests_tests, tests/httpwrappers, tests/responses,
// tests/settings_tests (SECURE_PROXY_SSL_HEADER), tests/utils_tests/test_encoding.py
// (iri_to_uri), tests/generic_views/test_base.py, tests/middleware_exceptions.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import asyncViews, {
  path, rePath, View, RedirectView, redirect,
  HttpResponse, JsonResponse, HttpResponseRedirect, HttpResponsePermanentRedirect, HttpResponseNotModified, FileResponse,
  MiddlewareNotUsed, type HttpRequest, type Middleware
} from 'fastify-async-views'
import { build, captureLogs, sleep } from './helpers.ts'

t.test('buildAbsoluteUri: Django\'s joins, a leading // kept as a path, any port (test_build_absolute_uri*)', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      rePath('^(.*)$', async (request: HttpRequest) => {
        const location = request.GET.get('location')
        return { uri: location === undefined ? request.buildAbsoluteUri() : request.buildAbsoluteUri(location) }
      })
    ]
  })
  const uri = async (url: string, host = 'testserver'): Promise<unknown> => (await app.inject({ url, headers: { host } })).json().uri
  t.equal(await uri('//absolute-uri'), 'http://testserver//absolute-uri', 'test_build_absolute_uri_no_location: //absolute-uri')
  t.equal(await uri('/path/with:colons'), 'http://testserver/path/with:colons')
  t.equal(await uri('/path/with/?query=1'), 'http://testserver/path/with/?query=1')
  const at = (location: string): Promise<unknown> => uri('/foo/bar?location=' + encodeURIComponent(location))
  t.equal(await at('baz'), 'http://testserver/foo/baz', 'relative')
  t.equal(await at('?x=1'), 'http://testserver/foo/bar?x=1', 'a query only')
  t.equal(await at('../up/'), 'http://testserver/up/')
  t.equal(await at('/bar/./baz/'), 'http://testserver/bar/baz/', 'dot segments resolved')
  t.equal(await at('//www.example.com/bar'), 'http://www.example.com/bar', 'a network-path reference keeps its host')
  t.equal(await at('https://other.com/x'), 'https://other.com/x')
  t.equal(await at('/café/'), 'http://testserver/caf%C3%A9/', 'IRI-encoded (iri_to_uri)')
  t.equal(await uri('/p/', 'example.com:70000'), 'http://example.com:70000/p/', 'a port over 65535 is joined as text, as in Django (no 500)')
})

t.test('isSecure(): the leftmost X-Forwarded-Proto under trustProxy (SecureProxySslHeaderTest)', async (t) => {
  const view = async (request: HttpRequest): Promise<object> => ({ secure: request.isSecure(), scheme: request.scheme })
  const app = await build(t, { urlpatterns: [path('s/', view)] }, { trustProxy: true })
  const secure = async (proto: string): Promise<unknown> => (await app.inject({ url: '/s/', headers: { 'x-forwarded-proto': proto } })).json().secure
  t.equal(await secure('https'), true)
  t.equal(await secure('https, http'), true, 'test_set_with_xheader_leftmost_right')
  t.equal(await secure('https  , http'), true)
  t.equal(await secure('http, https'), false, 'test_set_with_xheader_leftmost_not_secure')
  t.equal(await secure('http ,wrongvalue,http,http'), false, 'test_set_with_xheader_multiple_not_secure')
  t.equal((await app.inject('/s/')).json().secure, false, 'no header: the connection decides')
  const untrusted = await build(t, { urlpatterns: [path('s/', view)] })
  t.same((await untrusted.inject({ url: '/s/', headers: { 'x-forwarded-proto': 'https' } })).json(), { secure: false, scheme: 'http' }, 'without trustProxy the header is ignored')
})

t.test('COOKIES: Django\'s parse_cookie (httpwrappers CookieTests), UTF-8, __proto__', async (t) => {
  const app = await build(t, { urlpatterns: [path('c/', async (request: HttpRequest) => new JsonResponse({ cookies: request.COOKIES, proto: Object.hasOwn(request.COOKIES, '__proto__') }))] })
  const parse = async (cookie: string): Promise<Record<string, unknown>> => (await app.inject({ url: '/c/', headers: { cookie } })).json()
  t.same((await parse('chips=ahoy; vienna=finger')).cookies, { chips: 'ahoy', vienna: 'finger' }, 'test_python_cookies')
  t.same((await parse('keebler=E=mc2')).cookies, { keebler: 'E=mc2' })
  t.same((await parse('key:term=value:term')).cookies, { 'key:term': 'value:term' })
  t.same((await parse('a=b; c=[; d=r; f=h')).cookies, { a: 'b', c: '[', d: 'r', f: 'h' })
  t.same((await parse('a=b; Domain=example.com')).cookies, { a: 'b', Domain: 'example.com' }, 'test_cookie_edgecases')
  t.same((await parse('a=b; h=i; a=c')).cookies, { a: 'c', h: 'i' }, 'a repeated name keeps the last value')
  t.same((await parse('a=b; "; c=d')).cookies, { a: 'b', '': '"', c: 'd' }, 'test_invalid_cookies: a chunk without = is an unnamed value')
  t.same((await parse('a b c=d e = f; gh=i')).cookies, { 'a b c': 'd e = f', gh: 'i' })
  t.same((await parse('  =  b  ;  ;  =  ;   c  =  ;  ')).cookies, { '': 'b', c: '' })
  // Node hands header bytes over as Latin-1: UTF-8 bytes must read as UTF-8 (handlers tests: test_non_ascii_cookie).
  const utf8 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1')
  t.same((await parse(utf8('want="café"'))).cookies, { want: 'café' })
  t.same((await parse(utf8('saint=André Bessette'))).cookies, { saint: 'André Bessette' })
  const proto = await parse('__proto__=x; a=1')
  t.equal(proto.proto, true, 'a cookie named __proto__ is an ordinary key')
  t.equal((proto.cookies as Record<string, string>).a, '1')
  t.equal(Object.getOwnPropertyDescriptor(proto.cookies, '__proto__')?.value, 'x')
})

t.test('request.headers: underscores find hyphens; POST honours charset=', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('h/', async (request: HttpRequest) => ({ ua: request.headers.get('user_agent'), has: request.headers.has('User_Agent') })),
      path('form/', async (request: HttpRequest) => ({ key: request.POST.get('key'), all: request.POST.getlist('key') }))
    ]
  })
  t.same((await app.inject({ url: '/h/', headers: { 'user-agent': 'python-requests/1.2.0' } })).json(), { ua: 'python-requests/1.2.0', has: true })
  // requests_tests test_alternate_charset_POST: urlencode({'key': 'España'}, encoding='latin-1')
  const latin1 = await app.inject({ method: 'POST', url: '/form/', payload: 'key=Espa%F1a', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1' } })
  t.same(latin1.json(), { key: 'España', all: ['España'] })
  const utf8 = await app.inject({ method: 'POST', url: '/form/', payload: 'key=Espa%C3%B1a+x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.same(utf8.json().key, 'España x')
  const unknown = await app.inject({ method: 'POST', url: '/form/', payload: 'key=Espa%C3%B1a', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=no-such-charset' } })
  t.same(unknown.json().key, 'España', 'an unknown charset is ignored (UTF-8)')
})

t.test('setCookie: expires also sets Max-Age (responses/test_cookie.py)', async (t) => {
  const r = new HttpResponse()
  const expires = new Date(Date.now() + 10000)
  // As Django's test: a little time passes, else the cookie gets a second more.
  await sleep(5)
  r.setCookie('datetime', 'v', { expires })
  t.match(r.cookies[0], /; Max-Age=10; Expires=/, 'test_near_expiration: Max-Age 10')
  t.throws(() => r.setCookie('both', 'v', { expires: new Date(2000, 0, 1), maxAge: 3600 }), { name: 'TypeError', message: "'expires' and 'maxAge' can't be used together." }, 'test_max_age_with_expires')
  r.setCookie('past', 'v', { expires: new Date(0) })
  t.match(r.cookies[1], /; Max-Age=0; /, 'a date in the past: Max-Age=0')
  r.setCookie('text', 'v', { expires: 'Wed, 21 Oct 2015 07:28:00 GMT' })
  t.match(r.cookies[2], /^text=v; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=\/$/, 'a date string is sent as given, without Max-Age')
  r.deleteCookie('gone')
  t.match(r.cookies[3], /; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT/)
})

t.test('responses: contentType with a Content-Type header, content on a 304 (httpwrappers)', async (t) => {
  t.throws(() => new HttpResponse('x', { contentType: 'text/plain', headers: { 'Content-Type': 'text/html' } }), { name: 'TypeError', message: "'headers' must not contain 'Content-Type' when the 'contentType' option is provided." })
  const notModified = new HttpResponseNotModified()
  t.throws(() => { notModified.content = 'Hello dear' }, { message: 'You cannot set content to a 304 (Not Modified) response' }, 'test_not_modified')
  notModified.content = ''
  t.equal(notModified.content.length, 0, 'empty content is allowed')
})

t.test('redirects are IRI-encoded as Django\'s iri_to_uri (test_encoding.test_iri_to_uri)', async (t) => {
  for (const [iri, uri] of [
    ['/café/', '/caf%C3%A9/'],
    ['/日本/', '/%E6%97%A5%E6%9C%AC/'],
    ['/a b/', '/a%20b/'],
    ['red%09rosé#red', 'red%09ros%C3%A9#red'],
    ['/blog/for/Jürgen Münster/', '/blog/for/J%C3%BCrgen%20M%C3%BCnster/'],
    ['locations/?place=Paris', 'locations/?place=Paris'],
    ['%&', '%&'],
    ['red&♥ros%#red', 'red&%E2%99%A5ros%#red']
  ]) {
    t.equal(new HttpResponseRedirect(iri).headers.get('location'), uri, iri)
  }
  t.equal(new HttpResponsePermanentRedirect('https://example.com/ü?q=ä').url, 'https://example.com/%C3%BC?q=%C3%A4')

  class ToUnicode extends RedirectView { override url = '/ünicode/%(id)s/' }
  const app = await build(t, {
    urlpatterns: [
      path('shortcut/', async () => redirect('/café/')),
      path('by-name/', async () => redirect('target', { kwargs: { slug: 'é' } })),
      path('view/<str:id>/', ToUnicode.asView()),
      path('target/<str:slug>/', async () => ({}), { name: 'target' }),
      path('int/<int:n>/', async () => ({}), { name: 'int' }),
      rePath('^old/([0-9]+)/$', RedirectView.asView({ patternName: 'int' }))
    ]
  })
  t.equal((await app.inject('/shortcut/')).headers.location, '/caf%C3%A9/', 'redirect()')
  t.equal((await app.inject('/by-name/')).headers.location, '/target/%C3%A9/', 'redirect() by name')
  t.equal((await app.inject('/view/ß/')).headers.location, '/%C3%BCnicode/%C3%9F/', 'RedirectView')
  // A regex group's string '01' reverses onto <int:n> (it matches int's regex), so no 500.
  const old = await app.inject('/old/01/')
  t.equal(old.statusCode, 302)
  t.equal(old.headers.location, '/int/01/')
})

t.test('FileResponse: compressed files get the compression\'s type (test_compressed_response)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fav-types-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const [ext, type] of [['.tar.gz', 'application/gzip'], ['.tar.br', 'application/x-brotli'], ['.tar.bz2', 'application/x-bzip'], ['.tar.xz', 'application/x-xz'], ['.tar.Z', 'application/x-compress']]) {
    const file = join(dir, 'test' + ext)
    writeFileSync(file, 'x')
    t.equal(new FileResponse(file).headers.get('content-type'), type, ext)
  }
})

t.test('a View whose setup() skips super is a 500 (generic_views test_overridden_setup)', async (t) => {
  class SetAttributeMixin extends View {
    override setup (): void { /* forgot super.setup() */ }
    get (): HttpResponse { return new HttpResponse('ok') }
  }
  const logs = captureLogs('error')
  const app = await build(t, { urlpatterns: [path('v/', SetAttributeMixin.asView())] }, logs.options)
  t.equal((await app.inject('/v/')).statusCode, 500)
  t.match(logs.lines.find((l) => l.err !== undefined)?.err.message, "SetAttributeMixin instance has no 'request' attribute. Did you override setup() and forget to call super.setup()?")
})

t.test('MiddlewareNotUsed: logged with its message, only in debug (middleware_exceptions MiddlewareNotUsedTests)', async (t) => {
  const unused = (message: string): Middleware => Object.defineProperty((() => { throw new MiddlewareNotUsed(message) }) as unknown as Middleware, 'name', { value: message === '' ? 'Quiet' : 'Loud' })
  for (const debug of [true, false]) {
    const logs = captureLogs('debug')
    await build(t, { debug, urlpatterns: [path('x/', async () => ({}))], middleware: [unused('spam eggs'), unused('')] }, logs.options)
    const messages = logs.lines.map((l) => l.msg)
    if (debug) {
      t.ok(messages.includes('MiddlewareNotUsed(Loud): spam eggs'), 'test_log_custom_message')
      t.ok(messages.includes('MiddlewareNotUsed: Quiet'), 'test_log')
    } else {
      t.notOk(messages.some((m) => String(m).startsWith('MiddlewareNotUsed')), 'test_do_not_log_when_debug_is_false')
    }
  }
})

t.test('middleware on a plain Fastify route reads the raw body bytes (an HMAC must match)', async (t) => {
  const seen: string[] = []
  const signature: Middleware = (getResponse) => async (request) => {
    seen.push(request.body.toString('utf8'))
    return await getResponse(request)
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, { urlpatterns: [], middleware: [signature] })
  app.post('/webhook', async (req) => ({ got: req.body }))
  app.get('/plain', async () => ({ ok: true }))
  await app.ready()
  const raw = '{ "amount": 10.0 }'
  const res = await app.inject({ method: 'POST', url: '/webhook', payload: raw, headers: { 'content-type': 'application/json' } })
  t.same(res.json(), { got: { amount: 10 } }, 'the route still gets its parsed JSON')
  t.equal(seen[0], raw, 'middleware sees the bytes as sent, not re-encoded JSON')
  await app.inject('/plain')
  t.equal(seen[1], '', 'a GET has an empty body')
})
