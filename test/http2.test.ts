// The plugin on a Fastify created with `http2: true` (cleartext h2c), driven by
// node:http2's client: JSON views, :authority as host, streaming, server-sent
// events, and a client that resets the stream mid-response.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2'
import type { AddressInfo } from 'node:net'
import asyncViews, {
  path,
  JsonResponse,
  StreamingHttpResponse,
  EventStreamResponse,
  type AsyncViewsOptions,
  type HttpRequest
} from 'fastify-async-views'

interface H2App {
  client: ClientHttp2Session
  port: number
}

/** An HTTP/2 Fastify with the plugin, listening on 127.0.0.1, and a client session to it. */
async function h2 (t: Test, options: AsyncViewsOptions): Promise<H2App> {
  const app = Fastify({ http2: true })
  await app.register(asyncViews, options)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const client = http2.connect(`http://127.0.0.1:${port}`)
  client.on('error', () => {})
  t.teardown(async () => {
    client.destroy()
    await app.close()
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  return { client, port }
}

interface H2Response {
  headers: IncomingHttpHeaders
  body: string
  chunks: string[]
}

function request (client: ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = client.request(headers)
    let response: IncomingHttpHeaders = {}
    const chunks: string[] = []
    req.setEncoding('utf8')
    req.on('response', (h) => { response = h })
    req.on('data', (chunk: string) => chunks.push(chunk))
    req.on('end', () => resolve({ headers: response, body: chunks.join(''), chunks }))
    req.on('error', reject)
    req.end()
  })
}

/** Rejects with `message` when `promise` has not settled within `ms`. */
function within<T> (promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(message)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a JSON view over HTTP/2', async (t) => {
  const { client } = await h2(t, {
    urlpatterns: [
      path('json/', async (request) => new JsonResponse({ ok: true, method: request.method, version: request.fastify.raw.httpVersion })),
      path('plain/<int:id>/', async (_request, { id }) => ({ id }))
    ]
  })
  const res = await request(client, { ':path': '/json/' })
  t.equal(res.headers[':status'], 200)
  t.match(String(res.headers['content-type']), /^application\/json/)
  t.same(JSON.parse(res.body), { ok: true, method: 'GET', version: '2.0' })

  const obj = await request(client, { ':path': '/plain/42/' })
  t.equal(obj.headers[':status'], 200)
  t.same(JSON.parse(obj.body), { id: 42 })

  const missing = await request(client, { ':path': '/plain/abc/' })
  t.equal(missing.headers[':status'], 404)
})

t.test(':authority is exposed as host', async (t) => {
  const { client, port } = await h2(t, {
    urlpatterns: [
      path('host/', async (request) => ({
        header: request.headers.get('host') ?? null,
        has: request.headers.has('host'),
        getHost: request.getHost(),
        meta: request.META.HTTP_HOST ?? null,
        absolute: request.buildAbsoluteUri('/x/')
      }))
    ]
  })
  const res = await request(client, { ':path': '/host/' })
  t.equal(res.headers[':status'], 200)
  const authority = `127.0.0.1:${port}`
  t.same(JSON.parse(res.body), { header: authority, has: true, getHost: authority, meta: authority, absolute: `http://${authority}/x/` })

  const custom = await request(client, { ':path': '/host/', ':authority': 'example.com:8443' })
  t.equal(custom.headers[':status'], 200)
  t.match(JSON.parse(custom.body), { header: 'example.com:8443', getHost: 'example.com:8443' })
})

t.test('a StreamingHttpResponse over an async generator arrives in chunks', async (t) => {
  const gate = deferred()
  let finished = false
  const { client } = await h2(t, {
    urlpatterns: [
      path('stream/', async () => new StreamingHttpResponse((async function * () {
        yield 'first;'
        await gate.promise
        yield 'second;'
        yield Buffer.from('third;')
        finished = true
      })(), { contentType: 'text/plain; charset=utf-8' }))
    ]
  })
  t.teardown(gate.resolve)
  const req = client.request({ ':path': '/stream/' })
  req.setEncoding('utf8')
  const chunks: string[] = []
  let headers: IncomingHttpHeaders = {}
  req.on('response', (h) => { headers = h })
  const firstChunk = new Promise<string>((resolve) => req.once('data', resolve))
  const ended = new Promise<void>((resolve, reject) => {
    req.on('data', (chunk: string) => chunks.push(chunk))
    req.on('end', resolve)
    req.on('error', reject)
  })
  req.end()

  const first = await within(firstChunk, 5000, 'the first chunk did not arrive before the generator went on')
  t.equal(first, 'first;', 'the first chunk arrives on its own')
  t.equal(finished, false, 'while the generator is still running')
  gate.resolve()
  await within(ended, 5000, 'the stream did not end')
  t.equal(headers[':status'], 200)
  t.match(String(headers['content-type']), /^text\/plain/)
  t.equal(chunks.join(''), 'first;second;third;')
  t.ok(chunks.length >= 2, 'more than one DATA chunk')
  t.equal(finished, true)
})

