// Background tasks, Channels style: an HTTP view hands a job to a worker over
// the channel layer and returns at once; the worker reports back to a group
// that WebSocket clients listen to.
//
// One process (in-memory layer, the worker runs inside the app):
//   npx tsx examples/worker/server.ts
// Scaled out (Redis; the worker is its own process, as `manage.py runworker thumbnails`):
//   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/worker/server.ts
//   npx tsx dist/cli.js worker --layer redis://127.0.0.1:6379 examples/worker/consumers.ts
// Then: curl -d '{"name":"cat","size":128}' -H 'content-type: application/json' http://127.0.0.1:3000/thumbnails/
// and watch ws://127.0.0.1:3000/ws/thumbnails/ for the result.
import Fastify from 'fastify'
import { randomUUID } from 'node:crypto'
import asyncViews, { path, channelWorker, requirePOST, JsonResponse, HttpResponseBadRequest, AsyncJsonWebsocketConsumer, type ChannelLayerConfig } from 'fastify-async-views'
import consumers from './consumers.ts'

// Forwards the workers' results to the browser.
class ThumbnailFeed extends AsyncJsonWebsocketConsumer {
  override groups = ['thumbnails-done']
  async thumbnailDone (event: Record<string, unknown>): Promise<void> {
    await this.sendJson(event)
  }
}

const requestThumbnail = requirePOST(async (request) => {
  let body: { name?: unknown, size?: unknown }
  try {
    body = request.json()
  } catch {
    return new HttpResponseBadRequest('Expected JSON { name, size }')
  }
  if (typeof body?.name !== 'string' || !/^[\w-]{1,64}$/.test(body.name)) return new HttpResponseBadRequest('name: 1-64 letters, digits, _ or -')
  const size = Number(body.size ?? 128)
  if (!Number.isInteger(size) || size < 16 || size > 1024) return new HttpResponseBadRequest('size: an integer from 16 to 1024')
  const id = randomUUID()
  // Handed to the worker; the view does not wait for it.
  await request.channelLayer.send('thumbnails', { type: 'thumbnails.generate', id, name: body.name, size })
  return new JsonResponse({ id, queued: true }, { status: 202 })
})

const redisUrl = process.env.REDIS_URL
const channelLayer: ChannelLayerConfig = redisUrl === undefined ? { backend: 'memory' } : { backend: 'redis', url: redisUrl, prefix: process.env.LAYER_PREFIX ?? 'asgi' }

const app = Fastify({ logger: true })
await app.register(asyncViews, {
  channelLayer,
  urlpatterns: [path('thumbnails/', requestThumbnail, { name: 'request-thumbnail' })],
  websocket: { urlpatterns: [path('ws/thumbnails/', ThumbnailFeed.asHandler())] }
})

// Without Redis there is no other process to share the layer with: run the worker here.
if (redisUrl === undefined) {
  const worker = channelWorker(app.channelLayer, consumers, { log: app.log })
  app.addHook('preClose', async () => { await worker.stop() })
}

await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
