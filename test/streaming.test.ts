import t from 'tap'
import type { Test } from 'tap'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { createReadStream, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  path,
  HttpResponse,
  StreamingHttpResponse,
  FileResponse,
  EventStreamResponse,
  type HttpRequest,
  type ServerSentEvent
} from 'fastify-async-views'
import { build, sleep } from './helpers.ts'

const PRODUCTION_500 = { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' }

// ---------------------------------------------------------------------------
// Helpers

/** A promise the test resolves by hand. */
function deferred<T = void> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

/** Resolves to `'timeout'` if `promise` has not settled within `ms`. */
async function within<T> (promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(resolve, ms, 'timeout') })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Collects what a stream delivers and lets a test wait for a condition on it. */
class Collector {
  readonly chunks: Buffer[] = []
  ended = false
  closed = false
  #waiters = new Set<() => void>()

  constructor (stream: NodeJS.ReadableStream) {
    stream.on('data', (chunk: Buffer) => { this.chunks.push(Buffer.from(chunk)); this.#notify() })
    stream.on('end', () => { this.ended = true; this.#notify() })
    stream.on('close', () => { this.closed = true; this.#notify() })
    stream.on('error', () => { this.closed = true; this.#notify() })
  }

  get text (): string { return Buffer.concat(this.chunks).toString('utf8') }
  get bytes (): Buffer { return Buffer.concat(this.chunks) }

  #notify (): void {
    for (const waiter of this.#waiters) waiter()
  }

  /** Waits until `condition()` holds; fails with `what` after `ms`. */
  async until (condition: () => boolean, what: string, ms = 5000): Promise<void> {
    if (condition()) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(new Error(`Timed out after ${ms}ms waiting for ${what}; got ${JSON.stringify(this.text.slice(0, 500))}`))
      }, ms)
      const check = (): void => {
        if (!condition()) return
        clearTimeout(timer)
        this.#waiters.delete(check)
        resolve()
      }
      this.#waiters.add(check)
    })
  }
}

/** The app listening on 127.0.0.1 (random port), closed when the test ends. */
async function serve (t: Test, urlpatterns: any[]): Promise<{ app: FastifyInstance, port: number }> {
  // Force-close keeps a failed test from hanging on a stream left open.
  const app = await build(t, { urlpatterns }, { forceCloseConnections: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: (app.server.address() as AddressInfo).port }
}

/** An HTTP/1.1 GET over its own connection; destroyed when the test ends. */
async function get (t: Test, port: number, url: string): Promise<{ res: IncomingMessage, body: Collector, destroy: () => void }> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: url, agent: false }, (res) => {
      const body = new Collector(res)
      resolve({ res, body, destroy: () => { req.destroy(); res.destroy() } })
    })
    t.teardown(() => { req.destroy() })
    req.on('error', reject)
    req.end()
  })
}

