// HEAD on streaming views (issue 13): the head is sent, the body is never
// iterated, the iterator is closed. Before the fix an endless sync generator
// spun the event loop forever (Node discards a HEAD body without back-pressure)
// and an endless async stream never answered. Real sockets: that is where it froze.
import t from 'tap'
import { request as httpRequest } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { path, StreamingHttpResponse, EventStreamResponse, FileResponse, View, type HttpRequest } from 'fastify-async-views'
import { build, sleep } from './helpers.ts'

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One request on a fresh connection; rejects after `ms` (the server froze). */
function ask (port: number, method: string, url: string, ms = 10000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path: url, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`${method} ${url}: no answer within ${ms} ms`)) }, ms)
    req.on('error', (error) => { clearTimeout(timer); reject(error) })
    req.end()
  })
}

t.test('HEAD on streaming views sends the head only and closes the iterator', async (t) => {
  const closed: string[] = []
  let iterated = 0
  function * endless (): Generator<string> {
    try {
      while (true) { iterated++; yield 'x'.repeat(1024) }
    } finally {
      closed.push('sync')
    }
  }
  async function * endlessAsync (): AsyncGenerator<string> {
    try {
      while (true) { iterated++; await sleep(1); yield 'tick\n' }
    } finally {
      closed.push('async')
    }
  }
  // An iterable whose iterator records that it was closed (a generator that never
  // started has no `finally` to run, in JS as in Python).
  const tracked = (name: string): Iterable<string> => ({
    [Symbol.iterator] () {
      return {
        next: () => { iterated++; return { done: false, value: 'x' } },
        return: () => { closed.push(name); return { done: true, value: undefined } }
      }
    }
  })
  const dir = mkdtempSync(join(tmpdir(), 'fav-head-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'report.txt')
  writeFileSync(file, 'hello file')

  class Stream extends View {
    get (): StreamingHttpResponse { return new StreamingHttpResponse(tracked('cbv')) }
  }

  const app = await build(t, {
    urlpatterns: [
      path('sync/', async () => new StreamingHttpResponse(endless(), { headers: { 'x-kind': 'sync' } })),
      path('async/', async () => new StreamingHttpResponse(endlessAsync())),
      path('tracked/', async () => new StreamingHttpResponse(tracked('tracked'))),
      path('events/', async () => new EventStreamResponse(tracked('events') as Iterable<string>)),
      path('file/', async () => new FileResponse(file)),
      path('cbv/', Stream.asView()),
      path('json/', async (request: HttpRequest) => ({ method: request.method }))
    ]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo

  for (const url of ['/sync/', '/async/', '/tracked/', '/events/', '/cbv/']) {
    const head = await ask(port, 'HEAD', url)
    t.equal(head.status, 200, `HEAD ${url} answers`)
    t.equal(head.body, '', `HEAD ${url}: no body`)
    // The server still serves (the event loop turns).
    t.same((await ask(port, 'GET', '/json/')).body, '{"method":"GET"}', `after HEAD ${url} the server keeps serving`)
  }
  t.equal(iterated, 0, 'no body was iterated')
  await sleep(20)
  t.same(closed.sort(), ['cbv', 'events', 'tracked'], 'every started iterator was closed')

  const sync = await ask(port, 'HEAD', '/sync/')
  t.equal(sync.headers['x-kind'], 'sync', 'the head carries the view\'s headers')
  const events = await ask(port, 'HEAD', '/events/')
  t.match(events.headers['content-type'], /^text\/event-stream/)

  // Django's FileResponse sets Content-Length from the file: a HEAD gets it too, without the bytes.
  const fileHead = await ask(port, 'HEAD', '/file/')
  t.equal(fileHead.status, 200)
  t.equal(fileHead.headers['content-length'], '10')
  t.equal(fileHead.body, '')
  t.equal((await ask(port, 'GET', '/file/')).body, 'hello file', 'GET still streams the file')

  // GET on the same endless async stream still streams (and ends when the client leaves).
  const get = await new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/async/', agent: false }, (res) => {
      res.once('data', (chunk: Buffer) => { resolve(chunk.toString()); req.destroy() })
    })
    req.on('error', (error) => { if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error) })
    req.end()
  })
  t.match(get, /^tick/)
})
