import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startExample } from './helpers.ts'

type Mode = 'fast' | 'slow' | 'failing' | 'not-json' | 'array'

/** A stand-in upstream service on 127.0.0.1 whose behaviour the test switches. */
async function upstream (t: Test): Promise<{ url: string, set: (mode: Mode) => void, hits: () => number }> {
  let mode: Mode = 'fast'
  let hits = 0
  const server: Server = createServer((req, res) => {
    hits++
    if (mode === 'slow') {
      const timer = setTimeout(() => res.end('{"late":true}'), 3000)
      res.once('close', () => clearTimeout(timer))
      return
    }
    if (mode === 'failing') {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"detail":"maintenance"}')
      return
    }
    if (mode === 'not-json') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(mode === 'array' ? '[1,2,3]' : JSON.stringify({ temperature: 21.5, path: req.url, accept: req.headers.accept }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/data`, set: (m) => { mode = m }, hits: () => hits }
}

/** A port nothing listens on (bound, then closed). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function get (url: string): Promise<{ status: number, ms: number, text: string, body: any, type: string | null }> {
  const started = performance.now()
  const response = await fetch(url)
  const text = await response.text()
  return { status: response.status, ms: performance.now() - started, text, body: JSON.parse(text), type: response.headers.get('content-type') }
}

/** Nothing internal in a body a client sees. */
function noLeak (t: Test, text: string, upstreamPort: string | number): void {
  t.notMatch(text, /\n\s+at |at .*\(.*:\d+:\d+\)|node:internal|\.ts:\d+/, 'no stack trace')
  t.notMatch(text, /ECONNREFUSED|fetch failed|TimeoutError|undici/i, 'no error internals')
  t.notMatch(text, new RegExp(`127\\.0\\.0\\.1|:${upstreamPort}\\b`), 'no upstream address')
}

t.test('external/ and external/handled/ against a healthy, slow, failing upstream', async (t) => {
  const up = await upstream(t)
  const port = new URL(up.url).port
  const base = await startExample(t, 'examples/external-http/server.ts', { UPSTREAM_URL: up.url, UPSTREAM_TIMEOUT_MS: '300' })

  t.test('fast: the upstream JSON, passed through', async (t) => {
    up.set('fast')
    for (const view of ['external/', 'external/handled/']) {
      const r = await get(`${base}/${view}`)
      t.equal(r.status, 200, view)
      t.match(r.type, /^application\/json/)
      t.same(r.body, { temperature: 21.5, path: '/data', accept: 'application/json' }, `${view}: the upstream's JSON`)
    }
    up.set('array')
    t.same((await get(`${base}/external/`)).body, [1, 2, 3], 'an array passes too (safe: false)')
  })

  t.test('slow: 504 once the timeout fires, not when the upstream answers', async (t) => {
    up.set('slow')
    const escaped = await get(`${base}/external/`)
    t.equal(escaped.status, 504, 'the TimeoutError escaped: the plugin answers 504')
    t.same(escaped.body, { statusCode: 504, error: 'Gateway Timeout', message: 'Gateway Timeout' })
    t.ok(escaped.ms < 2000, `answered after ${Math.round(escaped.ms)} ms (timeout 300 ms, upstream 3000 ms)`)
    noLeak(t, escaped.text, port)

    const handled = await get(`${base}/external/handled/`)
    t.equal(handled.status, 504, 'caught: the view\'s own 504')
    t.same(handled.body, { error: 'Gateway Timeout', details: 'The upstream service did not answer within 300 ms.' })
    t.ok(handled.ms < 2000, `answered after ${Math.round(handled.ms)} ms`)
    noLeak(t, handled.text, port)
  })

  t.test('failing: 502 naming the upstream status', async (t) => {
    up.set('failing')
    for (const view of ['external/', 'external/handled/']) {
      const r = await get(`${base}/${view}`)
      t.equal(r.status, 502, view)
      t.same(r.body, { error: 'Bad Gateway', upstreamStatus: 503 }, view)
      noLeak(t, r.text, port)
    }
  })

  t.test('not JSON: the handled view says so with a 502; the other is a plain 500', async (t) => {
    up.set('not-json')
    const handled = await get(`${base}/external/handled/`)
    t.equal(handled.status, 502)
    t.same(handled.body, { error: 'Bad Gateway', details: 'The upstream service did not send JSON.' })
    noLeak(t, handled.text, port)
    const escaped = await get(`${base}/external/`)
    t.equal(escaped.status, 500, 'a SyntaxError that escapes is a server error, as in Django')
    t.same(escaped.body, { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
  })

  t.test('the server is fine afterwards', async (t) => {
    up.set('fast')
    t.equal((await get(`${base}/external/`)).status, 200)
  })
})

t.test('absent: nothing listens at UPSTREAM_URL -> 502', async (t) => {
  const port = await closedPort()
  const base = await startExample(t, 'examples/external-http/server.ts', { UPSTREAM_URL: `http://127.0.0.1:${port}/data` })

  const escaped = await get(`${base}/external/`)
  t.equal(escaped.status, 502, '`fetch failed` escaped: the plugin answers 502')
  t.same(escaped.body, { statusCode: 502, error: 'Bad Gateway', message: 'Bad Gateway' })
  noLeak(t, escaped.text, port)

  const handled = await get(`${base}/external/handled/`)
  t.equal(handled.status, 502)
  t.same(handled.body, { error: 'Bad Gateway', details: 'The upstream service could not be reached.' })
  noLeak(t, handled.text, port)
})