/** A raw socket that sent `GET url`; everything received (headers and chunk framing included) is collected. */
async function rawGet (t: Test, port: number, url: string): Promise<{ socket: Socket, received: Collector }> {
  const socket = connect({ host: '127.0.0.1', port })
  t.teardown(() => { socket.destroy() })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const received = new Collector(socket)
  socket.write(`GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  return { socket, received }
}

/** A complete GET: status, headers and body. */
async function fetchText (t: Test, port: number, url: string): Promise<{ status: number, headers: IncomingMessage['headers'], body: string }> {
  const { res, body } = await get(t, port, url)
  await body.until(() => body.ended, `the end of ${url}`)
  return { status: res.statusCode ?? 0, headers: res.headers, body: body.text }
}

// ---------------------------------------------------------------------------
// StreamingHttpResponse

t.test('StreamingHttpResponse: the object', async (t) => {
  const response = new StreamingHttpResponse(['a', 'b'])
  t.equal(response.streaming, true)
  t.throws(() => response.content, TypeError, 'reading content throws')
  t.ok(response instanceof HttpResponse)
  t.equal(response.statusCode, 200)
  t.equal(response.headers.get('content-type'), 'text/html; charset=utf-8')

  async function * gen (): AsyncGenerator<string> { yield 'x' }
  const fromAsync = new StreamingHttpResponse(gen(), { status: 202, contentType: 'text/plain', headers: { 'X-Stream': '1' } })
  t.equal(fromAsync.streaming, true)
  t.throws(() => fromAsync.content, TypeError)
  t.equal(fromAsync.statusCode, 202)
  t.equal(fromAsync.headers.get('X-Stream'), '1')
})

t.test('StreamingHttpResponse: the whole body arrives (sync iterable and async generator)', async (t) => {
  async function * produce (): AsyncGenerator<string | Buffer | Uint8Array> {
    yield 'one,'
    await sleep(5)
    yield Buffer.from('two,')
    await sleep(5)
    yield new Uint8Array([116, 104, 114, 101, 101]) // "three"
  }
  const big = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(1000)}\n`)
  const app = await build(t, {
    urlpatterns: [
      path('sync/', async () => new StreamingHttpResponse(['a', 'b', Buffer.from('c'), new Uint8Array([100])], { contentType: 'text/plain; charset=utf-8' })),
      path('sync-generator/', async () => new StreamingHttpResponse((function * () { for (let i = 0; i < 5; i++) yield `${i};` })())),
      path('async/', async () => new StreamingHttpResponse(produce(), { status: 201, headers: { 'X-Stream': 'yes' } })),
      path('big/', async () => new StreamingHttpResponse(big)),
      path('empty/', async () => new StreamingHttpResponse([]))
    ]
  })
  const sync = await app.inject('/sync/')
  t.equal(sync.statusCode, 200)
  t.equal(sync.body, 'abcd')
  t.equal(sync.headers['content-type'], 'text/plain; charset=utf-8')

  t.equal((await app.inject('/sync-generator/')).body, '0;1;2;3;4;')

  const async = await app.inject('/async/')
  t.equal(async.statusCode, 201)
  t.equal(async.headers['x-stream'], 'yes')
  t.equal(async.body, 'one,two,three')

  const bigRes = await app.inject('/big/')
  t.equal(bigRes.body, big.join(''), 'a body of many chunks arrives complete and in order')

  const empty = await app.inject('/empty/')
  t.equal(empty.statusCode, 200)
  t.equal(empty.body, '')
})

t.test('StreamingHttpResponse: chunks arrive as they are produced', async (t) => {
  let gate = deferred()
  let producedSecond = false
  async function * produce (): AsyncGenerator<string> {
    yield 'first;'
    await gate.promise
    producedSecond = true
    yield 'second;'
    yield 'third'
  }
  const { port } = await serve(t, [path('live/', async () => new StreamingHttpResponse(produce()))])

  for (let round = 0; round < 2; round++) {
    gate = deferred()
    producedSecond = false
    const { res, body } = await get(t, port, '/live/')
    t.equal(res.statusCode, 200, 'headers arrive before the body is complete')
    await body.until(() => body.text.includes('first;'), 'the first chunk')
    t.equal(body.text, 'first;', 'the first chunk arrives while the generator waits')
    t.equal(producedSecond, false, 'the generator is still waiting')
    t.equal(body.ended, false)
    gate.resolve()
    await body.until(() => body.ended, 'the end of the body')
    t.equal(body.text, 'first;second;third')
  }
})

t.test('StreamingHttpResponse: a client that goes away stops an async generator', async (t) => {
  let finished = deferred()
  let produced = 0
  let signal: AbortSignal | undefined
  async function streamForever (request: HttpRequest): Promise<StreamingHttpResponse> {
    signal = request.signal
    async function * forever (): AsyncGenerator<string> {
      try {
        yield 'first\n'
        while (true) {
          await sleep(10)
          produced++
          yield 'tick\n'
        }
      } finally {
        finished.resolve()
      }
    }
    return new StreamingHttpResponse(forever())
  }
  const { port } = await serve(t, [
    path('forever/', streamForever),
    path('ok/', async () => new HttpResponse('ok'))
  ])

  for (let round = 0; round < 2; round++) {
    finished = deferred()
    signal = undefined as AbortSignal | undefined
    const { socket, received } = await rawGet(t, port, '/forever/')
    await received.until(() => received.text.includes('first'), 'the first chunk')
    t.equal(signal?.aborted, false, 'the signal is not aborted while the client is there')
    socket.destroy()
    t.not(await within(finished.promise, 1000), 'timeout', 'the generator\'s finally ran within a second')
    t.equal(signal?.aborted, true, 'request.signal is aborted')
    const count = produced
    await sleep(200)
    t.equal(produced, count, 'nothing more is produced')

    const ok = await fetchText(t, port, '/ok/')
    t.equal(ok.status, 200, 'the server keeps serving')
    t.equal(ok.body, 'ok')
  }
})

