// The Errors section of SPEC.md, end to end: status mapping, production and
// debug bodies, handlerXXX views, failed outbound fetches, the user's own
// Fastify error handler, and bad input that must never leak a stack trace.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import asyncViews, {
  path,
  Http404,
  PermissionDenied,
  BadRequest,
  SuspiciousOperation,
  DisallowedHost,
  HttpException,
  HttpResponse,
  JsonResponse,
  type HttpRequest
} from 'fastify-async-views'
import { build, captureLogs } from './helpers.ts'

const PRODUCTION_500 = '{"statusCode":500,"error":"Internal Server Error","message":"Internal Server Error"}'

/** A body must never show a stack trace or where the code lives. */
function noStack (t: Test, body: string, what = 'body'): void {
  t.notMatch(body, /\n\s*at /, `${what} has no stack frames`)
  t.notMatch(body, /"stack"/, `${what} has no stack field`)
  t.notMatch(body, /node_modules|\/work\/|\.[cm]?[jt]s:\d+/, `${what} names no source file`)
}

function problem (t: Test, res: { statusCode: number, headers: Record<string, unknown>, body: string }, statusCode: number, error: string, message?: string): Record<string, unknown> {
  t.equal(res.statusCode, statusCode, `status ${statusCode}`)
  t.match(String(res.headers['content-type']), /^application\/json/, 'JSON content type')
  const body = JSON.parse(res.body) as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['error', 'message', 'statusCode'], 'body is { statusCode, error, message }')
  t.equal(body.statusCode, statusCode)
  t.equal(body.error, error)
  t.type(body.message, 'string')
  if (message !== undefined) t.equal(body.message, message)
  return body
}

async function listen (server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

async function closeServer (server: http.Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

/** One raw HTTP/1.1 request over a socket; resolves with the status code and the whole response text. */
function rawRequest (port: number, text: string): Promise<{ status: number, raw: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')))
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1')
      const m = /^HTTP\/1\.1 (\d{3})/.exec(raw)
      resolve({ status: m === null ? -1 : Number(m[1]), raw })
    })
    socket.write(text)
  })
}

t.test('exception classes carry statusCode', async (t) => {
  t.equal(new Http404('x').statusCode, 404)
  t.equal(new PermissionDenied('x').statusCode, 403)
  t.equal(new BadRequest('x').statusCode, 400)
  t.equal(new SuspiciousOperation('x').statusCode, 400)
  t.equal(new DisallowedHost('x').statusCode, 400)
  for (const Cls of [Http404, PermissionDenied, BadRequest, SuspiciousOperation]) {
    const error = new Cls('message')
    t.ok(error instanceof Error, `${Cls.name} is an Error`)
    t.ok(error instanceof HttpException, `${Cls.name} is an HttpException`)
    t.equal(error.message, 'message')
    t.equal(error.name, Cls.name)
  }
})

t.test('Http404, PermissionDenied, BadRequest, SuspiciousOperation and others map to 404/403/400/400/500', async (t) => {
  class Gone extends Http404 {}
  const app = await build(t, {
    urlpatterns: [
      path('e404/', async () => { throw new Http404('no such thing') }),
      path('e404-sub/', async () => { throw new Gone('subclass of Http404') }),
      path('e404-sync/', () => { throw new Http404('raised synchronously') }),
      path('e403/', async () => { throw new PermissionDenied('not yours') }),
      path('e400/', async () => { throw new BadRequest('bad thing') }),
      path('e400s/', async () => { throw new SuspiciousOperation('looks odd') }),
      path('e500/', async () => { throw new Error('kaboom') }),
      path('e500-type/', async () => { throw new TypeError('a type error') }),
      path('e500-sync/', () => { throw new RangeError('sync range error') })
    ]
  })
  problem(t, await app.inject('/e404/'), 404, 'Not Found', 'no such thing')
  problem(t, await app.inject('/e404-sub/'), 404, 'Not Found', 'subclass of Http404')
  problem(t, await app.inject('/e404-sync/'), 404, 'Not Found', 'raised synchronously')
  problem(t, await app.inject('/e403/'), 403, 'Forbidden', 'not yours')
  problem(t, await app.inject('/e400/'), 400, 'Bad Request', 'bad thing')
  problem(t, await app.inject('/e400s/'), 400, 'Bad Request', 'looks odd')
  for (const url of ['/e500/', '/e500-type/', '/e500-sync/']) {
    const res = await app.inject(url)
    problem(t, res, 500, 'Internal Server Error', 'Internal Server Error')
    t.equal(res.body, PRODUCTION_500, `${url}: exact production body`)
  }
})

