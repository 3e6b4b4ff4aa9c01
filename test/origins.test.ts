// Origin checks on WebSocket handshakes (SPEC "WebSocket consumers", TRAPS 25):
// exercised through real handshakes against a listening app with `ws` clients,
// plus one pass through the in-process WebsocketCommunicator.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import asyncViews, { path, AsyncWebsocketConsumer } from 'fastify-async-views'
import { WebsocketCommunicator } from 'fastify-async-views/testing'

interface Counters { connect: number, disconnect: number }

interface Served {
  app: FastifyInstance
  port: number
  counters: Counters
}

/** A listening app whose consumer at /ws/ counts its connect() and disconnect() calls. */
async function serve (t: Test, allowedOrigins: string[] | undefined): Promise<Served> {
  const counters: Counters = { connect: 0, disconnect: 0 }
  class Counted extends AsyncWebsocketConsumer {
    override async connect (): Promise<void> {
      counters.connect++
      await this.accept()
    }

    override async disconnect (): Promise<void> {
      counters.disconnect++
    }
  }
  const app = Fastify()
  t.teardown(() => app.close())
  const websocket = allowedOrigins === undefined
    ? { urlpatterns: [path('ws/', Counted.asHandler())] }
    : { urlpatterns: [path('ws/', Counted.asHandler())], allowedOrigins }
  await app.register(asyncViews, { websocket })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, port: address.port, counters }
}

type Outcome = { status: 101, protocol: string } | { status: number, body: string }

/**
 * Opens a WebSocket to /ws/ with the given Origin (undefined: none sent) and
 * Host (undefined: ws's own `127.0.0.1:<port>`); closes it at once if it opened.
 */
async function handshake (port: number, origin: string | undefined, host?: string): Promise<Outcome> {
  const headers: Record<string, string> = {}
  if (origin !== undefined) headers.Origin = origin
  if (host !== undefined) headers.Host = host
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/`, { headers, handshakeTimeout: 5000 })
  return await new Promise<Outcome>((resolve, reject) => {
    ws.on('open', () => {
      const protocol = ws.protocol
      ws.once('close', () => resolve({ status: 101, protocol }))
      ws.close(1000)
    })
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body })
        ws.terminate()
      })
    })
    ws.on('error', (error) => {
      // 'unexpected-response' handles refusals; anything else is a test failure.
      if (!/Unexpected server response/.test(error.message)) reject(error)
    })
  })
}

/** Asserts each origin gets the expected status; refused ones must not reach consumer code. */
async function expectOrigins (t: Test, served: Served, cases: Array<[string | undefined, 101 | 403, string?]>): Promise<void> {
  for (const [origin, expected, host] of cases) {
    const before = served.counters.connect
    const outcome = await handshake(served.port, origin, host)
    const label = `Origin ${origin === undefined ? '(none)' : JSON.stringify(origin)}${host === undefined ? '' : ` with Host ${host}`}`
    t.equal(outcome.status, expected, `${label} -> ${expected}`)
    if (expected === 403) {
      t.equal(served.counters.connect, before, `${label}: refused before connect() ran`)
      if (outcome.status === 403 && 'body' in outcome) t.match(JSON.parse(outcome.body), { statusCode: 403 }, `${label}: a JSON 403 body`)
    } else {
      t.equal(served.counters.connect, before + 1, `${label}: connect() ran once`)
    }
  }
}

t.test("allowedOrigins ['*'] admits any well-formed origin, and requests without one", async (t) => {
  const served = await serve(t, ['*'])
  await expectOrigins(t, served, [
    ['https://a.com', 101],
    ['http://evil.example:8080', 101],
    ['https://sub.domain.example', 101],
    [undefined, 101]
  ])
})

t.test("'https://a.com': scheme, host and port must match (443 is https's default)", async (t) => {
  const served = await serve(t, ['https://a.com'])
  await expectOrigins(t, served, [
    ['https://a.com', 101],
    ['https://a.com:443', 101],
    ['https://A.COM', 101],
    ['http://a.com', 403],
    ['https://a.com:8443', 403],
    ['http://a.com:443', 403],
    ['wss://a.com', 403],
    ['https://b.a.com', 403],
    ['https://evila.com', 403],
    ['https://a.com.evil.net', 403]
  ])
})

t.test("'https://a.com:443' equals 'https://a.com'; an explicit non-default port must match exactly", async (t) => {
  const served = await serve(t, ['https://a.com:443', 'http://b.com:8080'])
  await expectOrigins(t, served, [
    ['https://a.com', 101],
    ['https://a.com:443', 101],
    ['http://b.com:8080', 101],
    ['http://b.com', 403],
    ['http://b.com:80', 403],
    ['https://b.com:8080', 403]
  ])
})

t.test("'a.com': that host with any scheme, never a subdomain or a look-alike", async (t) => {
  const served = await serve(t, ['a.com'])
  await expectOrigins(t, served, [
    ['http://a.com', 101],
    ['https://a.com', 101],
    ['https://a.com:8443', 101],
    ['https://www.a.com', 403],
    ['https://evila.com', 403],
    ['https://a.com.evil.net', 403],
    ['https://a.co', 403]
  ])
})

t.test("'*.a.com': subdomains only, not a.com itself", async (t) => {
  const served = await serve(t, ['*.a.com'])
  await expectOrigins(t, served, [
    ['https://www.a.com', 101],
    ['http://x.y.a.com', 101],
    ['https://a.com', 403],
    ['https://evila.com', 403],
    ['https://x.evila.com', 403],
    ['https://www.a.com.evil.net', 403]
  ])
})

t.test("Django's '.a.com': a.com and its subdomains", async (t) => {
  const served = await serve(t, ['.a.com'])
  await expectOrigins(t, served, [
    ['https://a.com', 101],
    ['http://a.com', 101],
    ['https://www.a.com', 101],
    ['https://x.y.a.com', 101],
    ['https://evila.com', 403],
    ['https://www.evila.com', 403],
    ['https://a.com.evil.net', 403]
  ])
})

t.test('evila.com never matches a.com in any pattern form', async (t) => {
  for (const pattern of ['a.com', '.a.com', '*.a.com', 'https://a.com', 'http://a.com']) {
    const served = await serve(t, [pattern])
    await expectOrigins(t, served, [
      ['https://evila.com', 403],
      ['http://evila.com', 403],
      ['https://evila.com:443', 403]
    ])
    await served.app.close()
  }
})

t.test('several patterns: any one matching admits', async (t) => {
  const served = await serve(t, ['https://a.com', '.b.org'])
  await expectOrigins(t, served, [
    ['https://a.com', 101],
    ['http://x.b.org', 101],
    ['http://a.com', 403],
    ['https://c.net', 403]
  ])
})

t.test('unset: only an Origin whose host:port equals the Host header', async (t) => {
  const served = await serve(t, undefined)
  const self = `127.0.0.1:${served.port}`
  await expectOrigins(t, served, [
    [`http://${self}`, 101],
    [`http://127.0.0.1:${served.port + 1 > 65535 ? served.port - 1 : served.port + 1}`, 403],
    [`http://localhost:${served.port}`, 403],
    ['http://127.0.0.1', 403],
    ['https://a.com', 403],
    // A Host of our choosing: the Origin must name that host (and its port).
    ['http://app.example', 101, 'app.example'],
    ['http://app.example:80', 101, 'app.example'],
    ['http://app.example:8080', 101, 'app.example:8080'],
    ['http://app.example:8081', 403, 'app.example:8080'],
    ['http://app.example', 403, 'app.example:8080'],
    ['http://evilapp.example', 403, 'app.example'],
    ['http://x.app.example', 403, 'app.example'],
    ['http://APP.EXAMPLE', 101, 'app.example']
  ])
})