t.test('StreamingHttpResponse: a generator waiting on request.signal is released by a disconnect', async (t) => {
  const finished = deferred<string>()
  async function waitsForever (request: HttpRequest): Promise<StreamingHttpResponse> {
    const { signal } = request
    async function * gen (): AsyncGenerator<string> {
      try {
        yield 'hello\n'
        // Something slow that honours the signal (as fetch would).
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
        if (!signal.aborted) yield 'never\n'
      } finally {
        finished.resolve(signal.aborted ? 'aborted' : 'not aborted')
      }
    }
    return new StreamingHttpResponse(gen())
  }
  const { port } = await serve(t, [path('wait/', waitsForever), path('ok/', async () => new HttpResponse('ok'))])
  const { socket, received } = await rawGet(t, port, '/wait/')
  await received.until(() => received.text.includes('hello'), 'the first chunk')
  socket.destroy()
  t.equal(await within(finished.promise, 1000), 'aborted', 'the wait ends and the generator finishes')
  t.equal((await fetchText(t, port, '/ok/')).status, 200)
})

t.test('StreamingHttpResponse: a client that goes away stops a sync generator producing forever', async (t) => {
  let finished = deferred()
  let produced = 0
  let signal: AbortSignal | undefined
  function syncForever (request: HttpRequest): StreamingHttpResponse {
    signal = request.signal
    function * forever (): Generator<string> {
      try {
        while (true) {
          produced++
          yield `chunk ${produced}\n`
        }
      } finally {
        finished.resolve()
      }
    }
    return new StreamingHttpResponse(forever())
  }
  const { port } = await serve(t, [
    path('sync-forever/', syncForever),
    path('ok/', async () => new HttpResponse('ok'))
  ])

  for (let round = 0; round < 2; round++) {
    finished = deferred()
    const { socket, received } = await rawGet(t, port, '/sync-forever/')
    await received.until(() => received.text.includes('chunk '), 'the first chunks')
    // The event loop must stay responsive while the generator has data to give.
    const before = Date.now()
    await sleep(20)
    t.ok(Date.now() - before < 1000, 'timers still fire while streaming (no spinning)')
    socket.destroy()
    t.not(await within(finished.promise, 1000), 'timeout', 'the generator\'s finally ran within a second')
    t.equal(signal?.aborted, true, 'request.signal is aborted')
    const count = produced
    await sleep(200)
    t.equal(produced, count, 'the generator is not iterated any more')

    const ok = await fetchText(t, port, '/ok/')
    t.equal(ok.status, 200, 'the server keeps serving')
  }
})

t.test('StreamingHttpResponse: a failing generator', async (t) => {
  async function * failsEarly (): AsyncGenerator<string> { throw new Error('before any chunk') }
  async function * failsLate (): AsyncGenerator<string> {
    yield 'partial;'
    await sleep(20)
    throw new Error('after a chunk')
  }
  const { app, port } = await serve(t, [
    path('early/', async () => new StreamingHttpResponse(failsEarly())),
    path('bad-chunk/', async () => new StreamingHttpResponse([42 as unknown as string])),
    path('late/', async () => new StreamingHttpResponse(failsLate())),
    path('ok/', async () => new HttpResponse('ok'))
  ])
  for (const url of ['/early/', '/bad-chunk/']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 500, `${url}: nothing sent yet, so a 500`)
    t.same(res.json(), PRODUCTION_500, `${url}: the production body`)
  }
  // Once the status line is out, the only honest signal is a cut connection.
  const { res, body } = await get(t, port, '/late/')
  t.equal(res.statusCode, 200)
  await body.until(() => body.closed, 'the connection to be cut')
  t.equal(body.ended, false, 'the body does not end cleanly')
  t.equal(res.complete, false, 'the client knows the body is incomplete')
  t.equal(body.text, 'partial;')
  t.equal((await fetchText(t, port, '/ok/')).status, 200, 'the server keeps serving')
})

// ---------------------------------------------------------------------------
// FileResponse

