import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import {
  path,
  HttpResponse,
  JsonResponse,
  HttpResponseRedirect,
  HttpResponsePermanentRedirect,
  HttpResponseNotAllowed,
  HttpResponseBadRequest,
  HttpResponseForbidden,
  HttpResponseNotFound,
  HttpResponseGone,
  HttpResponseServerError,
  HttpResponseNotModified,
  DisallowedRedirect,
  SuspiciousOperation,
  type HttpRequest,
  type ViewFunction
} from 'fastify-async-views'
import { build, captureLogs } from './helpers.ts'

const HTML = 'text/html; charset=utf-8'
const PRODUCTION_500 = { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' }

// A view that returns what a test wants, typed loosely on purpose (some tests return wrong things).
const returning = (value: () => unknown): ViewFunction<any> => (async () => value()) as ViewFunction<any>

/** The cookie attributes of one Set-Cookie line: `{ '': 'name=value', 'max-age': '3600', secure: true, ... }`. */
function cookieParts (line: string): Record<string, string | true> {
  const [pair, ...attributes] = line.split(';').map((part) => part.trim())
  const parts: Record<string, string | true> = { '': pair }
  for (const attribute of attributes) {
    const eq = attribute.indexOf('=')
    if (eq === -1) parts[attribute.toLowerCase()] = true
    else parts[attribute.slice(0, eq).toLowerCase()] = attribute.slice(eq + 1)
  }
  return parts
}

function thrownBy (fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

function setCookies (res: LightMyRequestResponse): string[] {
  const value = res.headers['set-cookie']
  if (value === undefined) return []
  return Array.isArray(value) ? value : [String(value)]
}

t.test('HttpResponse: status, bytes and the default content type', async (t) => {
  t.test('as an object', async (t) => {
    const r = new HttpResponse('héllo')
    t.equal(r.statusCode, 200)
    t.ok(Buffer.isBuffer(r.content), 'content is a Buffer')
    t.same(r.content, Buffer.from('héllo', 'utf8'))
    t.equal(r.headers.get('Content-Type'), HTML)
    t.equal(r.streaming, false)

    const fromBuffer = new HttpResponse(Buffer.from([0, 1, 2, 255]))
    t.ok(Buffer.isBuffer(fromBuffer.content))
    t.same([...fromBuffer.content], [0, 1, 2, 255])

    // A view on part of a larger buffer: only the viewed bytes are the body.
    const backing = new Uint8Array([9, 9, 104, 105, 9])
    const fromView = new HttpResponse(backing.subarray(2, 4))
    t.ok(Buffer.isBuffer(fromView.content), 'a Uint8Array becomes a Buffer')
    t.equal(fromView.content.toString(), 'hi')

    const empty = new HttpResponse()
    t.same(empty.content, Buffer.alloc(0))

    const options = new HttpResponse('x', { status: 418, contentType: 'text/plain', headers: { 'X-One': '1' } })
    t.equal(options.statusCode, 418)
    t.equal(options.headers.get('content-type'), 'text/plain')
    t.equal(options.headers.get('x-one'), '1')
  })

  t.test('through a view', async (t) => {
    const app = await build(t, {
      urlpatterns: [
        path('html/', async () => new HttpResponse('<p>héllo</p>')),
        path('created/', async () => new HttpResponse('made', { status: 201, contentType: 'text/plain; charset=utf-8', headers: { 'X-Custom': 'yes' } })),
        path('bytes/', async () => new HttpResponse(new Uint8Array([0, 1, 2, 250, 255]), { contentType: 'application/octet-stream' })),
        path('buffer/', async () => new HttpResponse(Buffer.from('buf'))),
        path('iterable-headers/', async () => new HttpResponse('ok', { headers: new Map([['X-From-Map', 'm']]) }))
      ]
    })

    const html = await app.inject('/html/')
    t.equal(html.statusCode, 200)
    t.equal(html.headers['content-type'], HTML)
    t.equal(html.body, '<p>héllo</p>')
    t.equal(html.headers['content-length'], String(Buffer.byteLength('<p>héllo</p>')))

    const created = await app.inject('/created/')
    t.equal(created.statusCode, 201)
    t.equal(created.headers['content-type'], 'text/plain; charset=utf-8')
    t.equal(created.headers['x-custom'], 'yes')
    t.equal(created.body, 'made')

    const bytes = await app.inject('/bytes/')
    t.equal(bytes.statusCode, 200)
    t.equal(bytes.headers['content-type'], 'application/octet-stream')
    t.same([...bytes.rawPayload], [0, 1, 2, 250, 255])
    t.equal(bytes.headers['content-length'], '5')

    const buffer = await app.inject('/buffer/')
    t.equal(buffer.headers['content-type'], HTML)
    t.equal(buffer.body, 'buf')

    const fromMap = await app.inject('/iterable-headers/')
    t.equal(fromMap.headers['x-from-map'], 'm', 'headers may be given as an iterable of pairs')
  })
})

t.test('headers are case-insensitive: get, set, has, delete', async (t) => {
  const r = new HttpResponse('x', { headers: { 'X-Given': 'g' } })
  t.equal(r.headers.get('x-given'), 'g')
  t.equal(r.headers.get('X-GIVEN'), 'g')
  t.ok(r.headers.has('x-GiVeN'))
  t.notOk(r.headers.has('x-missing'))
  t.equal(r.headers.get('x-missing'), undefined)

  r.headers.set('X-Foo', 'one')
  t.equal(r.headers.get('x-foo'), 'one')
  r.headers.set('x-FOO', 'two')
  t.equal(r.headers.get('X-Foo'), 'two', 'set with another case replaces')
  t.equal([...r.headers.keys()].filter((k) => k.toLowerCase() === 'x-foo').length, 1, 'one entry per name')

  t.ok(r.headers.delete('X-FOO'))
  t.notOk(r.headers.has('x-foo'))
  t.equal(r.headers.get('x-foo'), undefined)
  t.notOk(r.headers.delete('x-foo'), 'deleting a missing header says so')

  r.headers.set('Content-Type', 'text/plain')
  t.equal(r.headers.get('content-type'), 'text/plain', 'the content type is a header like the others')

  const app = await build(t, {
    urlpatterns: [
      path('headers/', async () => {
        const response = new HttpResponse('ok', { headers: { 'X-Drop': 'd', 'X-Keep': 'k' } })
        response.headers.set('X-Mixed-Case', 'a')
        response.headers.set('x-mixed-case', 'b')
        response.headers.delete('x-drop')
        response.headers.set('CONTENT-TYPE', 'text/plain; charset=utf-8')
        return response
      })
    ]
  })
  const res = await app.inject('/headers/')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-mixed-case'], 'b')
  t.equal(res.headers['x-keep'], 'k')
  t.equal(res.headers['x-drop'], undefined, 'a deleted header is not sent')
  t.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  t.equal(typeof res.headers['x-mixed-case'], 'string', 'sent once')
})

t.test('setting content replaces the body', async (t) => {
  const r = new HttpResponse('old')
  r.content = 'new'
  t.same(r.content, Buffer.from('new'))
  r.content = Buffer.from('newer')
  t.same(r.content, Buffer.from('newer'))
  r.content = new Uint8Array([111, 107])
  t.same(r.content, Buffer.from('ok'))

  const app = await build(t, {
    urlpatterns: [
      path('replace/', async () => {
        const response = new HttpResponse('a long original body')
        response.content = 'short'
        return response
      })
    ]
  })
  const res = await app.inject('/replace/')
  t.equal(res.body, 'short')
  t.equal(res.headers['content-length'], '5')
})

t.test('setCookie: one Set-Cookie header per cookie, with its attributes', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('cookies/', async () => {
        const r = new HttpResponse('ok')
        r.setCookie('session', 'abc123', { maxAge: 3600, path: '/app', domain: 'example.com', secure: true, httpOnly: true, sameSite: 'Lax' })
        r.setCookie('theme', 'dark')
        r.setCookie('until', '1', { expires: new Date('2030-01-02T03:04:05Z') })
        r.setCookie('strict', 's', { sameSite: 'strict' })
        r.setCookie('none', 'n', { sameSite: 'None', secure: true })
        r.setCookie('twice', 'first')
        r.setCookie('twice', 'second')
        r.setCookie('odd', 'a b;c,d"é')
        return r
      }),
      path('echo-cookies/', async (request: HttpRequest) => new JsonResponse({ ...request.COOKIES }))
    ]
  })
  const before = Date.now()
  const res = await app.inject('/cookies/')
  t.equal(res.statusCode, 200)
  const lines = setCookies(res)
  t.equal(lines.length, 7, 'one header per cookie name (a name set twice is sent once)')
  const byName = new Map(lines.map((line) => [line.slice(0, line.indexOf('=')), cookieParts(line)]))

  const session = byName.get('session')
  t.ok(session)
  if (session !== undefined) {
    t.equal(session[''], 'session=abc123')
    t.equal(session['max-age'], '3600')
    t.equal(session.path, '/app')
    t.equal(session.domain, 'example.com')
    t.equal(session.secure, true)
    t.equal(session.httponly, true)
    t.equal(session.samesite, 'Lax')
    // Max-Age also gives Expires for old clients, as Django does: about an hour from now.
    if (typeof session.expires === 'string') {
      const expires = Date.parse(session.expires)
      t.ok(expires >= before + 3_595_000 && expires <= Date.now() + 3_605_000, `Expires is max-age from now (${session.expires})`)
    }
  }

  const theme = byName.get('theme')
  t.same(theme, { '': 'theme=dark', path: '/' }, 'a plain cookie: path / and nothing else')

  // Django's test_far_expiration: a date becomes Max-Age, and Expires is derived from it (maybe a second later).
  t.ok(['Wed, 02 Jan 2030 03:04:05 GMT', 'Wed, 02 Jan 2030 03:04:06 GMT'].includes(byName.get('until')?.expires as string), 'Expires from the date')
  t.ok(Number(byName.get('until')?.['max-age']) > 0, 'an expires date also sets Max-Age')
  t.equal(byName.get('strict')?.samesite, 'Strict')
  t.equal(byName.get('none')?.samesite, 'None')
  t.equal(byName.get('none')?.secure, true)
  t.equal(byName.get('twice')?.[''], 'twice=second', 'the last value set wins')

  // A value with separators cannot break the header, and comes back intact.
  const odd = lines.find((line) => line.startsWith('odd='))
  t.ok(odd)
  t.notMatch(odd?.split(';')[0] ?? '', /[ ;,"]/, 'separators in a value are encoded')
  const cookieHeader = lines.map((line) => line.split(';')[0]).join('; ')
  const echoed = await app.inject({ url: '/echo-cookies/', headers: { cookie: cookieHeader } })
  t.equal(echoed.json().odd, 'a b;c,d"é', 'request.COOKIES decodes what setCookie encoded')
  t.equal(echoed.json().session, 'abc123')
})

