// The guide's async middleware, in Node terms:
//
//   class AsyncMiddleware:
//       async def __call__(self, request, get_response):
//           # Asynchronous pre-processing
//           response = await get_response(request)
//           # Asynchronous post-processing
//           return response
//
// plus Django's usual shape (a factory taking getResponse), a built-in timing
// middleware, and a request attribute that views and plain Fastify routes see.
//
// Run: npx tsx examples/middleware/server.ts
//      curl -i http://127.0.0.1:3000/hello/      (X-Request-Id, Server-Timing)
//      curl -i http://127.0.0.1:3000/plain       (a plain Fastify route, same onion)
import Fastify from 'fastify'
import { randomUUID } from 'node:crypto'
import asyncViews, { path, TimingMiddleware, type GetResponse, type HttpRequest, type HttpResponse, type Middleware } from 'fastify-async-views'

// The guide's example, as written: `call(request, getResponse)`.
class AsyncMiddleware {
  async call (request: HttpRequest, getResponse: GetResponse): Promise<HttpResponse> {
    // Asynchronous pre-processing
    const started = Date.now()
    const response = await getResponse(request)
    // Asynchronous post-processing
    response.headers.set('x-elapsed-ms', String(Date.now() - started))
    return response
  }
}

// Django's new-style middleware: a factory that takes getResponse.
const requestId: Middleware = (getResponse) => async (request) => {
  const id = request.headers.get('x-request-id') ?? randomUUID()
  ;(request as HttpRequest & { requestId?: string }).requestId = id
  const response = await getResponse(request)
  response.headers.set('x-request-id', id)
  return response
}

export const urlpatterns = [
  path('hello/', async (request) => ({ hello: 'world', requestId: (request as HttpRequest & { requestId?: string }).requestId }), { name: 'hello' })
]

const app = Fastify({ logger: true })
// First is outermost: requestId wraps timing, which wraps the guide's middleware.
await app.register(asyncViews, { urlpatterns, middleware: [requestId, TimingMiddleware, AsyncMiddleware as unknown as Middleware] })
app.get('/plain', async (request) => ({ plain: true, requestId: (request as typeof request & { requestId?: string }).requestId }))
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
