import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import asyncViews, { path, syncToAsync, syncView, closeSyncBridge, type Middleware, type AsyncViewsOptions } from 'fastify-async-views'
import { sleep, threadsUp } from './helpers.ts'

const fns = new URL('./fixtures/sync/fns.mjs', import.meta.url)
const views = new URL('./fixtures/sync/views.mjs', import.meta.url)
const count = syncToAsync<() => number>(fns, 'count')
const record = syncToAsync<(name: string, ms: number) => string[]>(fns, 'record')
const slept = syncToAsync<(ms: number) => { ms: number, threadId: number }>(fns, 'slept', { threadSensitive: false })

t.teardown(closeSyncBridge)

async function app (options: AsyncViewsOptions = {}): Promise<FastifyInstance> {
  const instance = Fastify()
  await instance.register(asyncViews, {
    urlpatterns: [
      path('record/', async (request) => ({ log: await record(String(request.GET.get('name')), Number(request.GET.get('ms'))) })),
      path('pooled/', async (request) => await slept(Number(request.GET.get('ms'))))
    ],
    ...options
  })
  await instance.ready()
  return instance
}

for (const order of ['first', 'second'] as const) {
  t.test(`two apps in one process: closing the ${order} one leaves the other's calls and state alone`, async (t) => {
    await closeSyncBridge()
    const a = await app()
    const b = await app()
    const [closing, staying] = order === 'first' ? [a, b] : [b, a]
    // Outside any request's context, calls share the process's one thread-sensitive worker.
    t.equal(await count(), 1)
    t.equal(await count(), 2)
    const inFlight = record('running', 200)
    const queued = record('queued', 0)
    const request = staying.inject('/record/?name=request&ms=150')
    const pooled = staying.inject('/pooled/?ms=200')
    await sleep(50)
    await closing.close()
    await inFlight
    t.match(await queued, ['start running', 'end running', 'start queued', 'end queued'], 'in-flight and queued calls complete on their worker')
    t.equal((await request).statusCode, 200, 'a request in flight on the other app completes')
    t.equal((await pooled).statusCode, 200, 'a pooled call completes')
    t.equal(await count(), 3, 'thread-sensitive state survives the other app\'s close')
    await staying.close()
    t.equal(await count(), 1, 'the last holder\'s close ended the threads: fresh module state')
    await closing.close()
    t.equal(await count(), 2, 'closing twice releases nothing more')
    await closeSyncBridge()
  })
}

t.test('closeSyncBridge() ends the threads whoever holds them', async (t) => {
  const a = await app()
  t.teardown(() => a.close())
  await count()
  t.equal(await count(), 2)
  await closeSyncBridge()
  t.equal(await count(), 1)
})

t.test('a second app\'s sync options resize the running pool', async (t) => {
  await closeSyncBridge()
  const a = await app({ sync: { maxThreads: 2 } })
  t.teardown(() => a.close())
  const warm = async (n: number): Promise<number> => await threadsUp(n, async () => (await a.inject('/pooled/?ms=50')).json())
  t.equal(await warm(2), 2, 'two workers up')
  const timed = async (): Promise<number> => {
    const started = performance.now()
    await Promise.all([1, 2, 3, 4].map(async () => await a.inject('/pooled/?ms=200')))
    return performance.now() - started
  }
  const before = await timed()
  t.ok(before >= 390, `maxThreads 2: 4 x 200 ms took ${Math.round(before)} ms`)
  const b = await app({ sync: { maxThreads: 4 } })
  t.teardown(() => b.close())
  t.equal(await warm(4), 4, 'resized: four workers up')
  const after = await timed()
  t.ok(after < 350, `resized to 4: 4 x 200 ms took ${Math.round(after)} ms`)
})

t.test('a sync view does not keep its finished request alive', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const refs: Array<WeakRef<object>> = []
  const keep: Middleware = (getResponse) => async (request) => {
    refs.push(new WeakRef(request))
    return await getResponse(request)
  }
  const instance = Fastify({ logger: { level: 'info', stream: { write () {} } } })
  t.teardown(() => instance.close())
  await instance.register(asyncViews, { middleware: [keep], urlpatterns: [path('quiet/', syncView(views, 'quietView')), path('chatty/', syncView(views, 'chattyView'))] })
  t.same((await instance.inject('/quiet/')).json(), { quiet: true })
  t.same((await instance.inject('/chatty/')).json(), { chatty: true })
  let alive = refs.length
  for (let i = 0; i < 20 && alive > 0; i++) {
    await sleep(10)
    gc()
    alive = refs.filter((ref) => ref.deref() !== undefined).length
  }
  t.equal(alive, 0, 'both requests collected well before a second')
})