t.test('deleteCookie expires the cookie', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('logout/', async () => {
        const r = new HttpResponse('bye')
        r.deleteCookie('session', { path: '/app', domain: 'example.com' })
        r.deleteCookie('plain')
        r.deleteCookie('__Secure-token')
        return r
      })
    ]
  })
  const res = await app.inject('/logout/')
  const lines = setCookies(res)
  t.equal(lines.length, 3)
  const [session, plain, secure] = lines.map(cookieParts)

  t.equal(session[''], 'session=', 'value emptied')
  t.equal(session['max-age'], '0')
  t.equal(typeof session.expires, 'string')
  t.ok(Date.parse(session.expires as string) <= Date.parse('1970-01-02T00:00:00Z'), `expired in the past (${String(session.expires)})`)
  t.equal(session.path, '/app', 'same path as when set')
  t.equal(session.domain, 'example.com', 'same domain as when set')

  t.equal(plain[''], 'plain=')
  t.equal(plain['max-age'], '0')
  t.equal(plain.path, '/')

  t.equal(secure.secure, true, 'a __Secure- cookie is deleted with Secure, as Django does')
})

t.test('JsonResponse', async (t) => {
  t.test('safe (the default) only takes plain objects', async (t) => {
    class Point { x = 1; y = 2 }
    t.throws(() => new JsonResponse([1, 2, 3]), TypeError, 'array')
    t.throws(() => new JsonResponse(new Point()), TypeError, 'class instance')
    t.throws(() => new JsonResponse(new Map([['a', 1]])), TypeError, 'Map')
    t.throws(() => new JsonResponse(new Date(0)), TypeError, 'Date')
    t.throws(() => new JsonResponse('text'), TypeError, 'string')
    t.throws(() => new JsonResponse(42), TypeError, 'number')
    t.throws(() => new JsonResponse(null), TypeError, 'null')
    t.throws(() => new JsonResponse([1], { safe: true }), TypeError, 'explicit safe')

    const plain = new JsonResponse({ a: 1, nested: { b: [1, 'two'] } })
    t.same(JSON.parse(plain.content.toString()), { a: 1, nested: { b: [1, 'two'] } })
    t.equal(plain.headers.get('content-type'), 'application/json')
    t.equal(plain.statusCode, 200)

    const bare = Object.create(null) as Record<string, unknown>
    bare.k = 'v'
    t.same(JSON.parse(new JsonResponse(bare).content.toString()), { k: 'v' }, 'a null-prototype object is plain')
  })

  t.test('safe: false allows any JSON value', async (t) => {
    t.same(JSON.parse(new JsonResponse([1, 2, 3], { safe: false }).content.toString()), [1, 2, 3])
    t.equal(new JsonResponse('text', { safe: false }).content.toString(), '"text"')
    t.equal(new JsonResponse(null, { safe: false }).content.toString(), 'null')
    class Point { x = 1; y = 2 }
    t.same(JSON.parse(new JsonResponse(new Point(), { safe: false }).content.toString()), { x: 1, y: 2 })
  })

  t.test('through views', async (t) => {
    const app = await build(t, {
      urlpatterns: [
        path('json/', async () => new JsonResponse({ ok: true, n: 1 })),
        path('json-options/', async () => new JsonResponse({ made: 'it' }, { status: 201, headers: { 'X-Json': 'yes', Location: '/things/1/' } })),
        path('json-array/', async () => new JsonResponse([{ id: 1 }, { id: 2 }], { safe: false })),
        path('json-unsafe/', async () => new JsonResponse([1, 2]))
      ]
    })
    const json = await app.inject('/json/')
    t.equal(json.statusCode, 200)
    t.match(json.headers['content-type'], /^application\/json\b/)
    t.same(json.json(), { ok: true, n: 1 })

    const options = await app.inject('/json-options/')
    t.equal(options.statusCode, 201)
    t.match(options.headers['content-type'], /^application\/json\b/)
    t.equal(options.headers['x-json'], 'yes')
    t.equal(options.headers.location, '/things/1/')
    t.same(options.json(), { made: 'it' })

    const array = await app.inject('/json-array/')
    t.equal(array.statusCode, 200)
    t.same(array.json(), [{ id: 1 }, { id: 2 }])

    const unsafe = await app.inject('/json-unsafe/')
    t.equal(unsafe.statusCode, 500, 'the TypeError from a view is a 500')
    t.same(unsafe.json(), PRODUCTION_500)
  })
})

