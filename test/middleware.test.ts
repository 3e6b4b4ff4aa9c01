import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions, type InjectOptions } from 'fastify'
import { connect } from 'node:net'
import { Readable } from 'node:stream'
import asyncViews, {
  path, HttpResponse, JsonResponse, StreamingHttpResponse, EventStreamResponse, MiddlewareNotUsed, Http404,
  type GetResponse, type HttpRequest, type Middleware, type AsyncViewsOptions
} from 'fastify-async-views'
import { captureLogs, sleep } from './helpers.ts'

async function build (t: Test, options: AsyncViewsOptions, routes?: (app: FastifyInstance) => void, fastifyOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(fastifyOptions)
  t.teardown(() => app.close())
  routes?.(app)
  await app.register(asyncViews, options)
  await app.ready()
  return app
}

function recorder (log: string[], name: string): Middleware {
  return (getResponse) => async (request) => {
    log.push(`${name}:pre`)
    const response = await getResponse(request)
    log.push(`${name}:post`)
    response.headers.append('x-chain', name)
    return response
  }
}

t.test('first in the list is outermost: pre in order, post in reverse', async (t) => {
  const log: string[] = []
  const app = await build(t, {
    middleware: [recorder(log, 'a'), recorder(log, 'b'), recorder(log, 'c')],
    urlpatterns: [path('v/', async () => { log.push('view'); return { ok: true } })]
  }, (app) => app.get('/plain', async () => { log.push('plain'); return { plain: true } }))
  const res = await app.inject('/v/')
  t.same(log, ['a:pre', 'b:pre', 'c:pre', 'view', 'c:post', 'b:post', 'a:post'])
  t.same(res.headers['x-chain'], ['c', 'b', 'a'])
  log.length = 0
  const plain = await app.inject('/plain')
  t.same(plain.json(), { plain: true })
  t.same(log, ['a:pre', 'b:pre', 'c:pre', 'plain', 'c:post', 'b:post', 'a:post'], 'plain Fastify routes go through the onion too')
})

t.test('factories and classes; function instances and objects with call; the guide\'s __call__ form', async (t) => {
  class ClassStyle {
    getResponse: GetResponse
    constructor (getResponse: GetResponse) { this.getResponse = getResponse }
    async call (request: HttpRequest): Promise<HttpResponse> {
      const response = await this.getResponse(request)
      response.headers.set('x-class', '1')
      return response
    }
  }
  // The guide: `async def __call__(self, request, get_response)`.
  class AsyncMiddleware {
    async call (request: HttpRequest, getResponse: GetResponse): Promise<HttpResponse> {
      // Asynchronous pre-processing
      const response = await getResponse(request)
      // Asynchronous post-processing
      response.headers.set('x-guide', '1')
      return response
    }
  }
  const objectFactory: Middleware = (getResponse) => ({
    async call (request: HttpRequest) {
      const response = await getResponse(request)
      response.headers.set('x-object', '1')
      return response
    }
  })
  const app = await build(t, {
    middleware: [ClassStyle, AsyncMiddleware as unknown as Middleware, objectFactory],
    urlpatterns: [path('v/', async () => ({}))]
  })
  const res = await app.inject('/v/')
  t.equal(res.headers['x-class'], '1')
  t.equal(res.headers['x-guide'], '1')
  t.equal(res.headers['x-object'], '1')
})

t.test('short-circuit skips the view and the plain handler', async (t) => {
  let calls = 0
  const gate: Middleware = (getResponse) => async (request) => {
    if (request.GET.get('blocked') === '1') return new JsonResponse({ blocked: true }, { status: 403 })
    return getResponse(request)
  }
  const app = await build(t, {
    middleware: [recorder([], 'outer'), gate],
    urlpatterns: [path('v/', async () => { calls++; return {} })]
  }, (app) => app.get('/plain', async () => { calls++; return {} }))
  for (const url of ['/v/?blocked=1', '/plain?blocked=1']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 403)
    t.same(res.json(), { blocked: true })
    t.equal(res.headers['x-chain'], 'outer', 'outer middleware still post-processes')
  }
  t.equal(calls, 0)
  t.equal((await app.inject('/plain')).statusCode, 200)
  t.equal(calls, 1)
})

