// The loop-latency server of the sync suite: `node bench/servers/sync-server.js <variant> [port]`.
//
//   syncview  GET /cpu is syncView(cpuView): 200 ms of CPU work on a pool worker
//   inline    GET /cpu is an async view doing the same work on the event loop
//
// Both serve GET /json, an async view returning a JsonResponse, whose latency
// the suite measures while /cpu requests are kept in flight. All variants also
// serve GET /db (one 10-row better-sqlite3 query, sync-db.js) and GET /block
// (a thread-sensitive call blocking its worker 50 ms):
//
//   db-inline     /db runs the query on the event loop (every variant's /db but these three)
//   db-sensitive  /db awaits syncToAsync(posts) (thread-sensitive)
//   db-pooled     /db awaits syncToAsync(posts, { threadSensitive: false })
//   db-syncview   /db is syncView(postsView)
//   block8        as db-inline, with 8 bridge threads (the contexts scenario's /block)
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify from 'fastify'
import asyncViews, { path, syncView, syncToAsync, JsonResponse } from 'fastify-async-views'
import { cpuView } from './sync-work.js'
import { posts } from './sync-db.js'
import { serve } from './serve.js'

const [variant, portArg = '0'] = process.argv.slice(2)
const work = new URL('./sync-work.js', import.meta.url)

const dbWork = new URL('./sync-db.js', import.meta.url)
const VARIANTS = ['syncview', 'inline', 'db-inline', 'db-sensitive', 'db-pooled', 'db-syncview', 'block8']
if (!VARIANTS.includes(variant)) {
  console.error(`unknown variant ${JSON.stringify(variant)} (${VARIANTS.join(' | ')})`)
  process.exit(2)
}
const cpu = variant === 'syncview' ? syncView(work, 'cpuView') : async () => new JsonResponse(cpuView())
let db = async () => new JsonResponse({ posts: posts() })
if (variant === 'db-sensitive' || variant === 'db-pooled') {
  const query = syncToAsync(dbWork, 'posts', { threadSensitive: variant === 'db-sensitive' })
  db = async () => new JsonResponse({ posts: await query() })
} else if (variant === 'db-syncview') {
  db = syncView(dbWork, 'postsView')
}
const block = syncToAsync(dbWork, 'block50')

const app = Fastify({ logger: false })
await app.register(asyncViews, {
  // Two pool threads whatever the CPU affinity (availableParallelism() is 1
  // when pinned to one core): both /cpu requests run at once, as in Django.
  sync: { maxThreads: variant === 'block8' ? 8 : Number(process.env.BENCH_SYNC_THREADS || 2) },
  urlpatterns: [
    path('json', async () => new JsonResponse({ hello: 'world' })),
    path('cpu', cpu),
    path('db', db),
    path('block', async () => ({ blocked: await block() }))
  ]
})

// The event loop's own view: GET /loop-delay?reset=1 starts a window, GET /loop-delay reads it.
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()
app.get('/loop-delay', async (request) => {
  const ms = (ns) => ns / 1e6
  const result = { p50Ms: ms(loopDelay.percentile(50)), p99Ms: ms(loopDelay.percentile(99)), maxMs: ms(loopDelay.max) }
  if (request.query.reset !== undefined) loopDelay.reset()
  return result
})

await serve(app, portArg, 'sync')