t.test('redirects', async (t) => {
  t.test('as objects', async (t) => {
    const found = new HttpResponseRedirect('/target/?a=1&b=2')
    t.equal(found.statusCode, 302)
    t.equal(found.headers.get('Location'), '/target/?a=1&b=2')
    t.equal(found.url, '/target/?a=1&b=2')
    t.ok(found instanceof HttpResponse)

    const moved = new HttpResponsePermanentRedirect('https://example.com/new/')
    t.equal(moved.statusCode, 301)
    t.equal(moved.url, 'https://example.com/new/')

    t.equal(new HttpResponseRedirect(new URL('http://example.com/a b')).url, 'http://example.com/a%20b', 'a URL object is accepted')
    t.equal(new HttpResponseRedirect('ftp://example.com/f').url, 'ftp://example.com/f')
    t.equal(new HttpResponseRedirect('HTTPS://example.com/').url, 'HTTPS://example.com/', 'scheme is case-insensitive')
    t.equal(new HttpResponseRedirect('relative/path').url, 'relative/path')
  })

  t.test('unsafe schemes are refused with DisallowedRedirect (a SuspiciousOperation)', async (t) => {
    for (const url of ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox(1)', 'file:///etc/passwd']) {
      for (const Redirect of [HttpResponseRedirect, HttpResponsePermanentRedirect]) {
        const error = thrownBy(() => new Redirect(url))
        t.ok(error instanceof DisallowedRedirect, `${Redirect.name}(${url}) throws DisallowedRedirect`)
        t.ok(error instanceof SuspiciousOperation, 'which is a SuspiciousOperation')
        t.equal((error as { statusCode?: number } | undefined)?.statusCode, 400)
      }
    }
  })

  t.test('through views', async (t) => {
    const app = await build(t, {
      urlpatterns: [
        path('found/', async () => new HttpResponseRedirect('/elsewhere/?q=1')),
        path('moved/', async () => new HttpResponsePermanentRedirect('https://example.com/moved/')),
        path('evil/', async () => new HttpResponseRedirect('javascript:alert(document.cookie)')),
        path('evil-permanent/', async () => new HttpResponsePermanentRedirect('JAVASCRIPT:alert(1)')),
        path('crlf/', async () => new HttpResponseRedirect('/a\r\nSet-Cookie: pwned=1')),
        path('ok/', async () => new HttpResponse('ok'))
      ]
    })
    const found = await app.inject('/found/')
    t.equal(found.statusCode, 302)
    t.equal(found.headers.location, '/elsewhere/?q=1')
    t.equal(found.body, '')

    const moved = await app.inject('/moved/')
    t.equal(moved.statusCode, 301)
    t.equal(moved.headers.location, 'https://example.com/moved/')

    for (const url of ['/evil/', '/evil-permanent/']) {
      const evil = await app.inject(url)
      t.equal(evil.statusCode, 400, `${url}: DisallowedRedirect is a SuspiciousOperation, so 400`)
      t.equal(evil.headers.location, undefined, `${url}: no Location sent`)
      t.match(evil.json(), { statusCode: 400, error: 'Bad Request' })
    }

    // Django IRI-encodes a redirect target (iri_to_uri), so CR/LF can never split the header.
    const crlf = await app.inject('/crlf/')
    t.equal(crlf.statusCode, 302, 'a Location with CR/LF is percent-encoded')
    t.equal(crlf.headers.location, '/a%0D%0ASet-Cookie:%20pwned=1')
    t.equal(crlf.headers['set-cookie'], undefined)
    t.equal((await app.inject('/ok/')).statusCode, 200)
  })

  // Django parses the URL as browsers do: leading spaces/control characters are
  // stripped and tabs/newlines removed before the scheme is checked, so these
  // are refused too (a browser or proxy would see `javascript:`).
  t.test('obfuscated javascript: URLs are refused as well', async (t) => {
    const urls = [' javascript:alert(1)', '\tjavascript:alert(1)', 'java\tscript:alert(1)', 'jav\tascript:alert(1)']
    for (const url of urls) {
      t.ok(thrownBy(() => new HttpResponseRedirect(url)) instanceof DisallowedRedirect, `${JSON.stringify(url)} throws DisallowedRedirect`)
    }
    const app = await build(t, {
      urlpatterns: [path('evil/<int:i>/', async (_request: HttpRequest, { i }: { i: number }) => new HttpResponseRedirect(urls[i]))]
    })
    for (let i = 0; i < urls.length; i++) {
      const res = await app.inject(`/evil/${i}/`)
      t.equal(res.statusCode, 400, `${JSON.stringify(urls[i])} -> 400`)
      t.equal(res.headers.location, undefined, `${JSON.stringify(urls[i])}: no Location sent`)
    }
  })
})

