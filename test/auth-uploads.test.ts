import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify'
import { connect } from 'node:net'
import { mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import asyncViews, { path, syncView, closeSyncBridge, Http404, ImproperlyConfigured, HttpResponse, JsonResponse, UploadedFile, type AsyncViewsOptions, type HttpRequest, type Middleware } from 'fastify-async-views'
import { markMultipart } from '../dist/uploads/index.js'
import { importPeer } from '../dist/peers/index.js'
import { sleep } from './helpers.ts'

// Imported untyped: @fastify/multipart's `declare module 'fastify'` would change
// FastifyContextConfig for every test compiled with this one.
const multipart = (await import('@fastify/multipart' as string) as { default: FastifyPluginAsync }).default
interface Part { type: 'file' | 'field', fieldname: string, value?: unknown, filename?: string, toBuffer: () => Promise<Buffer> }
type MultipartRequest = FastifyRequest & { parts: () => AsyncIterable<Part>, file: () => Promise<Part | undefined>, isMultipart: () => boolean }

// Uploads over real HTTP: fields to POST, files spooled to `tmpdir` and gone
// after the response whatever happened, every limit a 413 before the view.

function spoolDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'fav-uploads-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Waits (up to 2 s) for the spool directory to be empty, and says what was left. */
async function leftIn (dir: string): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    if (readdirSync(dir).length === 0) return []
    await sleep(20)
  }
  return readdirSync(dir)
}

async function until (ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return
    await sleep(10)
  }
}

async function serve (t: Test, options: AsyncViewsOptions, before?: (app: FastifyInstance) => Promise<void>): Promise<string> {
  const app = Fastify()
  t.teardown(() => app.close())
  if (before !== undefined) await before(app)
  await app.register(asyncViews, options)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** A raw HTTP/1.1 exchange: what the server answered (until it closes or `ms` pass). */
async function rawExchange (base: string, head: string, body: Buffer | string, opts: { ms?: number, destroyAfterWrite?: boolean } = {}): Promise<string> {
  const { port } = new URL(base)
  return await new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1')
    let answer = ''
    const timer = setTimeout(() => { socket.destroy(); resolve(answer) }, opts.ms ?? 2000)
    socket.on('data', (chunk) => { answer += chunk.toString('latin1') })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
    socket.write(head)
    socket.write(body, () => {
      if (opts.destroyAfterWrite === true) setTimeout(() => { socket.destroy() }, 50)
    })
  })
}

function statusOf (answer: string): number {
  return Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1])
}

function bodyOf (answer: string): Record<string, unknown> {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
}

t.test('fields go to POST and files to FILES, spooled to tmpdir and deleted after the response', async (t) => {
  const dir = spoolDir(t)
  let during: string[] = []
  const base = await serve(t, {
    uploads: { tmpdir: dir },
    urlpatterns: [path('up/', async (request: HttpRequest) => {
      const avatar = request.FILES.get('avatar') as UploadedFile
      const docs = request.FILES.getlist('doc')
      during = readdirSync(dir)
      const chunks: Buffer[] = []
      for await (const chunk of docs[1].stream()) chunks.push(chunk as Buffer)
      return {
        title: request.POST.get('title'),
        tags: request.POST.getlist('tag'),
        avatar: { name: avatar.name, size: avatar.size, contentType: avatar.contentType, text: (await avatar.read()).toString(), inDir: avatar.path.startsWith(dir), isFile: avatar instanceof UploadedFile },
        docs: docs.map((d) => d.name),
        streamed: Buffer.concat(chunks).toString(),
        hasEmpty: request.FILES.has('empty'),
        has: request.FILES.has('avatar'),
        body: request.body.length
      }
    })]
  })
  const form = new FormData()
  form.append('title', 'Héllo wörld')
  form.append('tag', 'a')
  form.append('tag', 'b')
  form.append('avatar', new Blob(['PNGDATA'], { type: 'image/png' }), '../../etc/me.png')
  form.append('doc', new Blob(['one']), 'one.txt')
  form.append('doc', new Blob(['two'.repeat(1000)]), 'C:\\Users\\x\\two.txt')
  form.append('empty', new Blob([]), '')
  const res = await fetch(`${base}/up/`, { method: 'POST', body: form })
  t.equal(res.status, 200)
  t.same(await res.json(), {
    title: 'Héllo wörld',
    tags: ['a', 'b'],
    avatar: { name: 'me.png', size: 7, contentType: 'image/png', text: 'PNGDATA', inDir: true, isFile: true },
    docs: ['one.txt', 'two.txt'],
    streamed: 'two'.repeat(1000),
    hasEmpty: false,
    has: true,
    body: 0
  })
  t.equal(during.length, 3, 'three files on disk while the view ran (the empty input is skipped)')
  t.same(await leftIn(dir), [], 'nothing left after the response')
})

