import t from 'tap'
import { isMainThread } from 'node:worker_threads'
import { syncToAsync, asyncToSync, closeSyncBridge, Http404, PermissionDenied } from 'fastify-async-views'
import { threadsUp } from './helpers.ts'

const fns = new URL('./fixtures/sync/fns.mjs', import.meta.url)
const call = <T = unknown>(name: string, threadSensitive = true) => syncToAsync<(...args: any[]) => T>(fns, name, { threadSensitive })

t.teardown(closeSyncBridge)

t.test('module references are checked', async (t) => {
  t.throws(() => syncToAsync('./relative.js'), { name: 'TypeError', message: /absolute/ })
  t.throws(() => syncToAsync(new URL('https://example.com/x.js')), TypeError)
  t.throws(() => asyncToSync('relative.js'), TypeError)
  t.type(syncToAsync(fns.href, 'add'), 'function', 'a file: URL string')
  t.type(syncToAsync(fns.pathname, 'add'), 'function', 'an absolute path')
  await t.rejects(syncToAsync(fns, 'nope')(), { message: /no function export named 'nope'/ })
})

t.test('thread-sensitive calls share one worker and run one at a time in call order', async (t) => {
  const tid = call<number>('tid')
  const ids = await Promise.all([tid(), tid(), tid()])
  t.equal(new Set(ids).size, 1, 'one worker')
  t.not(ids[0], 0, 'not the main thread')
  const record = call<string[]>('record')
  const results = await Promise.all([record('a', 40), record('b', 0), record('c', 20), record('d', 0)])
  t.same(results[3].slice(-8), ['start a', 'end a', 'start b', 'end b', 'start c', 'end c', 'start d', 'end d'], 'strict call order, never interleaved')
  const count = call<number>('count')
  const first = await count()
  t.same(await Promise.all([count(), count()]), [first + 1, first + 2], 'state persists between calls')
})

t.test('the pool runs calls in parallel', async (t) => {
  const slept = call<{ ms: number, threadId: number }>('slept', false)
  t.ok(await threadsUp(2, async () => await slept(20)) >= 2, 'two pool threads up')
  const started = performance.now()
  const results = await Promise.all([slept(200), slept(200), slept(200), slept(200)])
  const elapsed = performance.now() - started
  t.ok(elapsed < 600, `4 x 200 ms took ${Math.round(elapsed)} ms (serial would be 800)`)
  t.ok(new Set(results.map((r) => r.threadId)).size > 1, 'on more than one thread')
})

t.test('values cross as they are: Buffers stay Buffers', async (t) => {
  t.same(await call('describeBuffer')(Buffer.from('héllo')), { isBuffer: true, text: 'héllo' })
  t.same(await call('echo')(1, 'two', [3], { four: new Date(4) }, new Map([[5, 5]]), undefined, null), [1, 'two', [3], { four: new Date(4) }, new Map([[5, 5]]), undefined, null])
})

t.test('primitives cross exactly, on the path that skips the serialiser and on the one that does not', async (t) => {
  const values = [-0, NaN, 2n ** 70n, '', 'x'.repeat(100_000), 'é\u0000', undefined, null, true, Infinity]
  for (const threadSensitive of [true, false]) {
    const nth = call('nth', threadSensitive)
    for (let i = 0; i < values.length; i++) t.ok(Object.is(await nth(i, ...values), values[i]), `value ${i} (threadSensitive: ${threadSensitive})`)
    t.same(await call('kinds', threadSensitive)(...values), ['-0', 'number', 'bigint', 'string', 'string', 'string', 'undefined', 'object', 'boolean', 'number'], 'the worker sees them as they are')
    // One object among primitives: the whole list takes the serialiser.
    t.same(await call('echo', threadSensitive)(1, { two: 2 }, -0), [1, { two: 2 }, -0])
  }
  await t.rejects(call('symbolResult')(), { name: 'TypeError', message: /result of symbolResult\(\) cannot be sent back/ })
})

