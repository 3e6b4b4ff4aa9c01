import t from 'tap'
import Fastify from 'fastify'
import asyncViews, { path, syncView, syncToAsync, closeSyncBridge, type Middleware } from 'fastify-async-views'
import { build, captureLogs, runScript, threadsUp } from './helpers.ts'

const views = new URL('./fixtures/sync/views.mjs', import.meta.url)
const fns = new URL('./fixtures/sync/fns.mjs', import.meta.url)

t.teardown(closeSyncBridge)

t.test('syncView gets a copy of the request on a worker thread', async (t) => {
  const tenant: Middleware = (getResponse) => async (request) => {
    request.user = { name: 'ada' }
    ;(request as unknown as Record<string, unknown>).tenant = 'acme'
    ;(request as unknown as Record<string, unknown>).notCloneable = () => 1
    return getResponse(request)
  }
  const app = await build(t, {
    middleware: [tenant],
    urlpatterns: [path('items/<int:id>/', syncView(views, 'inspect'), { name: 'inspect' })]
  })
  const res = await app.inject({
    method: 'POST',
    url: '/items/5/?a=1&a=2',
    headers: { 'x-test': 'yes', cookie: 'sid=s1', 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'name=caf%C3%A9'
  })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.match(body, {
    isMainThread: false,
    method: 'POST',
    path: '/items/5/',
    pathInfo: '/items/5/',
    GET: ['1', '2'],
    POST: 'café',
    header: 'yes',
    cookie: 's1',
    remote: '127.0.0.1',
    bodyIsBuffer: true,
    body: 'name=caf%C3%A9',
    match: { urlName: 'inspect', route: 'items/<int:id>/', kwargs: { id: 5 } },
    user: { name: 'ada' },
    tenant: 'acme',
    kwargs: { id: 5 },
    self: '/items/5/'
  })
  t.not(body.threadId, 0)
  const json = await app.inject({ method: 'POST', url: '/items/6/', payload: { x: [1] } })
  t.same(json.json().json, { x: [1] })
})

t.test('syncView returns any response class, or plain data', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('inspect/<int:id>/', syncView(views, 'inspect'), { name: 'inspect' }),
      path('plain/', syncView(views, 'plain')),
      path('list/', syncView(views, 'list')),
      path('html/', syncView(views, 'html')),
      path('away/', syncView(views, 'goAway')),
      path('named/', syncView(views, 'goNamed')),
      path('missing/', syncView(views, 'missing')),
      path('streaming/', syncView(views, 'streaming')),
      path('nothing/', syncView(views, 'nothing'))
    ]
  })
  t.equal((await app.inject('/plain/')).json().plain, true)
  t.same((await app.inject('/list/')).json(), [1, 2, 3])
  const html = await app.inject('/html/')
  t.equal(html.statusCode, 201)
  t.equal(html.body, '<b>hi</b>')
  t.equal(html.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(html.headers['x-extra'], '1')
  t.same(html.headers['set-cookie'], ['seen=yes; Path=/'])
  const away = await app.inject('/away/')
  t.equal(away.statusCode, 302)
  t.equal(away.headers.location, '/elsewhere/')
  t.equal((await app.inject('/named/')).headers.location, '/inspect/7/', 'redirect by name, reversed on the main thread')
  const missing = await app.inject('/missing/')
  t.equal(missing.statusCode, 404, 'Http404 raised in the worker')
  t.equal(missing.json().message, 'not in the worker either')
  t.equal((await app.inject('/streaming/')).statusCode, 500, 'streaming responses cannot cross threads')
  t.equal((await app.inject('/nothing/')).statusCode, 500)
})

