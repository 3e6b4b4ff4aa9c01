// asgiref's tests/test_sync.py nesting and context cases, ported: Python's
// "current thread" is here the bridge worker blocked in asyncToSync.
import t from 'tap'
import { path, syncToAsync, syncView, threadSensitiveContext, closeSyncBridge } from 'fastify-async-views'
import { build } from './helpers.ts'

const nest = new URL('./fixtures/sync/nest.mjs', import.meta.url)
const fns = new URL('./fixtures/sync/fns.mjs', import.meta.url)
const tid = syncToAsync<() => number>(nest, 'tid')

t.teardown(closeSyncBridge)

// A deadlock must fail the test, not hang it.
async function within<T> (promise: Promise<T>, ms = 10000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms: deadlock`)), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

t.test('test_thread_sensitive_with_context_matches: concurrent calls of one context share its worker', async (t) => {
  const ids = await threadSensitiveContext(async () => await Promise.all([tid(), tid()]))
  t.equal(ids[0], ids[1])
  t.not(ids[0], 0)
})

t.test('test_thread_sensitive_context_without_sync_work', async (t) => {
  t.equal(await threadSensitiveContext(async () => 1), 1)
})

t.test('test_thread_sensitive_double_nested: sync -> async -> sync -> async -> sync all on one worker', async (t) => {
  for (const inContext of [false, true]) {
    const run = async (): Promise<{ outer: number, inner: number }> => await syncToAsync<() => { outer: number, inner: number }>(nest, 'level1')()
    const result = await within(inContext ? threadSensitiveContext(run) : run())
    t.equal(result.inner, result.outer, `inner call on the waiting worker (in a context: ${inContext})`)
  }
})

t.test('the former deadlock: thread-sensitive -> asyncToSync -> pooled -> asyncToSync -> thread-sensitive', async (t) => {
  const run = syncToAsync<() => { outer: number, viaPool: { pooled: number, inner: number } }>(nest, 'sensitiveOuter')
  const result = await within(run())
  t.not(result.viaPool.pooled, result.outer, 'the pooled call ran on a pool worker')
  t.equal(result.viaPool.inner, result.viaPool.pooled, 'the inner thread-sensitive call ran on the waiting pool worker')
  const inContext = await within(threadSensitiveContext(async () => await run()))
  t.equal(inContext.viaPool.inner, inContext.viaPool.pooled, 'in a context too')
})

t.test('test_thread_sensitive_disabled: a pooled call from asyncToSync code runs elsewhere', async (t) => {
  const result = await within(syncToAsync<() => { outer: number, inner: number }>(nest, 'disabled')())
  t.not(result.inner, result.outer)
})

t.test('test_sync_to_async_within_create_task: a raced inner call still lands on the waiting worker', async (t) => {
  const result = await within(threadSensitiveContext(async () => await syncToAsync<() => { outer: number, inner: number }>(nest, 'middleware')()))
  t.equal(result.inner, result.outer)
  const both = await within(syncToAsync<() => { outer: number, inner: number[] }>(nest, 'twoCalls')())
  t.same(both.inner, [both.outer, both.outer], 'two concurrent inner calls, one after the other, on the waiting worker')
})

t.test('test_sync_to_async_deadlock_ignored_with_exception: an error leaves the worker usable', async (t) => {
  const fails = syncToAsync(nest, 'fails')
  await t.rejects(fails(), { name: 'RangeError', message: 'from sync code' })
  await t.rejects(fails(), { name: 'RangeError', message: 'from sync code' })
  t.type(await within(tid()), 'number')
})

t.test('syncView -> asyncToSync -> thread-sensitive call lands on the view\'s own worker', async (t) => {
  const app = await build(t, { urlpatterns: [path('v/', syncView(nest, 'viewCallsBack')), path('t/', syncView(nest, 'viewCallsBack', { threadSensitive: true }))] })
  for (const url of ['/v/', '/t/']) {
    const res = await within(app.inject(url))
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.equal(body.db, body.view, `${url}: the DB call ran on the view's worker`)
  }
  // Unrelated calls made meanwhile still take their normal route.
  t.equal(await syncToAsync<(a: number, b: number) => number>(fns, 'add')(1, 2), 3)
})
