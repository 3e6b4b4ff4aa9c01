// How calls travel: those queued for a worker go in one message, results come
// back together, and the rules of one call (order, abort, errors, values,
// keep-alive) hold inside a batch.
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify from 'fastify'
import asyncViews, { path, syncToAsync, syncView, closeSyncBridge, Http404 } from 'fastify-async-views'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { runScript, sleep } from './helpers.ts'
// The queue itself: a plain class (the bridge is reached through the package, as users reach it).
import { Queue } from '../lib/waiting.ts'

const fns = new URL('./fixtures/sync/fns.mjs', import.meta.url)
const call = <T = unknown>(name: string, threadSensitive = true) => syncToAsync<(...args: any[]) => T>(fns, name, { threadSensitive })

t.teardown(closeSyncBridge)

t.test('an aborted call shipped in a batch behind a running one is skipped by the worker', async (t) => {
  const record = call<string[]>('record')
  await record('warm', 0)
  const controller = new AbortController()
  // 'long' goes at once; the three behind it wait for it and then travel together.
  const long = record('long', 100)
  const first = record('first', 400)
  const skipped = record('skipped', 0, { signal: controller.signal })
  const last = record('last', 0)
  await long
  // 'first' is running now (400 ms), 'skipped' sits behind it on the worker.
  let abortedAt = 0
  setTimeout(() => {
    abortedAt = performance.now()
    controller.abort()
  }, 30)
  await t.rejects(skipped, { name: 'AbortError' })
  t.ok(performance.now() - abortedAt < 100, 'rejected at once, not when its turn came')
  const log = await last
  t.ok(log.includes('end first'), 'the call ahead of it ran')
  t.notOk(log.includes('start skipped'), 'the aborted call never ran')
  t.ok(log.indexOf('end first') < log.indexOf('start last'), 'the rest kept their order')
  await first
})

t.test('calls travelling together each get their own outcome, in call order on the worker', async (t) => {
  for (const threadSensitive of [true, false]) {
    const count = call<number>('count', threadSensitive)
    // Hold the worker(s) so that everything below queues and ships in batches.
    const holds = threadSensitive ? [call('slept')(50)] : [call('slept', false)(50), call('slept', false)(50)]
    const outcomes = await Promise.allSettled([
      call<number>('add', threadSensitive)(2, 3),
      call('fail', threadSensitive)(),
      call('describeBuffer', threadSensitive)(Buffer.from('bytes')),
      call('echo', threadSensitive)(new Map([[1, { at: new Date(5) }]]), new Set(['s'])),
      call('echo', threadSensitive)(1, new WeakMap()),
      call('weakMapResult', threadSensitive)(),
      call('functionResult', threadSensitive)(),
      call('notFound', threadSensitive)(),
      call<number>('add', threadSensitive)(40, 2)
    ])
    await Promise.all(holds)
    const [sum, failed, buffer, echoed, weakArg, weakResult, fnResult, notFound, last] = outcomes
    t.same(sum, { status: 'fulfilled', value: 5 })
    t.match(failed, { status: 'rejected', reason: { message: 'bad thing', code: 'E_BAD' } })
    t.same(buffer, { status: 'fulfilled', value: { isBuffer: true, text: 'bytes' } }, 'a Buffer argument stays a Buffer')
    t.same(echoed, { status: 'fulfilled', value: [new Map([[1, { at: new Date(5) }]]), new Set(['s'])] })
    t.match(weakArg, { status: 'rejected', reason: { name: 'TypeError', message: /Argument 2 of echo\(\) cannot be sent to a worker thread/ } }, 'a value only the clone refuses fails its own call')
    t.match(weakResult, { status: 'rejected', reason: { name: 'TypeError', message: /result of weakMapResult\(\) cannot be sent back/ } })
    t.match(fnResult, { status: 'rejected', reason: { name: 'TypeError', message: /result of functionResult\(\) cannot be sent back/ } })
    t.ok(notFound.status === 'rejected' && notFound.reason instanceof Http404, 'Http404 comes back as itself')
    t.same(last, { status: 'fulfilled', value: 42 }, 'the calls after the failures ran')
    if (threadSensitive) {
      const counts = await Promise.all([count(), count(), count()])
      t.same(counts, [counts[0], counts[0] + 1, counts[0] + 2], 'one worker, in call order')
    }
  }
})

