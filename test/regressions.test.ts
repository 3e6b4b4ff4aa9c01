// Regressions found while building the examples, each pinned down here.
import t from 'tap'
import Fastify from 'fastify'
import { request as httpRequest } from 'node:http'
import asyncViews, { path, EventStreamResponse, StreamingHttpResponse, type Middleware } from 'fastify-async-views'
import { captureLogs, sleep } from './helpers.ts'

t.test('resolverMatch is null in handler404 when no pattern matched (even if the route shape did)', async (t) => {
  const seen: unknown[] = []
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    handler404: async (request) => { seen.push(request.resolverMatch); return { missing: true } },
    urlpatterns: [path('articles/<int:id>/', async () => ({}))]
  })
  t.equal((await app.inject('/articles/abc/')).statusCode, 404)
  t.equal((await app.inject('/nope/')).statusCode, 404)
  t.same(seen, [null, null])
})

t.test('streamed responses send their headers before the first chunk', async (t) => {
  const passThrough: Middleware = (getResponse) => async (request) => await getResponse(request)
  for (const middleware of [[], [passThrough]]) {
    const app = Fastify()
    t.teardown(() => app.close())
    const later = async function * (): AsyncGenerator<string> { await sleep(800); yield 'late' }
    await app.register(asyncViews, {
      middleware,
      urlpatterns: [
        path('events/', async () => new EventStreamResponse(later())),
        path('stream/', async () => new StreamingHttpResponse(later()))
      ]
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    for (const url of ['/events/', '/stream/']) {
      const started = performance.now()
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ port, host: '127.0.0.1', path: url }, (res) => { resolve(res.statusCode ?? 0); res.destroy() })
        req.on('error', reject)
        req.end()
      })
      t.equal(status, 200)
      t.ok(performance.now() - started < 500, `${url} with ${middleware.length} middleware: headers after ${Math.round(performance.now() - started)} ms`)
    }
  }
})

t.test('a client leaving during a fetch given request.signal is logged as info, not as a server error', async (t) => {
  const logs = captureLogs('info')
  const upstream = Fastify()
  t.teardown(() => upstream.close())
  upstream.get('/slow', async () => { await sleep(2000); return {} })
  await upstream.listen({ port: 0, host: '127.0.0.1' })
  const upstreamUrl = `http://127.0.0.1:${(upstream.server.address() as { port: number }).port}/slow`
  const app = Fastify(logs.options)
  t.teardown(() => app.close())
  let entered: () => void = () => {}
  const inView = new Promise<void>((resolve) => { entered = resolve })
  await app.register(asyncViews, {
    urlpatterns: [path('proxy/', async (request) => {
      entered()
      return await (await fetch(upstreamUrl, { signal: request.signal })).json() as object
    })]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const req = httpRequest({ port: (app.server.address() as { port: number }).port, host: '127.0.0.1', path: '/proxy/', agent: false })
  req.on('error', () => {})
  req.end()
  await inView
  req.destroy()
  await sleep(300)
  t.notOk(logs.lines.some((line) => line.level >= 50), 'no error-level line')
  t.ok(logs.lines.some((line) => /client went away/.test(line.msg)), 'an info line says the client went away')
})

t.test('JsonResponse encodes when sent: unserialisable data is a clean 500; content and headers read as JSON', async (t) => {
  const { JsonResponse } = await import('fastify-async-views')
  const logs = captureLogs('error')
  const app = Fastify(logs.options)
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    urlpatterns: [
      path('big/', async () => new JsonResponse({ n: 10n })),
      path('loop/', async () => { const a: Record<string, unknown> = {}; a.self = a; return new JsonResponse(a) }),
      path('fine/', async () => new JsonResponse({ a: [1, 'é'] }))
    ]
  })
  for (const url of ['/big/', '/loop/']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 500, url)
    t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
  }
  t.ok(logs.lines.some((line) => line.level >= 50), 'logged')
  const fine = await app.inject('/fine/')
  t.same(fine.json(), { a: [1, 'é'] })
  t.match(fine.headers['content-type'], /^application\/json/)
  const response = new JsonResponse({ a: 1 })
  t.equal(response.text, '{"a":1}')
  t.equal(response.headers.get('content-type'), 'application/json')
  t.throws(() => new JsonResponse(undefined, { safe: false }), TypeError)
})

t.test('request.signal is not aborted for a request whose body was read (Node destroys a read IncomingMessage)', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  // Any async hook after the body is read (uploads', a session plugin's) lets Node destroy the read request before the view.
  app.addHook('preValidation', async () => {})
  await app.register(asyncViews, {
    urlpatterns: [path('s/', async (request) => ({ aborted: request.signal.aborted, body: request.body.toString() }))]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const res = await fetch(`http://127.0.0.1:${port}/s/`, { method: 'POST', body: 'abc' })
  t.same(await res.json(), { aborted: false, body: 'abc' })
})
