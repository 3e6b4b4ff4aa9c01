import t, { type Test } from 'tap'
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2'
import https from 'node:https'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startExample } from './helpers.ts'

const EXAMPLE = 'examples/http2/server.ts'

/** A client session to `origin`, closed when the test ends. */
async function connect (t: Test, origin: string, options: http2.SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  const client = http2.connect(origin, options)
  client.on('error', () => {})
  t.teardown(() => { client.close() })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  return client
}

interface H2Response { headers: IncomingHttpHeaders, body: string, chunks: Array<{ at: number, text: string }> }

function get (client: ClientHttp2Session, path: string): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = client.request({ ':method': 'GET', ':path': path })
    let headers: IncomingHttpHeaders = {}
    const chunks: H2Response['chunks'] = []
    req.setEncoding('utf8')
    req.on('response', (h) => { headers = h })
    req.on('data', (text: string) => chunks.push({ at: performance.now() - started, text }))
    req.on('end', () => resolve({ headers, body: chunks.map((c) => c.text).join(''), chunks }))
    req.on('error', reject)
    req.end()
  })
}

/** Parses a text/event-stream body into its events. */
function parseEvents (body: string): Array<Record<string, string>> {
  return body.split('\n\n').filter((block) => block.trim() !== '' && !block.startsWith(':')).map((block) => {
    const event: Record<string, string> = {}
    for (const line of block.split('\n')) {
      const colon = line.indexOf(': ')
      event[line.slice(0, colon)] = line.slice(colon + 2)
    }
    return event
  })
}

async function checkTicks (t: Test, client: ClientHttp2Session, count: number): Promise<void> {
  const r = await get(client, `/ticks/?count=${count}`)
  t.equal(r.headers[':status'], 200)
  t.match(r.headers['content-type'], /^text\/event-stream/)
  t.equal(r.headers.connection, undefined, 'no Connection header (forbidden in HTTP/2)')
  const events = parseEvents(r.body)
  t.same(events.map((e) => [e.event, e.id]), Array.from({ length: count }, (_, i) => ['tick', String(i + 1)]))
  t.same(events.map((e) => JSON.parse(e.data).tick), Array.from({ length: count }, (_, i) => i + 1))
  t.ok(r.chunks.length >= count, `sent as produced: ${r.chunks.length} DATA chunks`)
  t.ok(r.chunks[0].at < r.chunks[r.chunks.length - 1].at - 150 * (count - 1), 'the first event arrived well before the last')
}

t.test('h2c (cleartext HTTP/2): a JSON view and server-sent events', async (t) => {
  const base = await startExample(t, EXAMPLE)
  const client = await connect(t, base)
  const { port } = new URL(base)

  const hello = await get(client, '/hello/')
  t.equal(hello.headers[':status'], 200)
  t.match(hello.headers['content-type'], /^application\/json/)
  t.same(JSON.parse(hello.body), { message: 'Hello', httpVersion: '2.0', scheme: 'http', host: `127.0.0.1:${port}` })

  await checkTicks(t, client, 3)

  const bad = await get(client, '/ticks/?count=0')
  t.equal(bad.headers[':status'], 400)
  t.same(JSON.parse(bad.body), { statusCode: 400, error: 'Bad Request', message: 'count must be an integer from 1 to 100' })

  // Several streams on one connection at once.
  const all = await Promise.all([get(client, '/ticks/?count=2'), get(client, '/hello/'), get(client, '/ticks/?count=2')])
  t.same(all.map((r) => r.headers[':status']), [200, 200, 200], 'three concurrent streams on one session')
})

function hasOpenssl (): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

t.test('TLS: HTTP/2 over https with a self-signed certificate, HTTP/1.1 still accepted', { skip: hasOpenssl() ? false : 'openssl is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'h2-example-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })

  const base = await startExample(t, EXAMPLE, { TLS_KEY: key, TLS_CERT: cert })
  t.match(base, /^https:\/\//, 'the log says https://')
  const { port } = new URL(base)
  const client = await connect(t, base, { rejectUnauthorized: false })
  t.equal(client.alpnProtocol, 'h2', 'HTTP/2 negotiated by ALPN')

  const hello = await get(client, '/hello/')
  t.equal(hello.headers[':status'], 200)
  t.same(JSON.parse(hello.body), { message: 'Hello', httpVersion: '2.0', scheme: 'https', host: `127.0.0.1:${port}` })

  await checkTicks(t, client, 3)

  // allowHTTP1: an HTTP/1.1-only client on the same port.
  const http1 = await new Promise<{ status: number | undefined, body: string }>((resolve, reject) => {
    https.get(`${base}/hello/`, { rejectUnauthorized: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    }).on('error', reject)
  })
  t.equal(http1.status, 200)
  t.same(JSON.parse(http1.body), { message: 'Hello', httpVersion: '1.1', scheme: 'https', host: `127.0.0.1:${port}` })
})