t.test('post-processing a plain Fastify route: status, headers and content', async (t) => {
  const rewrite: Middleware = (getResponse) => async (request) => {
    const response = await getResponse(request)
    if (request.path === '/json') {
      const body = JSON.parse(response.text)
      body.added = true
      response.content = JSON.stringify(body)
      response.statusCode = 202
      response.headers.set('x-seen-type', String(response.headers.get('content-type')))
    }
    if (request.path === '/send') {
      t.equal(response.headers.get('x-from-route'), 'yes')
      response.headers.delete('x-from-route')
      response.setCookie('mw', '1')
    }
    if (request.path === '/replace') return new HttpResponse('replaced', { status: 418, contentType: 'text/plain' })
    return response
  }
  const app = await build(t, { middleware: [rewrite] }, (app) => {
    app.get('/json', async () => ({ a: 1 }))
    app.get('/send', (_request, reply) => { reply.header('x-from-route', 'yes').header('set-cookie', 'route=1').send('sent') })
    app.get('/replace', async (_request, reply) => { reply.header('x-old', '1'); return 'old' })
  })
  const json = await app.inject('/json')
  t.equal(json.statusCode, 202)
  t.same(json.json(), { a: 1, added: true })
  t.equal(json.headers['content-length'], String(Buffer.byteLength(json.body)), 'length recomputed')
  t.match(json.headers['x-seen-type'], /application\/json/)
  const send = await app.inject('/send')
  t.equal(send.body, 'sent')
  t.notOk(send.headers['x-from-route'])
  t.same(send.headers['set-cookie'], ['route=1', 'mw=1; Path=/'])
  const replaced = await app.inject('/replace')
  t.equal(replaced.statusCode, 418)
  t.equal(replaced.body, 'replaced')
  t.equal(replaced.headers['content-type'], 'text/plain')
  t.notOk(replaced.headers['x-old'], 'a replaced response drops the old headers')
})

