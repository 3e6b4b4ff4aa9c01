// Long-lived connections, the other thing ASGI brought to Django: server-sent
// events fed by the channel layer, as a Channels consumer would be.
//
//   GET  events/   a text/event-stream: every news item published while you listen
//   POST news/     {"title": "..."}: publishes to the 'news' group, 202
//   GET  news/     how many streams are listening
//
// Each stream is an async generator with a channel of its own, added to the
// 'news' group. It waits on the layer with the request's AbortSignal, so when
// the client leaves the wait ends at once and `finally` leaves the group: a
// departed listener costs nothing. A comment every KEEP_ALIVE_MS (default 15 s)
// keeps proxies from closing an idle stream. With a Redis layer
// (channelLayer: { backend: 'redis', url }) several processes share the group.
//
// Run: npx tsx examples/sse/server.ts
//      curl -N http://127.0.0.1:3000/events/                     (in two terminals)
//      curl -d '{"title":"Django 6.0 released"}' -H 'content-type: application/json' http://127.0.0.1:3000/news/
//      curl http://127.0.0.1:3000/news/
//      or in a browser console: new EventSource('/events/').addEventListener('news', (e) => console.log(JSON.parse(e.data)))
import Fastify from 'fastify'
import asyncViews, { path, View, BadRequest, EventStreamResponse, JsonResponse, type HttpRequest, type ServerSentEvent } from 'fastify-async-views'

const KEEP_ALIVE_MS = Number(process.env.KEEP_ALIVE_MS ?? 15000)
const listening = new Set<string>() // the channels of open streams

async function events (request: HttpRequest): Promise<EventStreamResponse> {
  const layer = request.channelLayer
  async function * stream (): AsyncGenerator<ServerSentEvent> {
    // Inside the generator: nothing is joined unless the stream really starts.
    const channel = await layer.newChannel()
    await layer.groupAdd('news', channel)
    listening.add(channel)
    try {
      // From here on nothing published is missed. This first event also sends the
      // response headers, which Node otherwise holds until the first chunk.
      yield { event: 'subscribed', data: { group: 'news' } }
      while (true) {
        // Rejects as soon as the client goes away (request.signal).
        const message = await layer.receive(channel, { signal: request.signal })
        yield { event: 'news', data: { title: message.title, publishedAt: message.publishedAt } }
      }
    } finally {
      await layer.groupDiscard('news', channel)
      listening.delete(channel)
    }
  }
  return new EventStreamResponse(stream(), { keepAlive: KEEP_ALIVE_MS })
}

class News extends View {
  async get (): Promise<{ listening: number }> {
    return { listening: listening.size }
  }

  async post (request: HttpRequest): Promise<JsonResponse> {
    const title = request.json<{ title?: unknown } | null>()?.title // Malformed JSON -> 400.
    if (typeof title !== 'string' || title.trim() === '' || title.length > 200) throw new BadRequest('Expected JSON { "title": "1 to 200 characters" }')
    const publishedAt = new Date().toISOString()
    await request.channelLayer.groupSend('news', { type: 'news.published', title, publishedAt })
    return new JsonResponse({ published: true, title, publishedAt }, { status: 202 })
  }
}

export const urlpatterns = [
  path('events/', events, { name: 'events' }),
  path('news/', News.asView(), { name: 'news' })
]

const app = Fastify({ logger: true })
await app.register(asyncViews, { urlpatterns })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
