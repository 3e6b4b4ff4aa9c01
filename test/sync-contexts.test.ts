import t from 'tap'
import { path, syncToAsync, threadSensitiveContext, closeSyncBridge, AsyncWebsocketConsumer, type Middleware, type IncomingFrame } from 'fastify-async-views'
import { WebsocketCommunicator } from 'fastify-async-views/testing'
import { build } from './helpers.ts'

const fns = new URL('./fixtures/sync/fns.mjs', import.meta.url)
const tid = syncToAsync<() => number>(fns, 'tid')
const slept = syncToAsync<(ms: number) => { ms: number, threadId: number }>(fns, 'slept')

t.teardown(closeSyncBridge)

// Starts `n` thread-sensitive workers so thread start-up is not what a timing measures.
async function warm (n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, async () => await threadSensitiveContext(async () => await slept(30))))
}

t.test('outside any context, thread-sensitive calls share the process\'s one worker, as before', async (t) => {
  const ids = await Promise.all([tid(), tid(), tid(), slept(1).then((r) => r.threadId)])
  t.equal(new Set(ids).size, 1)
})

t.test('threadSensitiveContext: one worker within, other contexts in parallel up to maxThreads', async (t) => {
  await build(t, { sync: { maxThreads: 3 } })
  await warm(3)
  const started = performance.now()
  const runs = await Promise.all(Array.from({ length: 3 }, async () => await threadSensitiveContext(async () => {
    const first = await slept(150)
    const second = await tid()
    // A nested context joins the outer one.
    const nested = await threadSensitiveContext(async () => await tid())
    return [first.threadId, second, nested]
  })))
  const elapsed = performance.now() - started
  for (const ids of runs) t.equal(new Set(ids).size, 1, `one worker per context: ${ids.join(',')}`)
  t.equal(new Set(runs.map((ids) => ids[0])).size, 3, 'three contexts, three workers')
  t.ok(elapsed < 400, `3 contexts x 150 ms took ${Math.round(elapsed)} ms (serial: 450)`)
  const many = await Promise.all(Array.from({ length: 8 }, async () => await threadSensitiveContext(async () => (await slept(20)).threadId)))
  t.ok(new Set(many).size <= 3, `8 contexts mapped onto at most 3 workers (${new Set(many).size})`)
  t.equal(await threadSensitiveContext(async () => 'value'), 'value', 'returns what fn returns')
  await t.rejects(threadSensitiveContext(async () => { throw new Error('inner') }), { message: 'inner' })
})

t.test('each HTTP request is a context: middleware, processView and view on one worker; requests in parallel', async (t) => {
  class Pin {
    getResponse: (request: any) => Promise<any>
    constructor (getResponse: (request: any) => Promise<any>) { this.getResponse = getResponse }
    async call (request: any): Promise<any> {
      request.seen = [await tid()]
      const response = await this.getResponse(request)
      request.seen.push(await tid())
      response.headers.set('x-seen', request.seen.join(','))
      return response
    }

    async processView (request: any): Promise<undefined> {
      request.seen.push(await tid())
      return undefined
    }
  }
  const app = await build(t, {
    sync: { maxThreads: 4 },
    middleware: [Pin as unknown as Middleware],
    urlpatterns: [path('work/', async (request: any) => {
      const slow = await slept(Number(request.GET.get('ms')))
      request.seen.push(slow.threadId, await tid())
      return { ids: request.seen }
    })]
  })
  await warm(4)
  const started = performance.now()
  const responses = await Promise.all(Array.from({ length: 4 }, async () => await app.inject('/work/?ms=150')))
  const elapsed = performance.now() - started
  const workers = new Set<number>()
  for (const res of responses) {
    const ids = [...res.json().ids, ...String(res.headers['x-seen']).split(',').map(Number)]
    t.equal(new Set(ids).size, 1, `one worker for the whole request: ${ids.join(',')}`)
    workers.add(ids[0])
  }
  t.equal(workers.size, 4, 'four requests on four workers')
  t.ok(elapsed < 450, `4 requests x 150 ms took ${Math.round(elapsed)} ms (serial: 600)`)
})

t.test('each WebSocket connection is a context', async (t) => {
  class Pinned extends AsyncWebsocketConsumer {
    override async connect (): Promise<void> {
      (this as unknown as { first: number }).first = await tid()
      await this.accept()
    }

    override async receive ({ text }: IncomingFrame): Promise<void> {
      const slow = await slept(Number(text))
      await this.send({ text: JSON.stringify([(this as unknown as { first: number }).first, slow.threadId, await tid()]) })
    }
  }
  const app = await build(t, { sync: { maxThreads: 2 }, websocket: { urlpatterns: [path('ws/', Pinned.asHandler())] } })
  await warm(2)
  const a = new WebsocketCommunicator(app, '/ws/')
  const b = new WebsocketCommunicator(app, '/ws/')
  t.teardown(async () => { await a.disconnect(); await b.disconnect() })
  await a.connect()
  await b.connect()
  const started = performance.now()
  await Promise.all([a.sendTo({ text: '150' }), b.sendTo({ text: '150' })])
  const [fromA, fromB] = await Promise.all([a.receiveJsonFrom(2000), b.receiveJsonFrom(2000)]) as number[][]
  const elapsed = performance.now() - started
  t.equal(new Set(fromA).size, 1, `connection a on one worker: ${fromA.join(',')}`)
  t.equal(new Set(fromB).size, 1, `connection b on one worker: ${fromB.join(',')}`)
  t.not(fromA[0], fromB[0], 'two connections, two workers')
  t.ok(elapsed < 295, `two connections x 150 ms took ${Math.round(elapsed)} ms`)
  await a.sendTo({ text: '1' })
  t.same(new Set(await a.receiveJsonFrom()), new Set(fromA), 'the next message of a connection: the same worker')
})
