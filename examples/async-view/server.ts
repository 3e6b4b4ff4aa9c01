// The guide's first example, in Node terms:
//
//   async def async_view(request):
//       await asyncio.sleep(1)  # Simulate a delay
//       return JsonResponse({'message': 'This is an async view.'})
//
// and its urls.py: path() with a converter, re_path(), and include() under a
// namespace, reversed as reverse('archive:month', kwargs={...}):
//
//   archive_patterns = [
//       path('<int:year>/', year_archive, name='year'),
//       re_path(r'^(?P<year>[0-9]{4})/(?P<month>0[1-9]|1[0-2])/$', month_archive, name='month'),
//   ]
//   urlpatterns = [
//       path('async/', async_view, name='async-view'),
//       path('archive/', include((archive_patterns, 'archive'), namespace='archive')),
//   ]
//
// Run: npx tsx examples/async-view/server.ts   then   curl http://127.0.0.1:3000/async/
//      curl http://127.0.0.1:3000/archive/2024/      {"year":2024,"months":["/archive/2024/01/",...]}
//      curl http://127.0.0.1:3000/archive/2024/03/   {"year":"2024","month":"03","yearUrl":"/archive/2024/"}
//      curl -i http://127.0.0.1:3000/archive/2024/13/   404: the regex admits months 01 to 12
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import asyncViews, { path, rePath, include, JsonResponse, type HttpRequest } from 'fastify-async-views'

export async function asyncView (_request: HttpRequest): Promise<JsonResponse> {
  await sleep(1000) // Simulate a delay: the event loop serves other requests meanwhile.
  return new JsonResponse({ message: 'This is an async view.' })
}

// `year` is a number: the `int` converter's type, inferred from the route.
async function yearArchive (request: HttpRequest, { year }: { year: number }): Promise<JsonResponse> {
  const months = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']
  return new JsonResponse({ year, months: months.map((month) => request.reverse('archive:month', { kwargs: { year, month } })) })
}

// rePath kwargs are the regex's named groups, strings as in Django.
async function monthArchive (request: HttpRequest, { year, month }: Record<string, string>): Promise<JsonResponse> {
  return new JsonResponse({ year, month, yearUrl: request.reverse('archive:year', { kwargs: { year: Number(year) } }) })
}

const archivePatterns = [
  path('<int:year>/', yearArchive, { name: 'year' }),
  rePath('^(?P<year>[0-9]{4})/(?P<month>0[1-9]|1[0-2])/$', monthArchive, { name: 'month' })
]

export const urlpatterns = [
  path('async/', asyncView, { name: 'async-view' }),
  path('archive/', include(archivePatterns, { namespace: 'archive' }))
]

const app = Fastify({ logger: true })
await app.register(asyncViews, { urlpatterns })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