t.test('production 500: whatever a view throws, the body is exact and the error reaches request.log', async (t) => {
  const boom = (): never => { throw new Error('trap secret-proxy') }
  const throwingGetters: Record<string, unknown> = {}
  for (const key of ['message', 'name', 'stack', 'statusCode', 'status', 'code', 'cause', 'constructor', 'then', 'toString', 'toJSON', 'valueOf']) {
    Object.defineProperty(throwingGetters, key, { enumerable: true, get () { throw new Error(`getter secret-getter ${key}`) } })
  }
  const makers: Record<string, { make: () => unknown, inLog?: string, errorLike?: boolean }> = {
    error: { make: () => new Error('secret-error-message password=hunter2'), inLog: 'secret-error-message', errorLike: true },
    string: { make: () => 'secret-string-value', inLog: 'secret-string-value' },
    undefined: { make: () => undefined },
    null: { make: () => null, inLog: 'null' },
    number: { make: () => 31337, inLog: '31337' },
    frozen: { make: () => Object.freeze(new Error('secret-frozen-message')), inLog: 'secret-frozen-message', errorLike: true },
    getters: { make: () => throwingGetters },
    proxy: {
      make: () => new Proxy({}, {
        get: boom,
        has: boom,
        set: boom,
        getPrototypeOf: boom,
        setPrototypeOf: boom,
        ownKeys: boom,
        getOwnPropertyDescriptor: boom,
        defineProperty: boom,
        deleteProperty: boom,
        isExtensible: boom,
        preventExtensions: boom
      })
    },
    tostring: {
      make: () => Object.assign(new Error('secret-tostring-message'), { toString () { throw new Error('toString secret-tostring') } }),
      inLog: 'secret-tostring-message',
      errorLike: true
    }
  }
  const logs = captureLogs()
  const app = await build(t, {
    urlpatterns: [
      path('throw/<str:kind>/', async (_request, { kind }) => { throw makers[kind].make() }),
      path('ok/', async () => ({ ok: true }))
    ]
  }, logs.options)

  for (const [kind, { inLog, errorLike }] of Object.entries(makers)) {
    t.test(`throwing ${kind}`, async (t) => {
      const before = logs.lines.length
      const res = await app.inject(`/throw/${kind}/`)
      t.equal(res.statusCode, 500)
      t.equal(res.body, PRODUCTION_500, 'exact production body')
      t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
      t.match(String(res.headers['content-type']), /^application\/json/)
      t.notMatch(res.body, /secret|hunter2|31337/, 'nothing of the error leaks')
      noStack(t, res.body)
      const errors = logs.lines.slice(before).filter((line) => line.level >= 50)
      t.ok(errors.length >= 1, 'an error-level line was logged')
      t.ok(errors.every((line) => line.reqId !== undefined), 'logged through request.log (has reqId)')
      if (inLog !== undefined) {
        const withErr = errors.filter((line) => 'err' in line && JSON.stringify(line.err).includes(inLog))
        t.ok(withErr.length >= 1, `the error itself is in the log line's err (${inLog})`)
        if (errorLike === true) {
          t.ok(withErr.some((line) => typeof line.err.stack === 'string' && line.err.stack.includes(inLog)), 'with its stack')
        }
      }
    })
  }
  t.test('the app still answers afterwards', async (t) => {
    const res = await app.inject('/ok/')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { ok: true })
  })
})