t.test('every status class', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('not-allowed/', async () => new HttpResponseNotAllowed(['GET', 'POST'])),
      path('not-allowed-body/', async () => new HttpResponseNotAllowed(['GET'], 'use GET')),
      path('bad-request/', async () => new HttpResponseBadRequest('bad input')),
      path('forbidden/', async () => new HttpResponseForbidden('<h1>no</h1>')),
      path('not-found/', async () => new HttpResponseNotFound('nothing here')),
      path('gone/', async () => new HttpResponseGone('long gone')),
      path('server-error/', async () => new HttpResponseServerError('oops')),
      path('not-found-json/', async () => new HttpResponseNotFound('{"missing":true}', { contentType: 'application/json', headers: { 'X-Why': 'because' } })),
      path('not-modified/', async () => new HttpResponseNotModified({ headers: { ETag: '"v1"' } }))
    ]
  })

  const notAllowed = await app.inject('/not-allowed/')
  t.equal(notAllowed.statusCode, 405)
  t.equal(notAllowed.headers.allow, 'GET, POST')
  const notAllowedObject = new HttpResponseNotAllowed(['GET', 'POST'])
  t.equal(notAllowedObject.statusCode, 405)
  t.equal(notAllowedObject.headers.get('Allow'), 'GET, POST')
  const withBody = await app.inject('/not-allowed-body/')
  t.equal(withBody.statusCode, 405)
  t.equal(withBody.headers.allow, 'GET')
  t.equal(withBody.body, 'use GET')

  const cases: Array<[string, number, string]> = [
    ['/bad-request/', 400, 'bad input'],
    ['/forbidden/', 403, '<h1>no</h1>'],
    ['/not-found/', 404, 'nothing here'],
    ['/gone/', 410, 'long gone'],
    ['/server-error/', 500, 'oops']
  ]
  for (const [url, status, body] of cases) {
    const res = await app.inject(url)
    t.equal(res.statusCode, status, `${url} status`)
    t.equal(res.body, body, `${url} body is the view's, not an error body`)
    t.equal(res.headers['content-type'], HTML, `${url} content type`)
  }
  t.equal(new HttpResponseBadRequest().statusCode, 400)
  t.equal(new HttpResponseForbidden().statusCode, 403)
  t.equal(new HttpResponseNotFound().statusCode, 404)
  t.equal(new HttpResponseGone().statusCode, 410)
  t.equal(new HttpResponseServerError().statusCode, 500)
  t.ok(new HttpResponseGone() instanceof HttpResponse)

  const json404 = await app.inject('/not-found-json/')
  t.equal(json404.statusCode, 404)
  t.match(json404.headers['content-type'], /^application\/json\b/)
  t.equal(json404.headers['x-why'], 'because')
  t.same(json404.json(), { missing: true })

  const object304 = new HttpResponseNotModified()
  t.equal(object304.statusCode, 304)
  t.notOk(object304.headers.has('content-type'), 'no content type on the object')
  t.equal(object304.content.length, 0)

  const notModified = await app.inject('/not-modified/')
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.rawPayload.length, 0, 'no body')
  t.equal(notModified.headers.etag, '"v1"', 'headers given are kept')
  t.equal(notModified.headers['content-type'], undefined, 'no content type on the wire')
  // RFC 9110 8.6: a 304 must not carry a Content-Length other than the 200's.
  t.not(notModified.headers['content-length'], '0', 'no Content-Length: 0 on a 304')
})