t.test('files are deleted after a view that throws, and after a 404 from the view', async (t) => {
  const dir = spoolDir(t)
  let seen = 0
  const base = await serve(t, {
    uploads: { tmpdir: dir },
    urlpatterns: [
      path('boom/', async (request: HttpRequest) => {
        seen = request.FILES.size
        throw new Error('boom')
      }),
      path('missing/', async () => { throw new Http404('no') })
    ]
  })
  for (const [url, status] of [['/boom/', 500], ['/missing/', 404]] as const) {
    const form = new FormData()
    form.append('f', new Blob(['x']), 'f.txt')
    const res = await fetch(`${base}${url}`, { method: 'POST', body: form })
    t.equal(res.status, status, url)
  }
  t.equal(seen, 1)
  t.same(await leftIn(dir), [])
})

t.test('a sync view on a worker thread gets the same POST and FILES', async (t) => {
  t.teardown(closeSyncBridge)
  const dir = spoolDir(t)
  const base = await serve(t, {
    uploads: { tmpdir: dir },
    urlpatterns: [path('sync/', syncView(new URL('./fixtures/sync/uploads.mjs', import.meta.url), 'avatar'))]
  })
  const form = new FormData()
  form.append('title', 'me')
  form.append('f', new Blob(['old']), 'old.txt')
  form.append('f', new Blob(['face'], { type: 'image/png' }), 'face.png')
  const res = await fetch(`${base}/sync/`, { method: 'POST', body: form })
  t.same(await res.json(), { isMainThread: false, title: 'me', name: 'face.png', size: 4, contentType: 'image/png', text: 'face', count: 2 })
  t.same(await leftIn(dir), [])
})

t.test('middleware sees POST and FILES: multipart is parsed before it', async (t) => {
  const dir = spoolDir(t)
  const seen: unknown[] = []
  const peek: Middleware = (getResponse) => async (request) => {
    seen.push([request.POST.get('a'), request.FILES.get('f')?.size])
    const response = await getResponse(request)
    seen.push(response.statusCode)
    return response
  }
  const base = await serve(t, {
    uploads: { tmpdir: dir, maxFileSize: 1000 },
    middleware: [peek],
    urlpatterns: [path('up/', async (request: HttpRequest) => ({ f: request.FILES.get('f')?.name }))]
  })
  const form = new FormData()
  form.append('a', '1')
  form.append('f', new Blob(['xyz']), 'f.bin')
  const res = await fetch(`${base}/up/`, { method: 'POST', body: form })
  t.same(await res.json(), { f: 'f.bin' })
  t.same(seen, [['1', 3], 200])
  // A refused upload enters the chain late: the middleware sees its 413, not the body.
  seen.length = 0
  const big = new FormData()
  big.append('a', '1')
  big.append('f', new Blob([Buffer.alloc(2000)]), 'big.bin')
  t.equal((await fetch(`${base}/up/`, { method: 'POST', body: big })).status, 413)
  t.same(seen, [[undefined, undefined], 413])
  t.same(await leftIn(dir), [])
})

t.test('every limit is a 413 naming it, before the view, with nothing left in tmpdir', async (t) => {
  const dir = spoolDir(t)
  let views = 0
  const base = await serve(t, {
    uploads: { tmpdir: dir, maxFileSize: 1000, maxFiles: 2, maxFields: 3, maxBodySize: 20000 },
    urlpatterns: [path('up/', async (request: HttpRequest) => {
      views++
      return { sizes: request.FILES.getlist('f').map((f) => f.size) }
    })]
  })
  const post = async (fill: (form: FormData) => void): Promise<{ status: number, body: Record<string, unknown> }> => {
    const form = new FormData()
    fill(form)
    const res = await fetch(`${base}/up/`, { method: 'POST', body: form })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }

  const exact = await post((form) => { form.append('f', new Blob([Buffer.alloc(1000, 1)]), 'a') })
  t.same(exact, { status: 200, body: { sizes: [1000] } }, 'a file of exactly maxFileSize is whole')
  t.equal(views, 1)

  const cases: Array<[string, (form: FormData) => void, RegExp]> = [
    ['maxFileSize', (form) => { form.append('f', new Blob([Buffer.alloc(1001, 1)]), 'a') }, /uploads\.maxFileSize \(1000 bytes\)/],
    ['maxFileSize on a later file', (form) => { form.append('f', new Blob(['ok']), 'a'); form.append('f', new Blob([Buffer.alloc(5000)]), 'b') }, /uploads\.maxFileSize/],
    ['maxFiles', (form) => { for (let i = 0; i < 3; i++) form.append('f', new Blob(['x']), `f${i}`) }, /uploads\.maxFiles \(2\)/],
    ['maxFields', (form) => { for (let i = 0; i < 4; i++) form.append(`k${i}`, 'v') }, /uploads\.maxFields \(3\)/],
    ['maxBodySize', (form) => { for (let i = 0; i < 30; i++) form.append('k', 'v'.repeat(900)) }, /uploads\.maxBodySize \(20000 bytes\)/]
  ]
  for (const [limit, fill, message] of cases) {
    const { status, body } = await post(fill)
    t.equal(status, 413, limit)
    t.equal(body.statusCode, 413)
    t.equal(body.error, 'Payload Too Large')
    t.match(body.message, message, `${limit}: the message names the limit`)
  }
  t.equal(views, 1, 'no view ran for any of them')
  t.same(await leftIn(dir), [])
})