t.test('errors cross with name, message, cause, own properties and the worker stack', async (t) => {
  const error = await call('fail')().catch((e: unknown) => e) as Error & { code: string, extra: unknown, cause: Error }
  t.type(error, Error)
  t.equal(error.name, 'Error')
  t.equal(error.message, 'bad thing')
  t.equal(error.code, 'E_BAD')
  t.same(error.extra, { detail: [1, 2] })
  t.equal(error.cause.name, 'RangeError')
  t.equal(error.cause.message, 'root cause')
  t.match(error.stack, /fixtures\/sync\/fns\.mjs/, 'the worker\'s stack')
  const custom = await call('failCustom')().catch((e: unknown) => e) as Error
  t.equal(custom.name, 'ValidationError')
  t.equal(custom.message, 'field is wrong')
  const thrownString = await call('failString')().catch((e: unknown) => e) as Error
  t.equal(thrownString.message, 'a plain string')
  const notFound = await call('notFound')().catch((e: unknown) => e)
  t.ok(notFound instanceof Http404, 'the package\'s classes come back as themselves')
  t.equal((notFound as Http404).statusCode, 404)
  t.ok(await call('forbidden')().catch((e: unknown) => e) instanceof PermissionDenied)
})

t.test('a non-cloneable argument is a TypeError naming it; the worker survives', async (t) => {
  const count = call<number>('count')
  const before = await count()
  await t.rejects(call('echo')(1, () => 2), { name: 'TypeError', message: /Argument 2 of echo\(\) cannot be sent to a worker thread \(a function\)/ })
  await t.rejects(call('echo')(Symbol('s')), { name: 'TypeError', message: /Argument 1/ })
  await t.rejects(call('functionResult')(), { name: 'TypeError', message: /result of functionResult\(\) cannot be sent back/ })
  t.equal(await count(), before + 1, 'same worker, state kept')
})

t.test('a worker that crashes rejects the call and is replaced', async (t) => {
  const count = call<number>('count')
  await count()
  const error = await call('crash')().catch((e: unknown) => e) as Error
  t.type(error, Error)
  t.match(error.message, /exit|terminat/i)
  t.equal(await count(), 1, 'a fresh worker, fresh module state')
  t.equal(await count(), 2)
  await t.rejects(call('crash', false)(), Error, 'a pool worker too')
  t.equal(await call('add', false)(2, 3), 5)
})

t.test('an AbortSignal drops a queued call and detaches a running one', async (t) => {
  const record = call<string[]>('record')
  const controller = new AbortController()
  const running = record('long', 150)
  const queued = record('dropped', 0, { signal: controller.signal })
  const after = record('after', 0)
  controller.abort()
  await t.rejects(queued, { name: 'AbortError' })
  const log = await after
  t.notOk(log.includes('start dropped'), 'the queued call never ran')
  t.ok(log.includes('end long'), 'the running call finished')
  await running
  const detach = new AbortController()
  const slow = record('detached', 150, { signal: detach.signal })
  setTimeout(() => detach.abort(), 20)
  const started = performance.now()
  await t.rejects(slow, { name: 'AbortError' })
  t.ok(performance.now() - started < 120, 'the caller is released at once')
  const later = await record('later', 0)
  t.ok(later.indexOf('end detached') < later.indexOf('start later'), 'the sync code ran to its end (it cannot be interrupted), the worker lives on')
  await t.rejects(record('x', 0, { signal: AbortSignal.abort() }), { name: 'AbortError' }, 'an already aborted signal')
})

t.test('asyncToSync: the main-thread guard', async (t) => {
  t.ok(isMainThread)
  const fn = asyncToSync(new URL('./fixtures/sync/async.mjs', import.meta.url), 'slowDouble')
  t.throws(() => fn(2), { message: /cannot use asyncToSync\(\) on the main thread.*await/s })
})

t.test('asyncToSync on a worker runs the async export on the main loop and returns its value', async (t) => {
  const result = await call<{ value: number, threadId: number }>('usesAsync')(20)
  t.equal(result.value, 41)
  const pooled = await call<{ value: number }>('usesAsync', false)(1)
  t.equal(pooled.value, 3, 'from a pool worker too')
  await t.rejects(call('asyncRaises')(), Http404, 'the async side\'s error is thrown in the worker and comes back')
})

t.test('thread-sensitive calls made by that async code run on the waiting worker: no deadlock', async (t) => {
  const tid = await call<number>('tid')()
  const before = await call<number>('count')()
  const result = await call<{ counts: { first: number, second: number, threadId: number }, threadId: number }>('nested')()
  t.same(result.counts, { first: before + 1, second: before + 2, threadId: tid })
  t.equal(result.threadId, tid)
  const concurrent = call<number>('count')()
  t.equal(await concurrent, before + 3, 'an unrelated call waited its turn')
})

t.test('closeSyncBridge terminates the workers; a later call starts fresh ones', async (t) => {
  const count = call<number>('count')
  await count()
  t.ok(await count() > 1)
  await closeSyncBridge()
  t.equal(await count(), 1, 'fresh module state')
})
