// The guide's external HTTP call and its exception handling, in Node terms:
//
//   async def async_external_request(request):
//       async with httpx.AsyncClient() as client:
//           response = await client.get('https://api.example.com/data')
//       return JsonResponse(response.json())
//
//   async def async_view_with_exception_handling(request):
//       try:
//           async with httpx.AsyncClient() as client:
//               response = await client.get('https://api.example.com/data')
//           return JsonResponse(response.json())
//       except httpx.RequestError as exc:
//           return JsonResponse({'error': 'Request failed', 'details': str(exc)}, status=500)
//
// Node's fetch is the async client. Both views give up after UPSTREAM_TIMEOUT_MS
// (AbortSignal.timeout) or when the client leaves (request.signal).
// external/ lets fetch's errors escape: the plugin answers 502 when the upstream
// is unreachable and 504 when it is too slow. external/handled/ catches them, as
// the guide's try/except does, and returns its own JSON. Either way a client
// never sees a stack trace or an internal address; the details go to the log.
//
// Run: a stand-in upstream (any JSON file served by Python will do):
//        mkdir -p /tmp/upstream && echo '{"temperature": 21.5}' > /tmp/upstream/data.json
//        python3 -m http.server 8000 -d /tmp/upstream &
//      UPSTREAM_URL=http://127.0.0.1:8000/data.json npx tsx examples/external-http/server.ts
//      curl -i http://127.0.0.1:3000/external/           200 {"temperature":21.5}
//      curl -i http://127.0.0.1:3000/external/handled/   the same, through try/catch
//      kill %1 (the upstream is down), then both again:  502
//      With UPSTREAM_URL=http://127.0.0.1:8000/missing.json: 502 {"error":"Bad Gateway","upstreamStatus":404}
//        (any answer that is not 2xx: an upstream 503 gives upstreamStatus 503)
//      An upstream that never answers: 504 after UPSTREAM_TIMEOUT_MS (default 3000):
//        python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',8001)); s.listen(); time.sleep(600)" &
//        UPSTREAM_URL=http://127.0.0.1:8001/ npx tsx examples/external-http/server.ts
import Fastify from 'fastify'
import asyncViews, { path, JsonResponse, type HttpRequest } from 'fastify-async-views'

const UPSTREAM_URL = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:8000/data.json'
const UPSTREAM_TIMEOUT_MS = Number(process.env.UPSTREAM_TIMEOUT_MS ?? 3000)

/** Gives up after the timeout, or as soon as our own client goes away. */
function upstreamSignal (request: HttpRequest): AbortSignal {
  return AbortSignal.any([request.signal, AbortSignal.timeout(UPSTREAM_TIMEOUT_MS)])
}

/** An upstream that answered, but not with a success: 502, and which status it gave. */
function badGateway (upstream: Response): JsonResponse {
  return new JsonResponse({ error: 'Bad Gateway', upstreamStatus: upstream.status }, { status: 502 })
}

// async_external_request: errors escape. fetch rejects with `TypeError: fetch
// failed` when nothing answers (-> 502) and with a TimeoutError when the
// signal's timeout fires (-> 504). An HTTP error status is not a fetch error,
// so that one is checked (httpx's raise_for_status()).
async function externalRequest (request: HttpRequest): Promise<JsonResponse> {
  const upstream = await fetch(UPSTREAM_URL, { signal: upstreamSignal(request), headers: { accept: 'application/json' } })
  if (!upstream.ok) return badGateway(upstream)
  return new JsonResponse(await upstream.json(), { safe: false }) // safe: false, the upstream may send an array
}

// async_view_with_exception_handling: the same call inside try/catch.
async function externalRequestHandled (request: HttpRequest): Promise<JsonResponse> {
  try {
    const upstream = await fetch(UPSTREAM_URL, { signal: upstreamSignal(request), headers: { accept: 'application/json' } })
    if (!upstream.ok) return badGateway(upstream)
    return new JsonResponse(await upstream.json(), { safe: false })
  } catch (error) {
    if (request.signal.aborted) throw error // Our client left: nobody to answer.
    const name = (error as Error).name
    // The details stay in the log (str(exc) would tell the client our internal addresses).
    request.fastify.log.warn({ err: error, upstream: UPSTREAM_URL }, 'upstream request failed')
    if (name === 'TimeoutError') {
      return new JsonResponse({ error: 'Gateway Timeout', details: `The upstream service did not answer within ${UPSTREAM_TIMEOUT_MS} ms.` }, { status: 504 })
    }
    if (name === 'SyntaxError') {
      return new JsonResponse({ error: 'Bad Gateway', details: 'The upstream service did not send JSON.' }, { status: 502 })
    }
    return new JsonResponse({ error: 'Bad Gateway', details: 'The upstream service could not be reached.' }, { status: 502 })
  }
}

export const urlpatterns = [
  path('external/', externalRequest, { name: 'external' }),
  path('external/handled/', externalRequestHandled, { name: 'external-handled' })
]

const app = Fastify({ logger: true })
await app.register(asyncViews, { urlpatterns })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