t.test('a body over maxBodySize is refused without being read, announced or chunked', async (t) => {
  const dir = spoolDir(t)
  let views = 0
  const base = await serve(t, {
    uploads: { tmpdir: dir, maxBodySize: 10000, maxFileSize: 1000000 },
    urlpatterns: [path('up/', async () => { views++; return new HttpResponse('ok') })]
  })
  const boundary = 'XyZ'
  const part = `--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n`
  // Announced: refused from Content-Length before the body arrives.
  const announced = await rawExchange(base, `POST /up/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 5000000\r\n\r\n`, part, { ms: 500 })
  t.equal(statusOf(announced), 413)
  t.match(bodyOf(announced).message, /maxBodySize \(10000 bytes\)/)

  // Chunked: counted as it arrives; the file being written is deleted.
  const big = Buffer.alloc(64 * 1024, 0x61)
  const chunked = await new Promise<string>((resolve) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1')
    let answer = ''
    socket.on('data', (c) => { answer += c.toString('latin1') })
    socket.on('error', () => {})
    socket.on('close', () => resolve(answer))
    socket.write(`POST /up/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nTransfer-Encoding: chunked\r\n\r\n`)
    socket.write(`${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`)
    const more = (): void => {
      if (socket.destroyed || answer !== '') return
      socket.write(`${big.length.toString(16)}\r\n`)
      socket.write(big)
      socket.write('\r\n', () => setTimeout(more, 5))
    }
    more()
    setTimeout(() => socket.destroy(), 3000)
  })
  t.equal(statusOf(chunked), 413)
  t.match(bodyOf(chunked).message, /maxBodySize/)
  t.equal(views, 0)
  t.same(await leftIn(dir), [])
})

t.test('malformed multipart is a 400 before the view, nothing left behind', async (t) => {
  const dir = spoolDir(t)
  let views = 0
  const base = await serve(t, {
    uploads: { tmpdir: dir },
    urlpatterns: [path('up/', async () => { views++; return new HttpResponse('ok') })]
  })
  const send = async (contentType: string, body: string): Promise<string> =>
    await rawExchange(base, `POST /up/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`, body)
  const cases: Array<[string, string, string]> = [
    ['no boundary', 'multipart/form-data', '--a\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--a--\r\n'],
    ['cut short in a file', 'multipart/form-data; boundary=a', '--a\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\n\r\nhalf a fi'],
    ['no part at all', 'multipart/form-data; boundary=a', 'garbage without a boundary line'],
    ['a field name Object.prototype owns', 'multipart/form-data; boundary=a', '--a\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\n1\r\n--a--\r\n']
  ]
  for (const [what, type, body] of cases) {
    const answer = await send(type, body)
    t.equal(statusOf(answer), 400, what)
    const parsed = bodyOf(answer)
    t.equal(parsed.error, 'Bad Request')
    t.match(parsed.message, /^Malformed multipart body/, what)
  }
  t.equal(views, 0)
  t.same(await leftIn(dir), [])
})