t.test('FileResponse', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fav-files-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex')
  const large = Buffer.alloc(300_000)
  for (let i = 0; i < large.length; i++) large[i] = (i * 7919) % 251
  const files: Record<string, Buffer> = {
    'hello.txt': Buffer.from('hello, file\n'),
    'data.json': Buffer.from('{"a":1}'),
    'pixel.png': png,
    'large.bin': large,
    noext: Buffer.from('?'),
    'résumé.txt': Buffer.from('cv'),
    'empty.txt': Buffer.alloc(0)
  }
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes)
  mkdirSync(join(dir, 'subdir'))
  const at = (name: string): string => join(dir, name)

  const app = await build(t, {
    urlpatterns: [
      path('file/<str:name>/', async (_request: HttpRequest, { name }: { name: string }) => new FileResponse(at(name))),
      path('url/<str:name>/', async (_request: HttpRequest, { name }: { name: string }) => new FileResponse(pathToFileURL(at(name)))),
      path('url-string/<str:name>/', async (_request: HttpRequest, { name }: { name: string }) => new FileResponse(pathToFileURL(at(name)).href)),
      path('download/', async () => new FileResponse(at('hello.txt'), { asAttachment: true, filename: 'report.txt' })),
      path('download-own-name/', async () => new FileResponse(at('data.json'), { asAttachment: true })),
      path('download-quoted/', async () => new FileResponse(at('hello.txt'), { asAttachment: true, filename: 'say "hi".txt' })),
      path('download-unicode/', async () => new FileResponse(at('hello.txt'), { asAttachment: true, filename: 'résumé 2024.txt' })),
      path('unicode-file/', async () => new FileResponse(at('résumé.txt'))),
      path('readable/', async () => new FileResponse(Readable.from([Buffer.from('abc'), Buffer.from('def')]))),
      path('readable-named/', async () => new FileResponse(Readable.from([Buffer.from('{"b":2}')]), { filename: 'b.json', asAttachment: true })),
      path('fs-stream/', async () => new FileResponse(createReadStream(at('large.bin')))),
      path('typed/', async () => new FileResponse(at('noext'), { contentType: 'text/x-custom' })),
      path('missing/', async () => new FileResponse(at('does-not-exist.txt'))),
      path('directory/', async () => new FileResponse(at('subdir'))),
      path('ok/', async () => new HttpResponse('ok'))
    ]
  }, { forceCloseConnections: true })

  t.test('from a path, a file: URL and a file: URL string', async (t) => {
    const types: Record<string, RegExp> = {
      'hello.txt': /^text\/plain\b/,
      'data.json': /^application\/json\b/,
      'pixel.png': /^image\/png$/,
      'large.bin': /^application\/octet-stream$/,
      noext: /^application\/octet-stream$/,
      'empty.txt': /^text\/plain\b/
    }
    for (const prefix of ['file', 'url', 'url-string']) {
      for (const [name, type] of Object.entries(types)) {
        const res = await app.inject(`/${prefix}/${encodeURIComponent(name)}/`)
        t.equal(res.statusCode, 200, `${prefix} ${name}: 200`)
        t.ok(res.rawPayload.equals(files[name]), `${prefix} ${name}: the bytes match`)
        t.equal(res.headers['content-length'], String(files[name].length), `${prefix} ${name}: Content-Length is the file size`)
        t.match(res.headers['content-type'], type, `${prefix} ${name}: Content-Type from the extension`)
        t.equal(res.headers['content-disposition'], `inline; filename="${name}"`, `${prefix} ${name}: inline with the file's name`)
      }
    }
  })

  t.test('Content-Disposition', async (t) => {
    const download = await app.inject('/download/')
    t.equal(download.headers['content-disposition'], 'attachment; filename="report.txt"')
    t.equal(download.body, 'hello, file\n')
    t.match(download.headers['content-type'], /^text\/plain\b/, 'type from the file name')

    const ownName = await app.inject('/download-own-name/')
    t.equal(ownName.headers['content-disposition'], 'attachment; filename="data.json"', 'defaults to the file\'s own name')

    const quoted = await app.inject('/download-quoted/')
    t.equal(quoted.headers['content-disposition'], 'attachment; filename="say \\"hi\\".txt"', 'quotes are escaped')

    const unicode = await app.inject('/download-unicode/')
    t.equal(unicode.headers['content-disposition'], "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%202024.txt")

    const unicodeFile = await app.inject('/unicode-file/')
    t.equal(unicodeFile.statusCode, 200)
    t.equal(unicodeFile.body, 'cv')
    t.equal(unicodeFile.headers['content-disposition'], "inline; filename*=utf-8''r%C3%A9sum%C3%A9.txt")
  })

  t.test('from a Readable', async (t) => {
    const readable = await app.inject('/readable/')
    t.equal(readable.statusCode, 200)
    t.equal(readable.body, 'abcdef')
    t.equal(readable.headers['content-type'], 'application/octet-stream', 'no name: octet-stream')

    const named = await app.inject('/readable-named/')
    t.equal(named.body, '{"b":2}')
    t.match(named.headers['content-type'], /^application\/json\b/, 'type from the filename option')
    t.equal(named.headers['content-disposition'], 'attachment; filename="b.json"')

    const fsStream = await app.inject('/fs-stream/')
    t.equal(fsStream.statusCode, 200)
    t.ok(fsStream.rawPayload.equals(large), 'a 300 kB fs stream arrives intact')

    const typed = await app.inject('/typed/')
    t.equal(typed.headers['content-type'], 'text/x-custom', 'an explicit contentType wins')
  })

  t.test('a missing file or a directory: a 500, and the server carries on', async (t) => {
    for (const url of ['/missing/', '/directory/']) {
      const res = await app.inject(url)
      t.equal(res.statusCode, 500, `${url}: 500`)
      t.same(res.json(), PRODUCTION_500, `${url}: the production body`)
      t.equal(res.headers['content-disposition'], undefined, `${url}: no file headers`)
      t.equal((await app.inject('/ok/')).statusCode, 200, `after ${url}: later requests work`)
    }
  })

  t.test('over a real socket', async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as AddressInfo).port
    const { res, body } = await get(t, port, '/file/large.bin/')
    await body.until(() => body.ended, 'the whole file')
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-length'], String(large.length))
    t.ok(body.bytes.equals(large), 'bytes match')

    const missing = await fetchText(t, port, '/missing/')
    t.equal(missing.status, 500)
    t.same(JSON.parse(missing.body), PRODUCTION_500)
    t.equal((await fetchText(t, port, '/ok/')).status, 200)
  })
})