t.test('the event loop keeps serving while sync views run, and sync views run in parallel', async (t) => {
  const app = await build(t, {
    sync: { maxThreads: 2 },
    urlpatterns: [path('slow/', syncView(views, 'slow')), path('fast/', async () => ({ fast: true }))]
  })
  // Start both pool threads first (a thread's start-up is not what is measured).
  t.equal(await threadsUp(2, async () => (await app.inject('/slow/?ms=50')).json()), 2, 'both pool threads up')
  const started = performance.now()
  const slow = Promise.all([app.inject('/slow/?ms=300'), app.inject('/slow/?ms=300')])
  const fastStarted = performance.now()
  const fast = await app.inject('/fast/')
  const fastTook = performance.now() - fastStarted
  t.equal(fast.statusCode, 200)
  t.ok(fastTook < 100, `a fast route answered in ${Math.round(fastTook)} ms while sync views ran`)
  await slow
  const took = performance.now() - started
  t.ok(took < 550, `two 300 ms sync views took ${Math.round(took)} ms together`)
})

t.test('logs from a sync view reach the request logger', async (t) => {
  const logs = captureLogs('warn')
  const app = await build(t, { urlpatterns: [path('logs/', syncView(views, 'logs'))] }, logs.options)
  t.same((await app.inject('/logs/')).json(), { logged: true })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(logs.lines.some((line) => line.msg === 'hello from the sync view' && line.from === 'worker' && line.reqId !== undefined))
})

t.test('app.close() terminates the workers; a later call starts fresh ones', async (t) => {
  const count = syncToAsync<() => number>(fns, 'count')
  const app = Fastify()
  await app.register(asyncViews, { urlpatterns: [path('c/', async () => ({ n: await count() }))] })
  await app.inject('/c/')
  t.ok((await app.inject('/c/')).json().n >= 2)
  await app.close()
  t.equal(await count(), 1, 'a fresh worker after close')
})

t.test('a child process using the bridge exits by itself after app.close()', async (t) => {
  const { code, signal, out, lastLine } = await runScript(new URL('./fixtures/sync/child-app.mjs', import.meta.url))
  t.equal(signal, null, `exited by itself (not killed): ${out}`)
  t.equal(code, 0, out)
  t.same(lastLine, { sum: { sum: 3, pooled: 7, viaAsync: 3 }, view: true })
})

t.test('with debug, a view or middleware that blocks the loop is named in a warning', async (t) => {
  const logs = captureLogs('warn')
  const spin = (ms: number): void => { const end = Date.now() + ms; while (Date.now() < end); }
  const blockingMiddleware: Middleware = function blockingMiddleware (getResponse) {
    return async (request) => {
      if (request.GET.has('mw')) spin(60)
      return getResponse(request)
    }
  }
  const app = await build(t, {
    debug: true,
    sync: { blockingWarnMs: 40 },
    middleware: [blockingMiddleware],
    urlpatterns: [path('block/', async function blockingView () { spin(60); return {} }), path('ok/', async function fineView () { return {} })]
  }, logs.options)
  await app.inject('/block/')
  await app.inject('/ok/?mw=1')
  await app.inject('/ok/')
  const warnings = logs.lines.filter((line) => line.level === 40).map((line) => line.msg)
  t.equal(warnings.length, 2, warnings.join('\n'))
  t.match(warnings[0], /view blockingView blocked the event loop for \d+ ms/)
  t.match(warnings[1], /middleware blockingMiddleware blocked the event loop/)
  const quiet = captureLogs('warn')
  const prod = await build(t, { sync: { blockingWarnMs: 40 }, urlpatterns: [path('block/', async function blockingView () { spin(60); return {} })] }, quiet.options)
  await prod.inject('/block/')
  t.equal(quiet.lines.length, 0, 'only with debug')
})

t.test('sync options are checked', async (t) => {
  for (const sync of [{ maxThreads: 0 }, { maxThreads: 1.5 }, { idleTimeout: -1 }, { blockingWarnMs: 'x' }, { nope: 1 }, 'x']) {
    const app = Fastify()
    await t.rejects((async () => { await app.register(asyncViews, { sync: sync as never }) })(), { name: 'ImproperlyConfigured', message: /sync/ }, JSON.stringify(sync))
    await app.close()
  }
})
