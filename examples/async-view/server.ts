// The guide's first example, in Node terms:
//
//   async def async_view(request):
//       await asyncio.sleep(1)  # Simulate a delay
//       return JsonResponse({'message': 'This is an async view.'})
//
// Run: npx tsx examples/async-view/server.ts   then   curl http://127.0.0.1:3000/async/
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import asyncViews, { path, JsonResponse, type HttpRequest } from 'fastify-async-views'

export async function asyncView (_request: HttpRequest): Promise<JsonResponse> {
  await sleep(1000) // Simulate a delay: the event loop serves other requests meanwhile.
  return new JsonResponse({ message: 'This is an async view.' })
}

export const urlpatterns = [
  path('async/', asyncView, { name: 'async-view' })
]

const app = Fastify({ logger: true })
await app.register(asyncViews, { urlpatterns })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