t.test('a failure while logging never changes the response', async (t) => {
  const views = [
    path('boom/', async () => { throw new Error('secret while logging') }),
    path('missing/', async () => { throw new Http404('no such item') }),
    path('bad/', async () => { throw new BadRequest('bad item') }),
    path('ok/', async () => ({ ok: true }))
  ]
  async function check (t: Test, app: FastifyInstance): Promise<void> {
    for (let round = 0; round < 2; round++) {
      const res = await app.inject('/boom/')
      t.equal(res.statusCode, 500)
      t.equal(res.body, PRODUCTION_500)
      problem(t, await app.inject('/missing/'), 404, 'Not Found', 'no such item')
      problem(t, await app.inject('/bad/'), 400, 'Bad Request', 'bad item')
      const ok = await app.inject('/ok/')
      t.equal(ok.statusCode, 200, 'later requests still work')
      t.same(ok.json(), { ok: true })
    }
  }

  t.test('a logger stream that throws on error lines and lines with an err', async (t) => {
    let thrown = 0
    const stream = {
      write (line: string): void {
        if (line.includes('"level":50') || line.includes('"err"')) {
          thrown++
          throw new Error('log sink is down')
        }
      }
    }
    const app = await build(t, { urlpatterns: views }, { logger: { level: 'info', stream } })
    await check(t, app)
    t.ok(thrown > 0, 'the stream did throw')
  })

  t.test('a logger whose err serializer throws', async (t) => {
    let thrown = 0
    const logs = captureLogs()
    const app = await build(t, { urlpatterns: views }, {
      logger: {
        level: 'info',
        stream: (logs.options.logger as { stream: NodeJS.WritableStream }).stream,
        serializers: { err () { thrown++; throw new Error('serializer is broken') } }
      }
    })
    await check(t, app)
    t.ok(thrown > 0, 'the serializer did throw')
  })
})

t.test('debug', async (t) => {
  const urlpatterns = [
    path('articles/<int:year>/', async (_r, { year }) => ({ year }), { name: 'article-year' }),
    path('articles/<slug:slug>/', async (_r, { slug }) => ({ slug }), { name: 'article-slug' }),
    path('boom/', async function boomView () { throw new Error('debug secret message') }, { name: 'boom' }),
    path('things/<int:id>/', async function thingDetail () { throw new Http404('No thing matches the given query.') }, { name: 'thing-detail' })
  ]

  t.test('debug: true adds the stack and message to a 500', async (t) => {
    const app = await build(t, { urlpatterns, debug: true })
    const res = await app.inject('/boom/')
    t.equal(res.statusCode, 500)
    t.match(String(res.headers['content-type']), /^application\/json/)
    const body = res.json()
    t.equal(body.statusCode, 500)
    t.equal(body.error, 'Internal Server Error')
    t.equal(body.message, 'debug secret message')
    const stack = Array.isArray(body.stack) ? body.stack.join('\n') : body.stack
    t.type(stack, 'string', 'the body has a stack')
    t.match(stack, /debug secret message/)
    t.match(stack, /\bat\b/, 'the stack has frames')
  })

  t.test('debug: true lists the patterns tried for an unmatched URL', async (t) => {
    const app = await build(t, { urlpatterns, debug: true })
    for (const url of ['/nowhere/', '/articles/not!a!slug/']) {
      const res = await app.inject(url)
      t.equal(res.statusCode, 404, url)
      t.match(String(res.headers['content-type']), /^application\/json/)
      const body = res.json()
      t.equal(body.statusCode, 404)
      t.equal(body.error, 'Not Found')
      t.type(body.message, 'string')
      const text = JSON.stringify(body)
      for (const expected of ['articles/<int:year>/', 'article-year', 'articles/<slug:slug>/', 'article-slug', 'boom/', 'things/<int:id>/', 'thing-detail']) {
        t.ok(text.includes(expected), `${url}: lists ${expected}`)
      }
    }
  })

  t.test('debug: true lists the patterns tried under a Fastify prefix', async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(asyncViews, { urlpatterns, debug: true, prefix: '/api' })
    await app.ready()
    const ok = await app.inject('/api/articles/2024/')
    t.equal(ok.statusCode, 200)
    t.same(ok.json(), { year: 2024 })
    const res = await app.inject('/api/nowhere/')
    t.equal(res.statusCode, 404)
    t.equal(res.json().statusCode, 404)
    for (const expected of ['articles/<int:year>/', 'article-year', 'thing-detail']) {
      t.ok(res.body.includes(expected), `lists ${expected}`)
    }
  })

  t.test('debug: true says which view raised an Http404', async (t) => {
    const app = await build(t, { urlpatterns, debug: true })
    const res = await app.inject('/things/7/')
    t.equal(res.statusCode, 404)
    const body = res.json()
    t.equal(body.statusCode, 404)
    t.equal(body.error, 'Not Found')
    t.equal(body.message, 'No thing matches the given query.')
    t.match(JSON.stringify(body), /thing-detail|thingDetail/, 'names the view')
  })

  t.test('debug is off by default', async (t) => {
    const app = await build(t, { urlpatterns })
    const boom = await app.inject('/boom/')
    t.equal(boom.statusCode, 500)
    t.equal(boom.body, PRODUCTION_500)
    for (const url of ['/nowhere/', '/articles/not!a!slug/']) {
      const res = await app.inject(url)
      t.equal(res.statusCode, 404, url)
      t.notMatch(res.body, /article-year|article-slug|thing-detail|<int:year>|<slug:slug>/, `${url}: patterns are not listed`)
      noStack(t, res.body)
    }
    const raised = await app.inject('/things/7/')
    problem(t, raised, 404, 'Not Found', 'No thing matches the given query.')
    t.notMatch(raised.body, /thing-detail|thingDetail/, 'the view is not named')
  })
})

