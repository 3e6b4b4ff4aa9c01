import t from 'tap'
import { Worker } from 'node:worker_threads'
import { syncToAsync, asyncToSync, syncView, closeSyncBridge } from 'fastify-async-views'

const fns = new URL('./fixtures/sync/fns.mjs', import.meta.url)

t.teardown(closeSyncBridge)

t.test('syncToAsync(someFunction) says a function cannot cross threads and shows the module-export form', async (t) => {
  function allPosts (): unknown[] { return [] }
  for (const make of [() => syncToAsync(allPosts as never), () => syncView(allPosts as never), () => asyncToSync(allPosts as never)]) {
    const error = t.throws(make) as Error & { code: string }
    t.equal(error.name, 'TypeError')
    t.equal(error.code, 'FAV_FUNCTION_ACROSS_THREADS')
    t.match(error.message, /a function cannot cross to a worker thread/)
    t.match(error.message, /\(import\.meta\.url, 'allPosts'\)/, 'the module-export form, with the function\'s name')
    t.notMatch(error.message, /undefined/)
  }
  t.match((t.throws(() => syncToAsync((() => 1) as never)) as Error).message, /'yourFunction'/, 'an anonymous one')
  t.match((t.throws(() => syncToAsync({} as never)) as Error).message, /got an object \(Object\)/)
  t.match((t.throws(() => syncToAsync(fns, 3 as never)) as Error & { code: string }).code, 'FAV_INVALID_MODULE_REFERENCE')
})

t.test('syncToAsync of an async export is a TypeError (asgiref), on either kind of worker', async (t) => {
  for (const threadSensitive of [true, false]) {
    const error = await syncToAsync(fns, 'asyncExport', { threadSensitive })(2).catch((e: unknown) => e) as Error & { code: string }
    t.ok(error instanceof TypeError, 'a TypeError, rebuilt from the worker by its code')
    t.equal(error.code, 'FAV_SYNC_TO_ASYNC_OF_ASYNC')
    t.match(error.message, /asyncExport\(\) is async: await it directly/)
    const thenable = await syncToAsync(fns, 'returnsPromise', { threadSensitive })().catch((e: unknown) => e) as Error & { code: string }
    t.ok(thenable instanceof TypeError)
    t.equal(thenable.code, 'FAV_SYNC_TO_ASYNC_OF_ASYNC', 'a sync function returning a promise too')
  }
  t.equal(await syncToAsync(fns, 'add')(1, 2), 3, 'the worker lives on')
})

t.test('errors the bridge makes are coded and cross back as themselves', async (t) => {
  const missing = await syncToAsync(fns, 'nope')().catch((e: unknown) => e) as Error & { code: string }
  t.ok(missing instanceof TypeError)
  t.equal(missing.code, 'FAV_NO_SUCH_EXPORT')
  const clone = await syncToAsync(fns, 'echo')(Symbol('x')).catch((e: unknown) => e) as Error & { code: string }
  t.equal(clone.code, 'FAV_NOT_CLONEABLE')
  const aborted = await syncToAsync(fns, 'add')(1, 2, { signal: AbortSignal.abort(new Error('why')) }).catch((e: unknown) => e) as Error & { code: string }
  t.equal(aborted.name, 'AbortError')
  t.equal(aborted.code, 'FAV_SYNC_ABORTED')
  const main = t.throws(() => asyncToSync(fns, 'add')(1, 2)) as Error & { code: string }
  t.equal(main.code, 'FAV_ASYNC_TO_SYNC_ON_EVENT_LOOP')
})

t.test('asyncToSync on a worker that is not the bridge\'s throws a coded error there', async (t) => {
  const worker = new Worker(new URL('./fixtures/sync/plain-worker.mjs', import.meta.url))
  const message = await new Promise<{ ok: boolean, name: string, code: string, message: string }>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  await worker.terminate()
  t.same({ ok: message.ok, name: message.name, code: message.code }, { ok: false, name: 'Error', code: 'FAV_NOT_A_BRIDGE_WORKER' })
  t.match(message.message, /not on other worker threads/)
})