t.test('bad header names or values set by a view: a 500, never sent', async (t) => {
  const logs = captureLogs()
  const bad: Record<string, () => HttpResponse> = {
    'ctor-crlf': () => new HttpResponse('x', { headers: { 'X-Evil': 'a\r\nSet-Cookie: pwned=1' } }),
    'ctor-lf': () => new HttpResponse('x', { headers: { 'X-Evil': 'a\nX-Injected: 1' } }),
    'ctor-cr': () => new HttpResponse('x', { headers: { 'X-Evil': 'a\rX-Injected: 1' } }),
    'ctor-nul': () => new HttpResponse('x', { headers: { 'X-Evil': 'a\0b' } }),
    'ctor-wide': () => new HttpResponse('x', { headers: { 'X-Evil': 'price: 5\u20ac' } }),
    'ctor-wide-2': () => new HttpResponse('x', { headers: { 'X-Evil': '\u0100' } }),
    'ctor-array': () => new HttpResponse('x', { headers: { 'X-Evil': ['fine', 'not\r\nfine'] } }),
    'ctor-name-space': () => new HttpResponse('x', { headers: { 'X Evil': '1' } }),
    'ctor-name-crlf': () => new HttpResponse('x', { headers: { 'X-Evil\r\nX-Injected': '1' } }),
    'ctor-name-nul': () => new HttpResponse('x', { headers: { 'X-Evil\0': '1' } }),
    'ctor-name-wide': () => new HttpResponse('x', { headers: { 'X-\u00e9vil': '1' } }),
    'json-ctor': () => new JsonResponse({ a: 1 }, { headers: { 'X-Evil': 'a\r\nX-Injected: 1' } }),
    'set-crlf': () => { const r = new HttpResponse('x'); r.headers.set('X-Evil', 'a\r\nX-Injected: 1'); return r },
    'set-nul': () => { const r = new HttpResponse('x'); r.headers.set('X-Evil', '\0'); return r },
    'set-wide': () => { const r = new HttpResponse('x'); r.headers.set('X-Evil', '\u2028'); return r },
    'set-name': () => { const r = new HttpResponse('x'); r.headers.set('X-Evil\n', 'v'); return r },
    'set-name-colon': () => { const r = new HttpResponse('x'); r.headers.set('X-Evil: v\r\nX-Injected', 'v'); return r },
    'content-type-crlf': () => new HttpResponse('x', { contentType: 'text/html\r\nX-Injected: 1' }),
    'content-type-wide': () => new HttpResponse('x', { contentType: 'text/html; charset=\u20ac' }),
    'cookie-path-ctl': () => { const r = new HttpResponse('x'); r.setCookie('c', 'v', { path: '/\x01X-Injected' }); return r },
    'cookie-domain-wide': () => { const r = new HttpResponse('x'); r.setCookie('c', 'v', { domain: 'ex\u20ac.com' }); return r }
  }
  const urlpatterns = [
    path('ok/', async () => new HttpResponse('still fine')),
    path('bad/<str:which>/', async (_request: HttpRequest, { which }: { which: string }) => bad[which]())
  ]
  const app = await build(t, { urlpatterns }, logs.options)

  for (const which of Object.keys(bad)) {
    const res = await app.inject(`/bad/${which}/`)
    t.equal(res.statusCode, 500, `${which}: 500`)
    t.match(res.headers['content-type'], /^application\/json/, `${which}: a JSON problem body`)
    let body: unknown
    try { body = res.json() } catch { body = res.body }
    t.same(body, PRODUCTION_500, `${which}: the production 500 body`)
    t.equal(res.headers['x-evil'], undefined, `${which}: the bad header is not sent`)
    t.equal(res.headers['x-injected'], undefined, `${which}: nothing injected`)
    t.equal(res.headers['set-cookie'], undefined, `${which}: no cookie injected or sent`)
    t.notMatch(JSON.stringify(res.headers), /pwned|X-Injected|\u20ac/i, `${which}: nothing of the bad value on the wire`)

    const ok = await app.inject('/ok/')
    t.equal(ok.statusCode, 200, `after ${which}: later requests work`)
    t.equal(ok.body, 'still fine')
  }
  t.ok(logs.lines.some((line) => line.level >= 50), 'the failures are logged as errors')
})

