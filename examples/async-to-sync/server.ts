// asgiref's async_to_sync, in Node terms: sync code on a worker thread calling
// async code that runs on the main event loop.
//
//   # A sync view telling WebSocket clients, the Channels classic:
//   def create_order(request):
//       ...
//       async_to_sync(channel_layer.group_send)('orders', {'type': 'order.created', 'order': order})
//
//   # A sync library function that needs an async one:
//   def get_weather(city):
//       return async_to_sync(fetch_temperature)(city)
//
// sync.ts holds the sync code (createOrder, getWeather), run on the bridge's
// worker threads; notify.ts and weather.ts the async functions it calls
// through asyncToSync(); layer.ts the channel layer notify() and this app share.
//
// Run: npx tsx examples/async-to-sync/server.ts
//      node -e "new (require('ws'))('ws://127.0.0.1:3000/ws/orders/').on('message', (m) => console.log(String(m)))"   (a WebSocket client, left running)
//      curl -d '{"item":"espresso","quantity":2}' -H 'content-type: application/json' http://127.0.0.1:3000/orders/
//      curl http://127.0.0.1:3000/weather/paris/
import Fastify from 'fastify'
import asyncViews, { path, syncToAsync, syncView, requirePOST, AsyncJsonWebsocketConsumer, type HttpRequest } from 'fastify-async-views'
import { channelLayer } from './layer.ts'
import type * as sync from './sync.ts'

const syncModule = new URL('./sync.ts', import.meta.url)
const getWeather = syncToAsync<typeof sync.getWeather>(syncModule, 'getWeather', { threadSensitive: false })

// Every client of ws/orders/ is in the 'orders' group.
class OrderFeed extends AsyncJsonWebsocketConsumer {
  override groups = ['orders']
  async orderCreated (event: { order: unknown }): Promise<void> {
    await this.sendJson({ type: 'order.created', order: event.order })
  }
}

// An async view calling the sync library: the worker blocks on fetchTemperature(), the loop does not.
async function weather (request: HttpRequest, { city }: { city: string }): Promise<ReturnType<typeof sync.getWeather>> {
  return await getWeather(city, { signal: request.signal })
}

export const urlpatterns = [
  path('orders/', requirePOST(syncView(syncModule, 'createOrder')), { name: 'create-order' }),
  path('weather/<slug:city>/', weather, { name: 'weather' })
]

const app = Fastify({ logger: true })
await app.register(asyncViews, {
  urlpatterns,
  websocket: { urlpatterns: [path('ws/orders/', OrderFeed.asHandler())] },
  channelLayer
})
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