t.test('handler400/403/404/500 replace the default bodies', async (t) => {
  const calls: Array<{ status: number, request: HttpRequest, args: unknown[] }> = []
  const messageOf = (e: unknown): string => (e as Error).message
  const app = await build(t, {
    urlpatterns: [
      path('e404/', async () => { throw new Http404('view says 404') }),
      path('e403/', async () => { throw new PermissionDenied('view says 403') }),
      path('e400/', async () => { throw new BadRequest('view says 400') }),
      path('e400s/', async () => { throw new SuspiciousOperation('view says suspicious') }),
      path('e500/', async () => { throw new Error('secret 500') }),
      path('items/<int:id>/', async (_r, { id }) => ({ id }))
    ],
    handler404: async (request, ...args) => {
      calls.push({ status: 404, request, args })
      return new JsonResponse({ custom: 404, path: request.path, message: messageOf(args[0]) }, { status: 404 })
    },
    handler403: (request, ...args) => {
      calls.push({ status: 403, request, args })
      return new HttpResponse(`custom 403: ${messageOf(args[0])}`, { status: 403, contentType: 'text/plain; charset=utf-8' })
    },
    handler400: async (request, ...args) => {
      calls.push({ status: 400, request, args })
      return new JsonResponse({ custom: 400, message: messageOf(args[0]) }, { status: 400 })
    },
    handler500: async (request, ...args) => {
      calls.push({ status: 500, request, args })
      return new HttpResponse('<h1>custom 500</h1>', { status: 500 })
    }
  })

  let res = await app.inject('/e404/')
  t.equal(res.statusCode, 404)
  t.same(res.json(), { custom: 404, path: '/e404/', message: 'view says 404' })
  let call = calls.pop()
  t.equal(call?.status, 404)
  t.equal(call?.request.path, '/e404/', 'handler gets the HttpRequest')
  t.ok(call?.args[0] instanceof Http404, 'handler404 gets the exception')

  for (const url of ['/nowhere/', '/items/abc/']) {
    res = await app.inject(url)
    t.equal(res.statusCode, 404, `${url}: unmatched URL goes to handler404`)
    t.match(res.json(), { custom: 404, path: url })
    call = calls.pop()
    t.equal(call?.status, 404)
    t.ok(call?.args[0] instanceof Http404, 'with an Http404')
  }

  res = await app.inject('/e403/')
  t.equal(res.statusCode, 403)
  t.equal(res.body, 'custom 403: view says 403')
  call = calls.pop()
  t.ok(call?.args[0] instanceof PermissionDenied, 'handler403 gets the exception')

  res = await app.inject('/e400/')
  t.equal(res.statusCode, 400)
  t.same(res.json(), { custom: 400, message: 'view says 400' })
  t.ok(calls.pop()?.args[0] instanceof BadRequest, 'handler400 gets the exception')

  res = await app.inject('/e400s/')
  t.equal(res.statusCode, 400)
  t.same(res.json(), { custom: 400, message: 'view says suspicious' })
  t.ok(calls.pop()?.args[0] instanceof SuspiciousOperation, 'handler400 gets SuspiciousOperation')

  res = await app.inject('/e500/')
  t.equal(res.statusCode, 500)
  t.equal(res.body, '<h1>custom 500</h1>')
  call = calls.pop()
  t.equal(call?.status, 500)
  t.equal(call?.request.path, '/e500/')
  t.same(call?.args.filter((a) => a !== undefined), [], 'handler500 gets only the request')

  t.equal(calls.length, 0, 'no other handler calls')
})