t.test('what a view returns', async (t) => {
  class Thing { value = 1 }
  async function returnsString () { return 'hello' }
  async function returnsNumber () { return 42 }
  async function returnsUndefined () { }
  async function returnsNull () { return null }
  async function returnsClassInstance () { return new Thing() }
  async function returnsMap () { return new Map([['a', 1]]) }
  function syncReturnsString () { return 'not async either' }
  const views: Record<string, (...args: any[]) => unknown> = {
    returnsString, returnsNumber, returnsUndefined, returnsNull, returnsClassInstance, returnsMap, syncReturnsString
  }

  const logs = captureLogs()
  const app = await build(t, {
    urlpatterns: [
      path('object/', returning(() => ({ a: 1, list: [1, 2], nested: { ok: true } }))),
      path('array/', returning(() => [1, 'two', { three: 3 }])),
      path('empty-array/', returning(() => [])),
      path('sync-object/', (() => ({ sync: true })) as ViewFunction<any>),
      ...Object.values(views).map((view, i) => path(`bad/${i}/`, view as ViewFunction<any>)),
      path('ok/', async () => new HttpResponse('ok'))
    ]
  }, logs.options)

  const object = await app.inject('/object/')
  t.equal(object.statusCode, 200)
  t.match(object.headers['content-type'], /^application\/json\b/)
  t.same(object.json(), { a: 1, list: [1, 2], nested: { ok: true } })

  const array = await app.inject('/array/')
  t.equal(array.statusCode, 200)
  t.match(array.headers['content-type'], /^application\/json\b/)
  t.same(array.json(), [1, 'two', { three: 3 }])

  t.same((await app.inject('/empty-array/')).json(), [])
  t.same((await app.inject('/sync-object/')).json(), { sync: true }, 'a sync view returning an object')

  for (const [i, name] of Object.keys(views).entries()) {
    const before = logs.lines.length
    // The URL does not hold the name: the log must get it from the view.
    const res = await app.inject(`/bad/${i}/`)
    t.equal(res.statusCode, 500, `${name}: 500`)
    t.same(res.json(), PRODUCTION_500, `${name}: the production body (the view is not named to the client)`)
    const logged = logs.lines.slice(before).filter((line) => line.level >= 50)
    const text = JSON.stringify(logged)
    t.ok(logged.length >= 1, `${name}: an error is logged`)
    t.match(text, name, `${name}: the logged error names the view`)
    t.equal((await app.inject('/ok/')).statusCode, 200, `after ${name}: later requests work`)
  }
})
