import t from 'tap'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import Fastify from 'fastify'
import asyncViews, { path, HttpRequest, QueryDict, BadRequest, type ResolverMatch } from 'fastify-async-views'
import { build, sleep } from './helpers.ts'

t.test('HttpRequest exposes Django members', async (t) => {
  let seen: Record<string, unknown> = {}
  const app = await build(t, {
    urlpatterns: [path('r/<int:id>/', async (request, { id }) => {
      seen = {
        method: request.method,
        path: request.path,
        pathInfo: request.pathInfo,
        scheme: request.scheme,
        GET: request.GET.getlist('a'),
        GETlast: request.GET.get('a'),
        GETmissing: request.GET.get('zz', 'dflt'),
        hasB: request.GET.has('b'),
        POST: request.POST.toJSON(),
        body: request.body.toString(),
        header: request.headers.get('X-CUSTOM'),
        hasHeader: request.headers.has('x-custom'),
        meta: {
          custom: request.META.HTTP_X_CUSTOM,
          ct: request.META.CONTENT_TYPE,
          qs: request.META.QUERY_STRING,
          method: request.META.REQUEST_METHOD,
          addr: request.META.REMOTE_ADDR,
          name: request.META.SERVER_NAME,
          port: request.META.SERVER_PORT
        },
        cookies: request.COOKIES,
        host: request.getHost(),
        secure: request.isSecure(),
        full: request.getFullPath(),
        abs: request.buildAbsoluteUri(),
        absLoc: request.buildAbsoluteUri('/other/?x=1'),
        fastify: request.fastify === undefined ? 'missing' : typeof request.fastify.id,
        id
      }
      return {}
    })]
  })
  const res = await app.inject({
    method: 'POST',
    url: '/r/5/?a=1&a=2&b=',
    headers: { 'x-custom': 'yes', host: 'example.com:8080', 'content-type': 'application/x-www-form-urlencoded', cookie: 'sid=abc; theme="dark"; enc=a%20b' },
    payload: 'name=caf%C3%A9&tags=a&tags=b'
  })
  t.equal(res.statusCode, 200)
  t.same(seen, {
    method: 'POST',
    path: '/r/5/',
    pathInfo: '/r/5/',
    scheme: 'http',
    GET: ['1', '2'],
    GETlast: '2',
    GETmissing: 'dflt',
    hasB: true,
    POST: { name: 'café', tags: 'b' },
    body: 'name=caf%C3%A9&tags=a&tags=b',
    header: 'yes',
    hasHeader: true,
    meta: { custom: 'yes', ct: 'application/x-www-form-urlencoded', qs: 'a=1&a=2&b=', method: 'POST', addr: '127.0.0.1', name: 'example.com', port: '8080' },
    cookies: { sid: 'abc', theme: 'dark', enc: 'a b' },
    host: 'example.com:8080',
    secure: false,
    full: '/r/5/?a=1&a=2&b=',
    abs: 'http://example.com:8080/r/5/?a=1&a=2&b=',
    absLoc: 'http://example.com:8080/other/?x=1',
    fastify: 'string',
    id: 5
  })
})

t.test('body is raw bytes for every content type; json() parses or raises BadRequest', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('raw/', async (request) => ({ hex: request.body.toString('hex'), len: request.body.length, isBuffer: Buffer.isBuffer(request.body) })),
      path('json/', async (request) => ({ parsed: request.json() })),
      path('post-json/', async (request) => ({ post: request.POST.size }))
    ]
  })
  const bytes = Buffer.from([0, 1, 2, 255])
  t.same((await app.inject({ method: 'POST', url: '/raw/', payload: bytes, headers: { 'content-type': 'application/octet-stream' } })).json(), { hex: '000102ff', len: 4, isBuffer: true })
  t.same((await app.inject({ method: 'POST', url: '/raw/', payload: '{"a": 1}', headers: { 'content-type': 'application/json' } })).json(), { hex: Buffer.from('{"a": 1}').toString('hex'), len: 8, isBuffer: true }, 'JSON stays raw bytes')
  t.same((await app.inject({ method: 'POST', url: '/raw/', payload: 'x', headers: { 'content-type': 'image/weird' } })).json().len, 1, 'unknown types are accepted (no 415)')
  t.same((await app.inject('/raw/')).json(), { hex: '', len: 0, isBuffer: true }, 'no body: empty buffer')
  t.same((await app.inject({ method: 'POST', url: '/json/', payload: { a: [1, 2] } })).json(), { parsed: { a: [1, 2] } })
  const bad = await app.inject({ method: 'POST', url: '/json/', payload: '{nope', headers: { 'content-type': 'application/json' } })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error, 'Bad Request')
  t.match(bad.json().message, /Malformed JSON/)
  t.equal((await app.inject({ method: 'POST', url: '/json/' })).statusCode, 400, 'empty body is not JSON')
  t.same((await app.inject({ method: 'POST', url: '/post-json/', payload: { a: 1 } })).json(), { post: 0 }, 'POST only parses forms')
  t.type(new BadRequest('x').statusCode, 'number')
})