t.test('a handlerXXX that itself throws gives the production 500', async (t) => {
  const logs = captureLogs()
  const failing = (name: string) => async (): Promise<never> => { throw new Error(`secret from ${name}`) }
  const app = await build(t, {
    urlpatterns: [
      path('e404/', async () => { throw new Http404('x') }),
      path('e403/', async () => { throw new PermissionDenied('x') }),
      path('e400/', async () => { throw new BadRequest('x') }),
      path('e500/', async () => { throw new Error('x') })
    ],
    handler400: failing('handler400'),
    handler403: failing('handler403'),
    handler404: failing('handler404'),
    handler500: failing('handler500')
  }, logs.options)
  for (const url of ['/e404/', '/nowhere/', '/e403/', '/e400/', '/e500/']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 500, `${url}: 500`)
    t.equal(res.body, PRODUCTION_500, `${url}: exact production body`)
    t.notMatch(res.body, /secret/)
  }
  t.ok(logs.lines.some((line) => line.level >= 50 && JSON.stringify(line).includes('secret from handler404')), 'the handler error is logged')
})

t.test('a failed outbound fetch: 502, timeouts: 504', async (t) => {
  // Upstream that reads the request and then drops the connection.
  const dropping = http.createServer((req) => { req.socket.destroy() })
  const droppingPort = await listen(dropping)
  t.teardown(() => closeServer(dropping))

  // A port that refuses: listen, note it, close.
  const refusing = http.createServer()
  const refusingPort = await listen(refusing)
  await closeServer(refusing)

  // Upstream that never answers until teardown.
  const pending = new Set<http.ServerResponse>()
  const slow = http.createServer((_req, res) => { pending.add(res) })
  const slowPort = await listen(slow)
  t.teardown(async () => {
    for (const res of pending) res.destroy()
    await closeServer(slow)
  })

  const undiciTimeout = (code: string): TypeError =>
    new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code }) })

  const urlpatterns = [
    path('refused/', async () => { await fetch(`http://127.0.0.1:${refusingPort}/secret-path`); return { reached: true } }),
    path('dropped/', async () => { await fetch(`http://127.0.0.1:${droppingPort}/secret-path`); return { reached: true } }),
    path('slow/', async () => { await fetch(`http://127.0.0.1:${slowPort}/secret-path`, { signal: AbortSignal.timeout(50) }); return { reached: true } }),
    path('connect-timeout/', async () => { throw undiciTimeout('UND_ERR_CONNECT_TIMEOUT') }),
    path('headers-timeout/', async () => { throw undiciTimeout('UND_ERR_HEADERS_TIMEOUT') }),
    path('body-timeout/', async () => { throw undiciTimeout('UND_ERR_BODY_TIMEOUT') })
  ]
  const app = await build(t, { urlpatterns })
  const leaks = [String(refusingPort), String(droppingPort), String(slowPort), '127.0.0.1', 'secret-path', 'ECONNREFUSED']

  for (const [url, status, error] of [
    ['/refused/', 502, 'Bad Gateway'],
    ['/dropped/', 502, 'Bad Gateway'],
    ['/slow/', 504, 'Gateway Timeout'],
    ['/connect-timeout/', 504, 'Gateway Timeout'],
    ['/headers-timeout/', 504, 'Gateway Timeout'],
    ['/body-timeout/', 504, 'Gateway Timeout']
  ] as const) {
    const started = Date.now()
    const res = await app.inject(url)
    problem(t, res, status, error)
    for (const leak of leaks) t.notOk(res.body.includes(leak), `${url}: body does not leak ${leak}`)
    noStack(t, res.body, url)
    if (url === '/slow/') t.ok(Date.now() - started < 5000, 'the timeout fired quickly')
  }
  t.ok(pending.size >= 1, 'the slow upstream was reached')
})