// Django's FileResponse takes the name (hence type, disposition and length) from
// the file object (`open(...).name`); a Node fs.ReadStream carries it as `.path`.
t.test('FileResponse from an fs.ReadStream uses the stream\'s file name, as Django does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fav-files-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'photo.png'), Buffer.from('89504e470d0a1a0a', 'hex'))
  const app = await build(t, { urlpatterns: [path('photo/', async () => new FileResponse(createReadStream(join(dir, 'photo.png'))))] })
  const res = await app.inject('/photo/')
  t.equal(res.statusCode, 200)
  t.equal(res.rawPayload.length, 8)
  t.equal(res.headers['content-type'], 'image/png', 'type from the stream\'s path')
  t.equal(res.headers['content-disposition'], 'inline; filename="photo.png"', 'filename from the stream\'s path')
})

// ---------------------------------------------------------------------------
// EventStreamResponse

t.test('EventStreamResponse: the object', async (t) => {
  async function * none (): AsyncGenerator<string> {}
  const response = new EventStreamResponse(none())
  t.equal(response.streaming, true)
  t.match(response.headers.get('content-type'), /^text\/event-stream\b/)
  t.equal(response.headers.get('cache-control'), 'no-cache')
  t.notOk(response.headers.has('connection'), 'no Connection header (not allowed on HTTP/2)')
  t.throws(() => response.content, TypeError)
})