t.test('an EventStreamResponse delivers events as they are produced, with no connection headers', async (t) => {
  const warnings: Error[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })

  const gate = deferred()
  let finished = false
  const { client } = await h2(t, {
    urlpatterns: [
      path('events/', async () => new EventStreamResponse((async function * () {
        yield { event: 'greeting', id: 1, data: { n: 1 } }
        await gate.promise
        yield { data: 'second' }
        yield 'third'
        finished = true
      })()))
    ]
  })
  t.teardown(gate.resolve)

  const req = client.request({ ':path': '/events/', accept: 'text/event-stream' })
  req.setEncoding('utf8')
  let received = ''
  let headers: IncomingHttpHeaders = {}
  req.on('response', (h) => { headers = h })
  const firstEvent = new Promise<void>((resolve) => {
    req.on('data', (chunk: string) => {
      received += chunk
      if (received.includes('\n\n')) resolve()
    })
  })
  const ended = new Promise<void>((resolve, reject) => {
    req.on('end', resolve)
    req.on('error', reject)
  })
  req.end()

  await within(firstEvent, 5000, 'the first event did not arrive before the generator went on')
  t.equal(finished, false, 'the first event arrived while the generator was waiting')
  t.equal(received, 'event: greeting\nid: 1\ndata: {"n":1}\n\n', 'only the first event so far')
  t.equal(headers[':status'], 200)
  t.match(String(headers['content-type']), /^text\/event-stream/)
  t.equal(headers.connection, undefined, 'no connection header')
  t.equal(headers['keep-alive'], undefined, 'no keep-alive header')
  t.equal(headers['transfer-encoding'], undefined, 'no transfer-encoding header')

  gate.resolve()
  await within(ended, 5000, 'the event stream did not end')
  t.equal(received, 'event: greeting\nid: 1\ndata: {"n":1}\n\ndata: second\n\ndata: third\n\n')
  t.equal(finished, true)
  await tick(0)
  t.same(warnings.filter((w) => /connection|keep-alive|header/i.test(w.message)).map((w) => w.message), [], 'Node warned about no connection-specific header')
})

t.test('a client reset mid-stream stops the generator and aborts request.signal', async (t) => {
  for (const kind of ['streaming', 'event-stream'] as const) {
    t.test(kind, async (t) => {
      const stopped = deferred()
      const aborted = deferred()
      let produced = 0
      let signalSeen: AbortSignal | undefined
      async function * forever (): AsyncGenerator<string> {
        try {
          while (true) {
            produced++
            yield `tick ${produced}\n`
            await tick(5)
          }
        } finally {
          stopped.resolve()
        }
      }
      const { client } = await h2(t, {
        urlpatterns: [
          path('forever/', async (request) => {
            const signal = request.signal
            signalSeen = signal
            signal.addEventListener('abort', () => aborted.resolve(), { once: true })
            if (kind === 'streaming') return new StreamingHttpResponse(forever())
            return new EventStreamResponse((async function * () {
              for await (const line of forever()) yield { data: line.trim() }
            })())
          }),
          path('json/', async () => ({ still: 'alive' }))
        ]
      })

      const req: ClientHttp2Stream = client.request({ ':path': '/forever/' })
      req.on('error', () => {})
      const firstData = new Promise<void>((resolve) => req.once('data', () => resolve()))
      req.end()
      await within(firstData, 5000, 'no data arrived')
      t.equal(signalSeen?.aborted, false, 'the signal is not aborted while the client is there')
      const closed = new Promise<void>((resolve) => req.once('close', resolve))
      req.close(http2.constants.NGHTTP2_CANCEL)
      await closed

      await within(stopped.promise, 5000, "the generator's finally did not run after the reset")
      t.pass("the generator's finally ran")
      await within(aborted.promise, 5000, 'request.signal did not abort after the reset')
      t.equal(signalSeen?.aborted, true, 'request.signal aborted')

      const count = produced
      await tick(50)
      t.equal(produced, count, 'the generator produces nothing more')

      const res = await request(client, { ':path': '/json/' })
      t.equal(res.headers[':status'], 200, 'the session still serves other streams')
      t.same(JSON.parse(res.body), { still: 'alive' })
    })
  }
})

t.test('a request stays readable after its HTTP/2 session closed (META.REMOTE_ADDR, scheme)', async (t) => {
  let kept: HttpRequest | undefined
  const { client, port } = await h2(t, {
    urlpatterns: [path('keep/', async (request) => {
      kept = request
      return { ok: true }
    })]
  })
  const res = await request(client, { ':path': '/keep/' })
  t.equal(res.headers[':status'], 200)
  client.close()
  await new Promise((resolve) => client.once('close', resolve))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const req = kept as HttpRequest
  t.equal(req.META.REMOTE_ADDR, '127.0.0.1', 'REMOTE_ADDR captured while the session was open')
  t.equal(req.META.SERVER_PORT, String(port))
  t.equal(req.scheme, 'http')
})
