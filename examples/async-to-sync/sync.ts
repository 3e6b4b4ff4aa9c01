// Sync code: it runs on the bridge's worker threads (syncView, syncToAsync),
// never on the event loop, and reaches async code through asyncToSync().
import { randomUUID } from 'node:crypto'
import { asyncToSync, JsonResponse, type HttpRequest } from 'fastify-async-views'
import type * as notifyModule from './notify.ts'
import type * as weatherModule from './weather.ts'

// Made once, at module level, as with async_to_sync. Absolute URLs: these
// modules are imported again on the main thread, where the async code runs.
const notify = asyncToSync<typeof notifyModule.notify>(new URL('./notify.ts', import.meta.url), 'notify')
const fetchTemperature = asyncToSync<typeof weatherModule.fetchTemperature>(new URL('./weather.ts', import.meta.url), 'fetchTemperature')

// A sync view, as in Django:
//   def create_order(request):
//       order = ...
//       async_to_sync(channel_layer.group_send)('orders', {'type': 'order.created', ...})
//       return JsonResponse(order, status=201)
export function createOrder (request: HttpRequest): JsonResponse {
  const data = request.json<{ item?: unknown, quantity?: unknown } | null>() // Malformed JSON -> 400.
  if (typeof data?.item !== 'string' || !Number.isInteger(data.quantity)) {
    return new JsonResponse({ error: 'Expected JSON { item: string, quantity: integer }' }, { status: 400 })
  }
  const order = { id: randomUUID(), item: data.item, quantity: data.quantity as number }
  notify('orders', { type: 'order.created', order }) // Blocks this thread until the group_send is done.
  return new JsonResponse(order, { status: 201 })
}

// A sync library function that needs an async one (asgiref's other classic).
export function getWeather (city: string): { city: string, celsius: number, summary: string } {
  const celsius = fetchTemperature(city) // A number, not a Promise.
  return { city, celsius, summary: celsius >= 20 ? 'warm' : celsius >= 10 ? 'mild' : 'cold' }
}