t.test('getResponse never throws: view errors arrive as responses; processException innermost first', async (t) => {
  const seen: string[] = []
  const statuses: number[] = []
  class Watch {
    getResponse: GetResponse
    constructor (getResponse: GetResponse) { this.getResponse = getResponse }
    async call (request: HttpRequest): Promise<HttpResponse> {
      const response = await this.getResponse(request)
      statuses.push(response.statusCode)
      return response
    }
  }
  class Teapot {
    getResponse: GetResponse
    constructor (getResponse: GetResponse) { this.getResponse = getResponse }
    call (request: HttpRequest): Promise<HttpResponse> { return this.getResponse(request) }
    processException (_request: HttpRequest, error: unknown): HttpResponse | undefined {
      seen.push('teapot')
      if ((error as Error).message === 'tea') return new HttpResponse('short and stout', { status: 418 })
      return undefined
    }
  }
  class Inner {
    getResponse: GetResponse
    constructor (getResponse: GetResponse) { this.getResponse = getResponse }
    call (request: HttpRequest): Promise<HttpResponse> { return this.getResponse(request) }
    async processException (_request: HttpRequest, error: unknown): Promise<HttpResponse | null> {
      seen.push('inner')
      if ((error as Error).message === 'inner') return new HttpResponse('inner handled', { status: 409 })
      return null
    }
  }
  const app = await build(t, {
    middleware: [Watch, Teapot, Inner],
    urlpatterns: [
      path('tea/', async () => { throw new Error('tea') }),
      path('inner/', async () => { throw new Error('inner') }),
      path('boom/', async () => { throw new Error('boom') }),
      path('nf/', async () => { throw new Http404('gone') })
    ]
  })
  const tea = await app.inject('/tea/')
  t.equal(tea.statusCode, 418)
  t.same(seen, ['inner', 'teapot'], 'innermost first')
  seen.length = 0
  t.equal((await app.inject('/inner/')).statusCode, 409)
  t.same(seen, ['inner'], 'first response wins')
  seen.length = 0
  const boom = await app.inject('/boom/')
  t.equal(boom.statusCode, 500)
  t.same(boom.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
  t.equal((await app.inject('/nf/')).statusCode, 404)
  t.same(statuses, [418, 409, 500, 404], 'outer middleware saw every error as a response')
})

t.test('processView runs outer to inner and may answer instead of the view', async (t) => {
  const order: string[] = []
  let received: unknown[] = []
  const pv = (name: string, answer?: boolean): Middleware => (getResponse) => Object.assign(
    (request: HttpRequest) => getResponse(request),
    {
      processView (request: HttpRequest, view: unknown, args: string[], kwargs: Record<string, unknown>) {
        order.push(name)
        received = [typeof view, (view as { name: string }).name, args, kwargs]
        if (answer === true && request.GET.has('stop')) return new HttpResponse('from processView', { status: 299 })
        return undefined
      }
    }
  )
  let viewCalls = 0
  const app = await build(t, {
    middleware: [pv('a'), pv('b', true), pv('c')],
    urlpatterns: [path('items/<int:id>/', async function itemView () { viewCalls++; return {} })]
  }, (app) => app.get('/plain/:x', async function plainHandler () { return { plain: 1 } }))
  await app.inject('/items/3/')
  t.same(order, ['a', 'b', 'c'])
  t.same(received, ['function', 'itemView', [], { id: 3 }])
  order.length = 0
  const stopped = await app.inject('/items/3/?stop=1')
  t.equal(stopped.statusCode, 299)
  t.same(order, ['a', 'b'], 'later processView hooks skipped')
  t.equal(viewCalls, 1, 'the view was skipped')
  order.length = 0
  t.same((await app.inject('/plain/7')).json(), { plain: 1 })
  t.match(received, ['function', /plainHandler/, [], { x: '7' }], 'plain routes get their handler and params')
})

t.test('MiddlewareNotUsed drops a middleware', async (t) => {
  const log: string[] = []
  const unused: Middleware = () => { throw new MiddlewareNotUsed() }
  const app = await build(t, { middleware: [unused, recorder(log, 'kept')], urlpatterns: [path('v/', async () => ({}))] })
  await app.inject('/v/')
  t.same(log, ['kept:pre', 'kept:post'])
  const allUnused = await build(t, { middleware: [unused], urlpatterns: [path('v/', async () => ({}))] })
  t.equal((await allUnused.inject('/v/')).statusCode, 200)
})

t.test('404s, Fastify rejections and appendSlash redirects get post-processing', async (t) => {
  const log: string[] = []
  const app = await build(t, {
    middleware: [recorder(log, 'm')],
    urlpatterns: [path('v/<int:id>/', async () => ({})), path('slash/', async () => ({}))]
  }, (app) => {
    app.post('/json', async (request) => request.body)
    app.post('/small', { bodyLimit: 5 }, async () => 'ok')
    app.get('/schema', { schema: { querystring: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } }, async () => 'ok')
  })
  const cases: Array<[string | InjectOptions, number]> = [
    ['/nowhere', 404],
    ['/v/abc/', 404],
    [{ method: 'POST', url: '/json', payload: 'x', headers: { 'content-type': 'application/weird' } }, 415],
    [{ method: 'POST', url: '/json', payload: '{bad', headers: { 'content-type': 'application/json' } }, 400],
    [{ method: 'POST', url: '/small', payload: 'too long body', headers: { 'content-type': 'text/plain' } }, 413],
    ['/schema', 400],
    ['/slash', 301]
  ]
  for (const [request, status] of cases) {
    log.length = 0
    const res = await app.inject(request)
    t.equal(res.statusCode, status, JSON.stringify(request))
    t.equal(res.headers['x-chain'], 'm', `post-processed ${JSON.stringify(request)}`)
  }
})

t.test('the body is parsed before middleware runs', async (t) => {
  const seen: unknown[] = []
  const reader: Middleware = (getResponse) => async (request) => {
    const type = request.headers.get('content-type') ?? ''
    seen.push(type.includes('json') ? request.json() : request.POST.toJSON(), request.body.toString())
    return getResponse(request)
  }
  const app = await build(t, { middleware: [reader], urlpatterns: [path('v/', async (request) => ({ again: request.json() }))] },
    (app) => app.post('/plain', async (request) => ({ plain: request.body })))
  const view = await app.inject({ method: 'POST', url: '/v/', payload: { a: 1 } })
  t.same(view.json(), { again: { a: 1 } })
  const plain = await app.inject({ method: 'POST', url: '/plain', payload: { b: 2 } })
  t.same(plain.json(), { plain: { b: 2 } })
  await app.inject({ method: 'POST', url: '/plain', payload: 'x=1&y=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } }).catch(() => {})
  t.same(seen.slice(0, 4), [{ a: 1 }, '{"a":1}', { b: 2 }, '{"b":2}'])
})

t.test('attributes middleware sets are seen by views and Fastify handlers', async (t) => {
  const auth: Middleware = (getResponse) => async (request) => {
    request.user = { name: 'ada' }
    ;(request as unknown as Record<string, unknown>).tenant = 'acme'
    return getResponse(request)
  }
  const app = await build(t, {
    middleware: [auth],
    urlpatterns: [path('v/', async (request) => ({ user: request.user, tenant: (request as unknown as Record<string, unknown>).tenant }))]
  }, (app) => app.get('/plain', async (request) => ({ user: (request as unknown as { user: unknown }).user, tenant: (request as unknown as { tenant: unknown }).tenant })))
  t.same((await app.inject('/v/')).json(), { user: { name: 'ada' }, tenant: 'acme' })
  t.same((await app.inject('/plain')).json(), { user: { name: 'ada' }, tenant: 'acme' })
})

t.test('a Fastify hook\'s request.user is the view\'s request.user', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.addHook('onRequest', async (request) => { (request as unknown as { user: unknown }).user = { id: 7 } })
  await app.register(asyncViews, { urlpatterns: [path('me/', async (request) => ({ user: request.user }))] })
  t.same((await app.inject('/me/')).json(), { user: { id: 7 } })
})

t.test('a throwing middleware gives a 500 naming nothing, is logged, and later requests work', async (t) => {
  const logs = captureLogs('error')
  let fail = true
  const flaky: Middleware = (getResponse) => async (request) => {
    if (fail) throw new Error('middleware secret')
    return getResponse(request)
  }
  const forgetful: Middleware = function forgetfulMiddleware () {
    return async function forgetful (request: HttpRequest) {
      if (request.path === '/nothing/') return undefined as unknown as HttpResponse
      return new HttpResponse('fine')
    }
  }
  const app = await build(t, { middleware: [flaky, forgetful], urlpatterns: [path('v/', async () => ({})), path('nothing/', async () => ({}))] }, undefined, logs.options)
  const res = await app.inject('/v/')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
  t.ok(logs.lines.some((l) => l.err?.message === 'middleware secret'))
  fail = false
  t.equal((await app.inject('/v/')).body, 'fine')
  const nothing = await app.inject('/nothing/')
  t.equal(nothing.statusCode, 500)
  t.ok(logs.lines.some((l) => /forgetfulMiddleware returned undefined instead of an HttpResponse/.test(l.err?.message)), 'the log names the middleware')
})

t.test('streaming responses pass through without buffering', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const touch: Middleware = (getResponse) => async (request) => {
    const response = await getResponse(request)
    response.headers.set('x-touched', '1')
    return response
  }
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/plain-stream', async () => Readable.from((async function * () { yield 'p1'; await gate; yield 'p2' })()))
  await app.register(asyncViews, {
    middleware: [touch, touch],
    urlpatterns: [
      path('stream/', async () => new StreamingHttpResponse((async function * () { yield 'first;'; await gate; yield 'second' })())),
      path('events/', async () => new EventStreamResponse((async function * () { yield { data: 'one' }; await gate; yield { data: 'two' } })()))
    ]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  for (const [url, first] of [['/stream/', 'first;'], ['/events/', 'data: one'], ['/plain-stream', 'p1']]) {
    const got = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1')
      let data = ''
      socket.on('data', (chunk) => {
        data += chunk.toString()
        if (data.includes(first)) { socket.destroy(); resolve(data) }
      })
      socket.on('error', reject)
      socket.write(`GET ${url} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
      setTimeout(() => { socket.destroy(); reject(new Error(`no first chunk from ${url}: ${data}`)) }, 3000)
    })
    t.match(got, /x-touched: 1/, `${url} post-processed`)
    t.match(got, new RegExp(first), `${url} first chunk arrived before the stream ended`)
  }
  release()
})

t.test('a client leaving mid-chain: no unhandled rejection, signal aborted', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  let aborted: Promise<boolean> | undefined
  let entered: () => void = () => {}
  const inMiddleware = new Promise<void>((resolve) => { entered = resolve })
  const slow: Middleware = (getResponse) => async (request) => {
    aborted = new Promise((resolve) => request.signal.addEventListener('abort', () => resolve(true)))
    entered()
    await sleep(300)
    return getResponse(request)
  }
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/plain', async () => ({}))
  await app.register(asyncViews, { middleware: [slow], urlpatterns: [path('v/', async () => ({}))] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  for (const url of ['/v/', '/plain']) {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(`GET ${url} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    await inMiddleware
    socket.destroy()
    t.equal(await Promise.race([aborted, sleep(2000).then(() => false)]), true, `${url}: signal aborted`)
    await sleep(500)
  }
  t.same(unhandled, [])
  t.equal((await app.inject('/v/')).statusCode, 200)
})

t.test('a user setErrorHandler answers view errors and middleware still post-processes', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.setErrorHandler(async (error, _request, reply) => reply.code(422).send({ custom: (error as Error).message }))
  await app.register(asyncViews, {
    middleware: [recorder([], 'm')],
    urlpatterns: [path('boom/', async () => { throw new Error('view failed') })]
  })
  const res = await app.inject('/boom/')
  t.equal(res.statusCode, 422)
  t.same(res.json(), { custom: 'view failed' })
  t.equal(res.headers['x-chain'], 'm')
})

t.test('WebSocket-style upgrades and hijacked replies do not hang the chain', async (t) => {
  const log: string[] = []
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/hijack', (_request, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/plain' })
    reply.raw.end('raw')
  })
  await app.register(asyncViews, { middleware: [recorder(log, 'm')] })
  const res = await app.inject('/hijack')
  t.equal(res.body, 'raw')
  await sleep(50)
  t.same(log, ['m:pre', 'm:post'], 'the chain finished')
})
