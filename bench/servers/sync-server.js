// The loop-latency server of the sync suite: `node bench/servers/sync-server.js <variant> [port]`.
//
//   syncview  GET /cpu is syncView(cpuView): 200 ms of CPU work on a pool worker
//   inline    GET /cpu is an async view doing the same work on the event loop
//
// Both serve GET /json, an async view returning a JsonResponse, whose latency
// the suite measures while /cpu requests are kept in flight.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify from 'fastify'
import asyncViews, { path, syncView, JsonResponse } from 'fastify-async-views'
import { cpuView } from './sync-work.js'
import { serve } from './serve.js'

const [variant, portArg = '0'] = process.argv.slice(2)
const work = new URL('./sync-work.js', import.meta.url)

let cpu
if (variant === 'syncview') cpu = syncView(work, 'cpuView')
else if (variant === 'inline') cpu = async () => new JsonResponse(cpuView())
else {
  console.error(`unknown variant ${JSON.stringify(variant)} (syncview | inline)`)
  process.exit(2)
}

const app = Fastify({ logger: false })
await app.register(asyncViews, {
  // Two pool threads whatever the CPU affinity (availableParallelism() is 1
  // when pinned to one core): both /cpu requests run at once, as in Django.
  sync: { maxThreads: Number(process.env.BENCH_SYNC_THREADS || 2) },
  urlpatterns: [
    path('json', async () => new JsonResponse({ hello: 'world' })),
    path('cpu', cpu)
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