t.test('a client that leaves mid-upload or before the response leaves nothing in tmpdir', async (t) => {
  const dir = spoolDir(t)
  let entered = 0
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const base = await serve(t, {
    uploads: { tmpdir: dir },
    urlpatterns: [path('up/', async (request: HttpRequest) => {
      entered++
      await held
      return { n: request.FILES.size }
    })]
  })
  const head = (length: number): string => `POST /up/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${length}\r\n\r\n`
  // Mid-upload: half a file sent, then the socket closes.
  const half = '--b\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\n' + 'z'.repeat(100000)
  await rawExchange(base, head(500000), half, { destroyAfterWrite: true, ms: 500 })
  t.same(await leftIn(dir), [], 'the partial file is deleted')
  t.equal(entered, 0, 'no view ran')

  // Whole body sent, the view waits, the client leaves: deleted on the response's close.
  const whole = '--b\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\nabc\r\n--b--\r\n'
  const exchange = rawExchange(base, head(whole.length), whole, { ms: 400 })
  await until(() => entered > 0)
  t.equal(readdirSync(dir).length, 1, 'the file is there while the view runs')
  await exchange
  t.same(await leftIn(dir), [], 'deleted when the client left')
  release()
})

t.test("a route with uploads: 'stream' gets request.fastify.parts() and no FILES", async (t) => {
  const dir = spoolDir(t)
  const base = await serve(t, {
    uploads: { tmpdir: dir, maxFileSize: 10 },
    urlpatterns: [path('stream/', async (request: HttpRequest) => {
      const seen: string[] = []
      const req = request.fastify as MultipartRequest
      for await (const part of req.parts()) {
        if (part.type === 'file') seen.push(`${part.fieldname}:${(await part.toBuffer()).length}`)
        else seen.push(`${part.fieldname}=${String(part.value)}`)
      }
      return { seen, files: request.FILES.size, multipart: req.isMultipart() }
    }, { uploads: 'stream' })]
  })
  const form = new FormData()
  form.append('a', '1')
  form.append('f', new Blob(['12345']), 'f')
  const res = await fetch(`${base}/stream/`, { method: 'POST', body: form })
  t.same(await res.json(), { seen: ['a=1', 'f:5'], files: 0, multipart: true })
  t.same(readdirSync(dir), [])
})

t.test('an @fastify/multipart the app registered first is adopted', async (t) => {
  const dir = spoolDir(t)
  const base = await serve(t, {
    uploads: { tmpdir: dir },
    urlpatterns: [path('up/', async (request: HttpRequest) => ({ a: request.POST.get('a'), f: (await request.FILES.get('f')?.read())?.toString() }))]
  }, async (app) => {
    await app.register(multipart)
    app.post('/plain', async (req) => {
      const file = await (req as MultipartRequest).file()
      return { name: file?.filename, data: (await file?.toBuffer())?.toString() }
    })
  })
  const form = new FormData()
  form.append('a', '1')
  form.append('f', new Blob(['data']), 'f.txt')
  t.same(await (await fetch(`${base}/up/`, { method: 'POST', body: form })).json(), { a: '1', f: 'data' })
  t.same(await (await fetch(`${base}/plain`, { method: 'POST', body: form })).json(), { name: 'f.txt', data: 'data' }, "the app's own routes keep it")
  t.same(await leftIn(dir), [])
})