t.test('members are computed lazily and stay readable after the response', async (t) => {
  let kept: HttpRequest | undefined
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    urlpatterns: [path('keep/', async (request) => {
      kept = request
      return { ok: true }
    })]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', path: '/keep/?q=1', agent: false, headers: { cookie: 'a=1', connection: 'close' } }, (res) => {
      res.resume()
      res.on('end', resolve)
    })
    req.on('error', reject)
    req.end()
  })
  await sleep(50)
  t.ok(kept !== undefined)
  const request = kept as HttpRequest
  t.equal(request.fastify.raw.socket?.destroyed, true, 'the socket is gone')
  t.equal(request.META.REMOTE_ADDR, '127.0.0.1', 'REMOTE_ADDR was captured on arrival')
  t.equal(request.GET.get('q'), '1')
  t.same(request.COOKIES, { a: '1' })
  t.equal(request.scheme, 'http')
  t.equal(request.signal.aborted, false, 'a completed request is not aborted')
})

t.test('request.signal aborts when the client goes away', async (t) => {
  let aborted: Promise<string> | undefined
  let entered: () => void = () => {}
  const inView = new Promise<void>((resolve) => { entered = resolve })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    urlpatterns: [path('slow/', async (request) => {
      aborted = new Promise((resolve) => request.signal.addEventListener('abort', () => resolve(String(request.signal.reason?.message))))
      entered()
      await new Promise((resolve) => request.signal.addEventListener('abort', resolve))
      return {}
    })]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write('GET /slow/ HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await inView
  socket.destroy()
  const reason = await Promise.race([aborted, sleep(2000).then(() => 'timeout')])
  t.equal(reason, 'Client disconnected')
})

t.test('a signal read after the client left is already aborted', async (t) => {
  let state: boolean | undefined
  let entered: () => void = () => {}
  const inView = new Promise<void>((resolve) => { entered = resolve })
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    urlpatterns: [path('late/', async (request) => {
      entered()
      await gate
      state = request.signal.aborted
      return {}
    })]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const socket = connect((app.server.address() as { port: number }).port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write('GET /late/ HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await inView
  socket.destroy()
  await sleep(100)
  release()
  await sleep(100)
  t.equal(state, true)
})

t.test('an invalid Host is a 400 (DisallowedHost)', async (t) => {
  const app = await build(t, { urlpatterns: [path('h/', async (request) => ({ host: request.getHost() }))] })
  t.equal((await app.inject({ url: '/h/', headers: { host: 'good.example:81' } })).statusCode, 200)
  t.equal((await app.inject({ url: '/h/', headers: { host: '[::1]:3000' } })).statusCode, 200)
  const bad = await app.inject({ url: '/h/', headers: { host: 'evil.com/../x' } })
  t.equal(bad.statusCode, 400)
  t.notMatch(bad.body, /at /, 'no stack trace')
  t.equal((await app.inject({ url: '/h/', headers: { host: 'a b' } })).statusCode, 400)
  t.equal((await app.inject({ url: '/h/', headers: { host: 'good.example' } })).statusCode, 200, 'later requests fine')
})

t.test('resolverMatch for a plain route and user attributes', async (t) => {
  const app = await build(t, { urlpatterns: [path('m/', async (request) => ({ user: request.user ?? null }))] })
  t.same((await app.inject('/m/')).json(), { user: null })
  const match: ResolverMatch = { func: null, args: [], kwargs: {}, urlName: undefined, route: '', namespaces: [], namespace: '', appNames: [], appName: '', viewName: '' }
  t.ok(match)
})

t.test('QueryDict', async (t) => {
  const q = new QueryDict('a=1&a=2&b=%C3%A9&c')
  t.equal(q.get('a'), '2')
  t.same(q.getlist('a'), ['1', '2'])
  t.equal(q.get('b'), 'é')
  t.equal(q.get('c'), '')
  t.equal(q.get('nope'), undefined)
  t.same([...q], [['a', '2'], ['b', 'é'], ['c', '']])
  t.same([...q.keys()], ['a', 'b', 'c'])
  t.same([...q.lists()], [['a', ['1', '2']], ['b', ['é']], ['c', ['']]])
  t.equal(q.urlencode(), 'a=1&a=2&b=%C3%A9&c=')
  t.same(QueryDict.fromLists(q.toLists()).getlist('a'), ['1', '2'])
  t.equal(new QueryDict().size, 0)
})
