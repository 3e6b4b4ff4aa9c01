// The same views over HTTP/2, one of the things ASGI brought to Django (with
// an ASGI server such as Daphne or Hypercorn). Here it is Fastify's `http2: true`:
// nothing in the views changes.
//
// Cleartext HTTP/2 (h2c) by default; TLS when TLS_KEY and TLS_CERT name a key
// and certificate (PEM files), with HTTP/1.1 still accepted (allowHTTP1) for
// clients that do not speak HTTP/2. Browsers only use HTTP/2 over TLS.
//
// Run: npx tsx examples/http2/server.ts
//      curl --http2-prior-knowledge http://127.0.0.1:3000/hello/
//      curl --http2-prior-knowledge -N 'http://127.0.0.1:3000/ticks/?count=5'   (server-sent events)
// TLS: openssl req -x509 -newkey rsa:2048 -nodes -keyout /tmp/key.pem -out /tmp/cert.pem -days 30 -subj /CN=localhost
//      TLS_KEY=/tmp/key.pem TLS_CERT=/tmp/cert.pem npx tsx examples/http2/server.ts
//      curl -k https://127.0.0.1:3000/hello/               (HTTP/2, negotiated by ALPN)
//      curl -k --http1.1 https://127.0.0.1:3000/hello/     (HTTP/1.1 still works)
//      curl -k -N https://127.0.0.1:3000/ticks/
import Fastify, { type FastifyInstance } from 'fastify'
import type { Http2SecureServer, Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import asyncViews, { path, BadRequest, EventStreamResponse, JsonResponse, type HttpRequest, type ServerSentEvent } from 'fastify-async-views'

async function hello (request: HttpRequest): Promise<JsonResponse> {
  return new JsonResponse({
    message: 'Hello',
    httpVersion: request.fastify.raw.httpVersion, // '2.0', or '1.1' for an HTTP/1.1 client on TLS
    scheme: request.scheme,
    host: request.getHost() // HTTP/2's :authority
  })
}

// Server-sent events: one `tick` every 200 ms, `count` of them, then the stream ends.
async function ticks (request: HttpRequest): Promise<EventStreamResponse> {
  const count = Number(request.GET.get('count') ?? 5)
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new BadRequest('count must be an integer from 1 to 100')
  async function * events (): AsyncGenerator<ServerSentEvent> {
    for (let i = 1; i <= count; i++) {
      yield { event: 'tick', id: i, data: { tick: i, of: count, at: new Date().toISOString() } }
      if (i < count) await sleep(200)
    }
  }
  return new EventStreamResponse(events())
}

export const urlpatterns = [
  path('hello/', hello, { name: 'hello' }),
  path('ticks/', ticks, { name: 'ticks' })
]

const { TLS_KEY, TLS_CERT } = process.env
const app: FastifyInstance<Http2Server | Http2SecureServer, Http2ServerRequest, Http2ServerResponse> = TLS_KEY !== undefined && TLS_CERT !== undefined
  ? Fastify({ logger: true, http2: true, https: { key: readFileSync(TLS_KEY), cert: readFileSync(TLS_CERT), allowHTTP1: true } })
  : Fastify({ logger: true, http2: true })
await app.register(asyncViews, { urlpatterns })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