t.test('plain routes of the app can use @fastify/multipart the plugin registered', async (t) => {
  const dir = spoolDir(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, { uploads: { tmpdir: dir }, urlpatterns: [] })
  // Routes added after the plugin (Fastify copies parsers when a context is made).
  app.register(async (scope) => {
    scope.post('/plain', async (req) => ({ n: (await (req as MultipartRequest).file())?.filename }))
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const form = new FormData()
  form.append('f', new Blob(['x']), 'p.txt')
  t.same(await (await fetch(`${base}/plain`, { method: 'POST', body: form })).json(), { n: 'p.txt' })
})

t.test('an app without uploads pays nothing: multipart reaches views as raw bytes', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    urlpatterns: [path('up/', async (request: HttpRequest) => new HttpResponse(`${request.body.length} ${request.FILES.size} ${request.POST.size} ${typeof (request.fastify as { isMultipart?: unknown }).isMultipart}`))]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.notOk(app.hasRequestDecorator('isMultipart'), '@fastify/multipart is not registered')
  const form = new FormData()
  form.append('f', new Blob(['abc']), 'f.txt')
  const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/up/`, { method: 'POST', body: form })
  t.match(await res.text(), /^\d+ 0 0 undefined$/)
})

t.test('GET and non-multipart requests are untouched with uploads on', async (t) => {
  const dir = spoolDir(t)
  const base = await serve(t, {
    uploads: { tmpdir: dir },
    urlpatterns: [
      path('v/', async (request: HttpRequest) => new JsonResponse({ m: request.method, body: request.body.toString(), a: request.POST.get('a') ?? null, files: request.FILES.size })),
      path('schema/', async (request: HttpRequest) => new JsonResponse({ files: request.FILES.size, raw: request.body.includes('f.txt') }), { schema: { body: { type: 'object' } } })
    ]
  })
  const form = new FormData()
  form.append('f', new Blob(['x']), 'f.txt')
  t.same(await (await fetch(`${base}/schema/`, { method: 'POST', body: form })).json(), { files: 0, raw: true }, 'a route with a body schema gets raw bytes (docs/uploads.md)')
  t.same(await (await fetch(`${base}/v/`)).json(), { m: 'GET', body: '', a: null, files: 0 })
  t.same(await (await fetch(`${base}/v/`, { method: 'POST', body: new URLSearchParams({ a: '1' }) })).json(), { m: 'POST', body: 'a=1', a: '1', files: 0 })
  t.same(await (await fetch(`${base}/v/`, { method: 'PUT', body: '{"x":1}', headers: { 'content-type': 'application/json' } })).json(), { m: 'PUT', body: '{"x":1}', a: null, files: 0 })
})

t.test('the uploads option is checked at register, naming the key', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [true, /Option 'uploads' must be an object/],
    [{ maxFileSize: 0 }, /Option 'uploads\.maxFileSize' must be a positive integer/],
    [{ maxFiles: 1.5 }, /Option 'uploads\.maxFiles'/],
    [{ maxFields: '10' }, /Option 'uploads\.maxFields'/],
    [{ maxBodySize: -1 }, /Option 'uploads\.maxBodySize'/],
    [{ tmpdir: join(tmpdir(), 'fav-no-such-dir-' + process.pid) }, /Option 'uploads\.tmpdir': .* is not a directory/],
    [{ tmpdir: 5 }, /Option 'uploads\.tmpdir' must be a directory path/],
    [{ maxfilesize: 1 }, /Unknown option 'uploads\.maxfilesize'/]
  ]
  for (const [uploads, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(asyncViews, { uploads } as AsyncViewsOptions).ready() }, message)
    await app.close()
  }
  const app = Fastify()
  const view = async (): Promise<HttpResponse> => new HttpResponse('x')
  await t.rejects(async () => { await app.register(asyncViews, { uploads: {}, urlpatterns: [path('x/', view, { uploads: 'later' as 'stream' })] }).ready() }, /Route option 'uploads' must be 'stream'/)
  await app.close()
})

t.test('a missing peer package is ImproperlyConfigured naming it and the option', async (t) => {
  await t.rejects(importPeer('@fastify/no-such-peer', 'uploads'), { name: 'ImproperlyConfigured', message: /Option 'uploads' needs the package @fastify\/no-such-peer: npm install @fastify\/no-such-peer/ })
  t.ok(await importPeer('@fastify/multipart', 'uploads'))
  t.ok(ImproperlyConfigured)
})

t.test('uploaded files can be moved away by the view and are then not cleaned', async (t) => {
  const dir = spoolDir(t)
  const keep = spoolDir(t)
  const { rename } = await import('node:fs/promises')
  const base = await serve(t, {
    uploads: { tmpdir: dir },
    urlpatterns: [path('up/', async (request: HttpRequest) => {
      const file = request.FILES.get('f') as UploadedFile
      await rename(file.path, join(keep, file.name))
      return new HttpResponse('kept')
    })]
  })
  const form = new FormData()
  form.append('f', new Blob(['keep me']), 'k.txt')
  t.equal(await (await fetch(`${base}/up/`, { method: 'POST', body: form })).text(), 'kept')
  t.same(await leftIn(dir), [])
  t.ok(existsSync(join(keep, 'k.txt')))
})

t.test("the fallback parser (when Fastify's parser table moves) still lets parts() read the body", async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(multipart)
  await app.register(async (inner) => {
    inner.removeAllContentTypeParsers()
    inner.addContentTypeParser('multipart/form-data', markMultipart)
    inner.post('/x', async (req) => {
      const names: string[] = []
      for await (const part of (req as MultipartRequest).parts()) {
        names.push(part.type === 'file' ? `${part.fieldname}:${(await part.toBuffer()).toString()}` : part.fieldname)
      }
      return { multipart: (req as MultipartRequest).isMultipart(), names }
    })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const form = new FormData()
  form.append('a', '1')
  form.append('f', new Blob(['x']), 'f.txt')
  const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/x`, { method: 'POST', body: form })
  t.same(await res.json(), { multipart: true, names: ['a', 'f:x'] })
})