t.test('EventStreamResponse: headers and the exact wire format', async (t) => {
  async function * events (): AsyncGenerator<ServerSentEvent | string> {
    yield 'hello'
    yield 'two\nlines'
    yield { data: 'x', event: 'update', id: 7 }
    yield { data: { a: 1, b: [1, 'two'] } }
    yield { retry: 5000 }
    yield { data: 'line1\r\nline2\rline3', event: 'multi', id: 'abc', retry: 100 }
    yield { data: '' }
    yield { data: 0, id: 0 }
  }
  const expected =
    'data: hello\n\n' +
    'data: two\ndata: lines\n\n' +
    'event: update\nid: 7\ndata: x\n\n' +
    'data: {"a":1,"b":[1,"two"]}\n\n' +
    'retry: 5000\n\n' +
    'event: multi\nid: abc\nretry: 100\ndata: line1\ndata: line2\ndata: line3\n\n' +
    'data: \n\n' +
    'id: 0\ndata: 0\n\n'

  let replyHeaders: Record<string, unknown> = {}
  const onSend = (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void): void => {
    replyHeaders = reply.getHeaders()
    done(null, payload)
  }
  const app = await build(t, { urlpatterns: [path('events/', async () => new EventStreamResponse(events()), { onSend })] }, { forceCloseConnections: true })
  const res = await app.inject('/events/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/event-stream\b/)
  t.equal(res.headers['cache-control'], 'no-cache')
  t.notOk('connection' in replyHeaders, 'no Connection header set by the response')
  t.equal(res.body, expected)

  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const real = await fetchText(t, port, '/events/')
  t.equal(real.status, 200)
  t.match(real.headers['content-type'], /^text\/event-stream\b/)
  t.equal(real.headers['cache-control'], 'no-cache')
  t.equal(real.headers['content-length'], undefined, 'streamed, no length')
  t.equal(real.body, expected, 'same bytes over a real socket')
})

t.test('EventStreamResponse: events arrive as they are produced', async (t) => {
  let gate = deferred()
  let producedSecond = false
  async function * events (): AsyncGenerator<ServerSentEvent> {
    yield { event: 'first', data: { n: 1 } }
    await gate.promise
    producedSecond = true
    yield { event: 'second', data: { n: 2 } }
  }
  const { port } = await serve(t, [path('sse/', async () => new EventStreamResponse(events()))])
  gate = deferred()
  const { res, body } = await get(t, port, '/sse/')
  t.equal(res.statusCode, 200)
  await body.until(() => body.text.includes('\n\n'), 'the first event')
  t.equal(body.text, 'event: first\ndata: {"n":1}\n\n', 'the first event arrives while the generator waits')
  t.equal(producedSecond, false)
  gate.resolve()
  await body.until(() => body.ended, 'the end of the stream')
  t.equal(body.text, 'event: first\ndata: {"n":1}\n\nevent: second\ndata: {"n":2}\n\n')
})

t.test('EventStreamResponse: a client disconnect stops the generator', async (t) => {
  let finished = deferred()
  let produced = 0
  let signal: AbortSignal | undefined
  async function events (request: HttpRequest): Promise<EventStreamResponse> {
    signal = request.signal
    const keepAlive = request.GET.get('keepAlive')
    async function * gen (): AsyncGenerator<ServerSentEvent> {
      try {
        while (true) {
          produced++
          yield { data: `tick ${produced}` }
          await sleep(10)
        }
      } finally {
        finished.resolve()
      }
    }
    return new EventStreamResponse(gen(), keepAlive === null ? {} : { keepAlive: Number(keepAlive) })
  }
  const { port } = await serve(t, [path('sse/', events), path('ok/', async () => new HttpResponse('ok'))])

  for (const url of ['/sse/', '/sse/?keepAlive=50']) {
    finished = deferred()
    const { socket, received } = await rawGet(t, port, url)
    await received.until(() => received.text.includes('data: tick'), `${url}: the first event`)
    socket.destroy()
    t.not(await within(finished.promise, 1000), 'timeout', `${url}: the generator's finally ran within a second`)
    t.equal(signal?.aborted, true, `${url}: request.signal is aborted`)
    const count = produced
    await sleep(200)
    t.equal(produced, count, `${url}: nothing more is produced`)
    t.equal((await fetchText(t, port, '/ok/')).status, 200, `${url}: the server keeps serving`)
  }
})

t.test('EventStreamResponse: keepAlive sends a comment while the generator is idle', async (t) => {
  const gate = deferred()
  async function * events (): AsyncGenerator<ServerSentEvent> {
    yield { data: 'before' }
    await gate.promise
    yield { data: 'after' }
  }
  const { port } = await serve(t, [path('sse/', async () => new EventStreamResponse(events(), { keepAlive: 100 }))])
  const { body } = await get(t, port, '/sse/')
  await body.until(() => body.text.includes('data: before\n\n'), 'the first event')
  await body.until(() => body.text.includes(': keep-alive\n\n'), 'a keep-alive comment', 5000)
  t.ok(body.text.startsWith('data: before\n\n: keep-alive\n\n'), 'the comment follows the event, as its own block')
  t.equal(body.ended, false)
  gate.resolve()
  await body.until(() => body.ended, 'the end of the stream')
  t.ok(body.text.endsWith('data: after\n\n'), 'the next event still arrives')
  t.match(body.text, /^data: before\n\n(: keep-alive\n\n)+data: after\n\n$/, 'nothing but events and keep-alive comments')
})
