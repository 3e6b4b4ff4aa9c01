// How the request/response cycle changes with async views: while one view
// awaits, the event loop serves the others.
//
//   async def slow_view(request):
//       await asyncio.sleep(0.5)
//       return JsonResponse({'slept': 0.5})
//
// 50 requests to slow/ at once all finish after about half a second, not 25 s.
// CPU-bound work is different: it never awaits, so on the event loop it
// blocks every other request (primes/blocking/, the mistake). Run as a sync
// view on a worker thread (syncView, as Django runs sync views in a thread
// under ASGI), it leaves the loop free: ping/ answers at once meanwhile.
//
// Run: npx tsx examples/concurrency/server.ts
//      time (for i in $(seq 50); do curl -s http://127.0.0.1:3000/slow/ > /dev/null & done; wait)
//      curl 'http://127.0.0.1:3000/primes/?below=5000000' & sleep 0.5; curl http://127.0.0.1:3000/ping/            ping answers first
//      curl 'http://127.0.0.1:3000/primes/blocking/?below=5000000' & sleep 0.5; curl http://127.0.0.1:3000/ping/   ping waits
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import asyncViews, { path, syncView, type HttpRequest } from 'fastify-async-views'
import { countPrimes, parseBelow, primesView } from './primes.ts'

async function slowView (_request: HttpRequest): Promise<{ slept: number }> {
  await sleep(500) // Awaiting: the loop serves other requests meanwhile.
  return { slept: 0.5 }
}

async function ping (): Promise<{ pong: true, at: number }> {
  return { pong: true, at: Date.now() }
}

// The mistake: CPU-bound work in an async view holds the event loop.
async function primesBlocking (request: HttpRequest): Promise<ReturnType<typeof primesView>> {
  const below = parseBelow(request)
  const started = performance.now()
  const primes = countPrimes(below) // Nothing else runs until this returns.
  return { below, primes, ms: Math.round(performance.now() - started) }
}

export const urlpatterns = [
  path('slow/', slowView, { name: 'slow' }),
  path('ping/', ping, { name: 'ping' }),
  path('primes/', syncView(new URL('./primes.ts', import.meta.url), 'primesView'), { name: 'primes' }),
  path('primes/blocking/', primesBlocking, { name: 'primes-blocking' })
]

const app = Fastify({ logger: true })
await app.register(asyncViews, { urlpatterns })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