t.test("the user's setErrorHandler receives view errors nobody handled", async (t) => {
  const plain = new Error('plain failure')
  const notFound = new Http404('view 404')
  const urlpatterns = [
    path('plain/', async () => { throw plain }),
    path('missing/', async () => { throw notFound }),
    path('ok/', async () => ({ ok: true }))
  ]

  for (const order of ['before', 'after'] as const) {
    t.test(`setErrorHandler ${order} register`, async (t) => {
      const seen: unknown[] = []
      const app = Fastify()
      t.teardown(() => app.close())
      const install = (): void => {
        app.setErrorHandler(function (error, _request, reply) {
          seen.push(error)
          reply.code(418).header('x-mine', 'yes').send({ mine: true, message: (error as Error).message })
        })
      }
      if (order === 'before') install()
      await app.register(asyncViews, { urlpatterns })
      if (order === 'after') install()
      await app.ready()

      const res = await app.inject('/plain/')
      t.equal(res.statusCode, 418, "the user's reply is what the client gets")
      t.equal(res.headers['x-mine'], 'yes')
      t.same(res.json(), { mine: true, message: 'plain failure' })
      t.equal(seen[0], plain, 'the handler got the very error the view threw')

      const missing = await app.inject('/missing/')
      t.equal(missing.statusCode, 418, 'an Http404 no handler404 took reaches the user handler too')
      t.equal(seen[1], notFound)

      const ok = await app.inject('/ok/')
      t.equal(ok.statusCode, 200)
      t.equal(seen.length, 2)
    })

    t.test(`setErrorHandler ${order} register, with handler404`, async (t) => {
      const seen: unknown[] = []
      const app = Fastify()
      t.teardown(() => app.close())
      const install = (): void => {
        app.setErrorHandler(function (error, _request, reply) {
          seen.push(error)
          reply.code(418).send({ mine: true })
        })
      }
      if (order === 'before') install()
      await app.register(asyncViews, {
        urlpatterns,
        handler404: async (_request, exception) => new JsonResponse({ custom404: (exception as Error).message }, { status: 404 })
      })
      if (order === 'after') install()
      await app.ready()

      const missing = await app.inject('/missing/')
      t.equal(missing.statusCode, 404, 'handler404 answers the Http404')
      t.same(missing.json(), { custom404: 'view 404' })
      t.equal(seen.length, 0, "the user's handler did not see the Http404")

      const plainRes = await app.inject('/plain/')
      t.equal(plainRes.statusCode, 418, 'a plain error still reaches the user handler')
      t.same(plainRes.json(), { mine: true })
      t.equal(seen[0], plain)
    })
  }
})

t.test("the user's setErrorHandler in the encapsulated context the plugin is registered in", async (t) => {
  const seen: unknown[] = []
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(async function child (child) {
    await child.register(asyncViews, { urlpatterns: [path('plain/', async () => { throw new Error('child failure') })] })
    child.setErrorHandler(function (error, _request, reply) {
      seen.push(error)
      reply.code(418).send({ child: true })
    })
  }, { prefix: '/child' })
  await app.ready()
  const res = await app.inject('/child/plain/')
  t.equal(res.statusCode, 418)
  t.same(res.json(), { child: true })
  t.equal(seen.length, 1)
})