t.test('no Origin header (not a browser) is admitted in both modes', async (t) => {
  const unset = await serve(t, undefined)
  await expectOrigins(t, unset, [[undefined, 101], [undefined, 101, 'other.example']])
  const listed = await serve(t, ['https://a.com'])
  await expectOrigins(t, listed, [[undefined, 101]])
})

t.test('a malformed Origin is refused with 403', async (t) => {
  const unset = await serve(t, undefined)
  await expectOrigins(t, unset, [
    ['null', 403],
    ['not a url', 403],
    ['127.0.0.1', 403],
    ['//127.0.0.1', 403],
    ['file:///etc/passwd', 403]
  ])
  const listed = await serve(t, ['a.com', '.b.com', '*.c.com', 'https://d.com'])
  await expectOrigins(t, listed, [
    ['null', 403],
    ['not a url', 403],
    ['a.com', 403],
    ['https://', 403]
  ])
})

t.test('a refused Origin never reaches consumer code (no connect, no disconnect)', async (t) => {
  const served = await serve(t, ['https://a.com'])
  for (let i = 0; i < 5; i++) t.equal((await handshake(served.port, 'https://evil.com')).status, 403)
  // Give a wrongly started consumer time to show itself.
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(served.counters, { connect: 0, disconnect: 0 })
  // The app is still serving allowed origins afterwards.
  t.equal((await handshake(served.port, 'https://a.com')).status, 101)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(served.counters, { connect: 1, disconnect: 1 })
})

t.test('the in-process WebsocketCommunicator goes through the same origin check', async (t) => {
  let connects = 0
  class Counted extends AsyncWebsocketConsumer {
    override async connect (): Promise<void> {
      connects++
      await this.accept()
    }
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, { websocket: { urlpatterns: [path('ws/', Counted.asHandler())], allowedOrigins: ['.a.com'] } })
  await app.ready()

  const refused = new WebsocketCommunicator(app, '/ws/', { headers: { origin: 'https://evila.com' } })
  t.same(await refused.connect(), { connected: false, closeCode: 403 })
  const malformed = new WebsocketCommunicator(app, '/ws/', { headers: { origin: 'null' } })
  t.same(await malformed.connect(), { connected: false, closeCode: 403 })
  t.equal(connects, 0, 'connect() never ran for a refused origin')

  const admitted = new WebsocketCommunicator(app, '/ws/', { headers: { origin: 'https://chat.a.com' } })
  t.teardown(() => admitted.disconnect())
  t.same(await admitted.connect(), { connected: true, subprotocol: null })
  const bare = new WebsocketCommunicator(app, '/ws/')
  t.teardown(() => bare.disconnect())
  t.same(await bare.connect(), { connected: true, subprotocol: null }, 'no Origin header: admitted')
  t.equal(connects, 2)
})

t.test('unset, in process: the communicator\'s Host (localhost) must match the Origin', async (t) => {
  class Plain extends AsyncWebsocketConsumer {}
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, { websocket: { urlpatterns: [path('ws/', Plain.asHandler())] } })
  await app.ready()
  const same = new WebsocketCommunicator(app, '/ws/', { headers: { origin: 'http://localhost' } })
  t.teardown(() => same.disconnect())
  t.same(await same.connect(), { connected: true, subprotocol: null })
  const other = new WebsocketCommunicator(app, '/ws/', { headers: { origin: 'http://localhost:3000' } })
  t.same(await other.connect(), { connected: false, closeCode: 403 })
})
