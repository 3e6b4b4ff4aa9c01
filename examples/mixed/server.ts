// The guide's example of mixing sync and async code, in Node terms:
//
//   from asgiref.sync import sync_to_async
//   from django.http import JsonResponse
//   import asyncio
//
//   async def mixed_view(request):
//       sync_result = await sync_to_async(sync_function)()
//       async_result = await async_function()
//       return JsonResponse({'sync_result': sync_result, 'async_result': async_result})
//
// sync_function is Django's make_password() (hashing.ts: blocking PBKDF2 on a
// worker thread); async_function fetches this app's own clock/ view, a slow
// upstream service that answers after an awaited timer.
//
// Run: npx tsx examples/mixed/server.ts
//      curl http://127.0.0.1:3000/mixed/              (one after the other, as in the guide)
//      curl http://127.0.0.1:3000/mixed/concurrent/   (both at once, with Promise.all)
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import asyncViews, { path, syncToAsync, JsonResponse, type HttpRequest } from 'fastify-async-views'

// threadSensitive: false: hashing shares no state with other calls, so it runs
// on the pool and two requests hash in parallel instead of queueing on one thread.
const makePassword = syncToAsync<typeof import('./hashing.ts').makePassword>(new URL('./hashing.ts', import.meta.url), 'makePassword', { threadSensitive: false })

const syncFunction = async (): Promise<string> => await makePassword('correct horse battery staple')

async function asyncFunction (request: HttpRequest): Promise<{ now: string }> {
  // The listening address, not the Host header: a client must not pick where we fetch.
  const url = new URL(request.reverse('clock'), request.fastify.server.listeningOrigin)
  const response = await fetch(url, { signal: request.signal })
  if (!response.ok) throw new Error(`clock/ answered ${response.status}`)
  return await response.json() as { now: string }
}

// mixed_view
async function mixedView (request: HttpRequest): Promise<JsonResponse> {
  const syncResult = await syncFunction()
  const asyncResult = await asyncFunction(request)
  return new JsonResponse({ sync_result: syncResult, async_result: asyncResult })
}

// Neither waits for the other: the hash runs on a worker while the fetch is in flight.
async function mixedConcurrentView (request: HttpRequest): Promise<JsonResponse> {
  const [syncResult, asyncResult] = await Promise.all([syncFunction(), asyncFunction(request)])
  return new JsonResponse({ sync_result: syncResult, async_result: asyncResult })
}

async function clock (): Promise<{ now: string }> {
  await sleep(200) // A slow upstream service.
  return { now: new Date().toISOString() }
}

export const urlpatterns = [
  path('mixed/', mixedView, { name: 'mixed' }),
  path('mixed/concurrent/', mixedConcurrentView, { name: 'mixed-concurrent' }),
  path('clock/', clock, { name: 'clock' })
]

const app = Fastify({ logger: true })
await app.register(asyncViews, { urlpatterns })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