t.test('bad input', async (t) => {
  let viewRuns = 0
  const urlpatterns = [
    path('echo/', async (request) => ({ got: request.json() })),
    path('upload/', async (request) => ({ size: request.body.length })),
    path('a/<str:x>/', async (_r, { x }) => ({ x })),
    path('items/<int:id>/', async (_r, { id }) => ({ id })),
    path('ok/', async (request) => { viewRuns++; return { host: request.getHost() } })
  ]

  t.test('malformed JSON read with request.json() -> 400', async (t) => {
    const app = await build(t, { urlpatterns })
    for (const contentType of ['application/json', 'text/plain']) {
      const res = await app.inject({ method: 'POST', url: '/echo/', headers: { 'content-type': contentType }, payload: '{"a": tru' })
      problem(t, res, 400, 'Bad Request')
      noStack(t, res.body)
    }
    const good = await app.inject({ method: 'POST', url: '/echo/', headers: { 'content-type': 'application/json' }, payload: '{"a":true}' })
    t.equal(good.statusCode, 200)
    t.same(good.json(), { got: { a: true } })
  })

  t.test("a body over Fastify's bodyLimit -> 413", async (t) => {
    const app = await build(t, { urlpatterns }, { bodyLimit: 64 })
    for (const contentType of ['application/octet-stream', 'application/json']) {
      const res = await app.inject({ method: 'POST', url: '/upload/', headers: { 'content-type': contentType }, payload: Buffer.alloc(1024, 0x61) })
      t.equal(res.statusCode, 413, contentType)
      const body = res.json()
      t.equal(body.statusCode, 413)
      t.type(body.message, 'string')
      noStack(t, res.body)
    }
    const small = await app.inject({ method: 'POST', url: '/upload/', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(10) })
    t.equal(small.statusCode, 200)
    t.same(small.json(), { size: 10 })
  })

  t.test('malformed percent-encoding in the path -> 400', async (t) => {
    const app = await build(t, { urlpatterns })
    for (const url of ['/a/%zz/', '/a/%E0%A4%A/', '/a/%/']) {
      const res = await app.inject(url)
      t.equal(res.statusCode, 400, url)
      const body = res.json()
      t.equal(body.statusCode, 400)
      noStack(t, res.body, url)
    }
    const ok = await app.inject('/a/caf%C3%A9/')
    t.equal(ok.statusCode, 200)
    t.same(ok.json(), { x: 'café' })
  })

  t.test('a kwarg that does not convert -> 404', async (t) => {
    const app = await build(t, { urlpatterns })
    for (const url of ['/items/abc/', '/items/9007199254740992/', '/items/99999999999999999999999/', '/items/-1/']) {
      const res = await app.inject(url)
      t.equal(res.statusCode, 404, url)
      t.equal(res.json().statusCode, 404)
      noStack(t, res.body, url)
    }
    const max = await app.inject('/items/9007199254740991/')
    t.equal(max.statusCode, 200)
    t.same(max.json(), { id: Number.MAX_SAFE_INTEGER })
  })

  t.test('a Host that is not a valid host[:port] -> 400 (raw TCP)', async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(asyncViews, { urlpatterns })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as AddressInfo).port
    const send = (host: string): Promise<{ status: number, raw: string }> =>
      rawRequest(port, `GET /ok/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)

    const valid = await send('example.com:8080')
    t.equal(valid.status, 200, 'a valid Host is served')
    t.match(valid.raw, /"host":"example.com:8080"/)
    const runs = viewRuns

    for (const host of ['evil.com/path', 'exa mple.com', 'example.com:abc', 'example.com:80:80', '<script>', 'user@example.com', 'a,b']) {
      const res = await send(host)
      t.equal(res.status, 400, `Host ${JSON.stringify(host)} -> 400`)
      const body = res.raw.slice(res.raw.indexOf('\r\n\r\n') + 4)
      t.match(body, /"statusCode":400/, 'JSON problem body')
      noStack(t, body, `Host ${JSON.stringify(host)}`)
    }
    t.equal(viewRuns, runs, 'the view never ran for a bad Host')

    const again = await send('127.0.0.1')
    t.equal(again.status, 200, 'a valid Host after bad ones is served')
  })
})