t.test('many calls at once: every one answered, thread-sensitive ones in order', async (t) => {
  const count = call<number>('count')
  const base = await count()
  const results = await Promise.all(Array.from({ length: 1000 }, async () => await count()))
  t.same(results, Array.from({ length: 1000 }, (_, i) => base + 1 + i))
  const sums = await Promise.all(Array.from({ length: 1000 }, async (_, i) => await call<number>('add', false)(i, 1)))
  t.same(sums, Array.from({ length: 1000 }, (_, i) => i + 1))
})

t.test('pool workers idle longer than idleTimeout end; busy ones do not', async (t) => {
  const app = Fastify()
  await app.register(asyncViews, { urlpatterns: [], sync: { idleTimeout: 500 } })
  t.teardown(async () => { await app.close() })
  const tid = call<number>('tid', false)
  const count = call<number>('count', false)
  const first = await tid()
  t.equal(await count(), 1, 'a fresh pool worker')
  // Busy for longer than idleTimeout: not reaped under its call.
  const slept = await call<{ threadId: number }>('slept', false)(800)
  t.equal(slept.threadId, first, 'the same worker ran the long call')
  t.equal(await tid(), first, 'and is still there right after')
  await sleep(1200)
  const later = await tid()
  t.not(later, first, 'ended while idle: a new worker')
  t.equal(await count(), 1, 'with fresh module state')
})

t.test('a process with calls queued before any worker started stays alive for them, then exits by itself', async (t) => {
  const { code, signal, out, lastLine } = await runScript(new URL('./fixtures/sync/child-no-app.mjs', import.meta.url))
  t.equal(signal, null, `exited by itself (not killed): ${out}`)
  t.equal(code, 0, out)
  t.same(lastLine, { sensitive: 3, pooled: [2, 4, 6] })
})

t.test('a Queue taken item by item never emptied by a failed shift does not grow', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const queue = new Queue<object>()
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < 1_000_000; i++) {
    queue.push({})
    // Taken by count, as the bridge takes a batch's calls: the queue is never asked when empty.
    queue.shift()
  }
  gc()
  const grown = process.memoryUsage().heapUsed - before
  t.ok(grown < 2_000_000, `heap grew ${grown} bytes over a million push/shift pairs`)
  t.equal(queue.size, 0)
  // One that never runs empty drops its taken front too.
  for (let i = 0; i < 100_000; i++) {
    queue.push({})
    queue.push({})
    queue.shift()
  }
  t.equal(queue.size, 100_000)
  for (let i = 0; i < 100_000; i++) queue.shift()
  t.equal(queue.size, 0)
  t.equal(queue.shift(), undefined)
})

t.test('a sync view whose client left while its call waited for a worker never runs', async (t) => {
  const views = new URL('./fixtures/sync/views.mjs', import.meta.url)
  const app = Fastify()
  // One pool thread: the slow view holds it while the second request waits.
  await app.register(asyncViews, {
    sync: { maxThreads: 1 },
    urlpatterns: [
      path('slow/', syncView(views, 'slow')),
      path('counted/', syncView(views, 'counted'))
    ]
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => { await app.close() })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const slow = fetch(`${base}/slow/?ms=800`)
  await sleep(200)
  // This one queues behind the slow view; its client gives up before the worker is free.
  const gone = request(`${base}/counted/`)
  gone.on('error', () => {})
  gone.end()
  await sleep(150)
  gone.destroy()
  t.equal((await slow).status, 200)
  const after = await (await fetch(`${base}/counted/`)).json() as { served: number }
  t.equal(after.served, 1, 'the abandoned request\'s view never ran')
})

t.test('an idle worker parks between calls, yet the timers its modules started still run', async (t) => {
  await call('startTicker')()
  const before = await call<number>('readTicks')()
  // Idle: the worker waits on its signal, letting its loop turn every 50 ms at most.
  await sleep(400)
  const after = await call<number>('stopTicker')()
  t.ok(after - before >= 2, `a 10 ms interval ticked ${after - before} times in 400 ms idle`)
})

t.test('pool calls waiting for workers that a resize retires get new workers', async (t) => {
  const add = call<number>('add', false)
  // Queued while the pool's first workers are still starting, then the pool is resized under them.
  const calls = Array.from({ length: 6 }, async (_, i) => await add(i, 1))
  const app = Fastify()
  await app.register(asyncViews, { urlpatterns: [], sync: { maxThreads: 3 } })
  t.teardown(async () => { await app.close() })
  t.same(await Promise.all(calls), [1, 2, 3, 4, 5, 6])
})
