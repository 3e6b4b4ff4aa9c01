// WebSocket consumers over REAL sockets (SPEC "WebSocket consumers", "Channel
// layers"; TRAPS 22-30): a listening app, `ws` clients, and raw node:net
// clients where the bytes themselves matter. Every test ends one connection
// in a specific way, checks the close code, the consumer's disconnect() and
// the log, and then checks the server still serves another client.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import WebSocket from 'ws'
import { connect as netConnect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import asyncViews, {
  path, AsyncWebsocketConsumer, AsyncJsonWebsocketConsumer, DenyConnection, InMemoryChannelLayer,
  type AsyncViewsOptions, type IncomingFrame, type LayerMessage
} from 'fastify-async-views'
import { captureLogs, sleep, type LogCapture } from './helpers.ts'
import { until } from './fault-helpers.ts'

// ---------------------------------------------------------------- helpers

/** Echoes text frames as `echo:<text>`: mounted in every app to prove the server still serves. */
class Echo extends AsyncWebsocketConsumer {
  override async receive ({ text }: IncomingFrame): Promise<void> {
    if (text !== undefined) await this.send({ text: `echo:${text}` })
  }
}

interface Served {
  app: FastifyInstance
  port: number
  /** The server side of every TCP connection still open. */
  sockets: Set<Socket>
}

/** A listening app (127.0.0.1, port 0) with the plugin; `/echo/` is always mounted. Closed in teardown. */
async function listen (
  t: Test,
  options: AsyncViewsOptions,
  setup?: (app: FastifyInstance) => void,
  logs?: LogCapture,
  fastifyOptions: FastifyServerOptions = {}
): Promise<Served> {
  const app = Fastify({ ...fastifyOptions, ...(logs?.options ?? {}) })
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  t.teardown(async () => {
    // A hung close() must not hang the whole file: the tests assert on it themselves.
    const closing = app.close()
    if (await Promise.race([closing.then(() => false), sleep(5000).then(() => true)])) {
      for (const socket of sockets) socket.destroy()
      await closing
    }
  })
  setup?.(app)
  const websocket = options.websocket ?? {}
  const urlpatterns = [path('echo/', Echo.asHandler()), ...((websocket.urlpatterns as unknown[] | undefined) ?? [])]
  await app.register(asyncViews, { ...options, websocket: { ...websocket, urlpatterns } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, port: address.port, sockets }
}

interface Client {
  ws: WebSocket
  /** Resolves on 'open'; rejects with `statusCode` set on an HTTP refusal. */
  opened: Promise<void>
  /** Resolves with the close code the client saw. */
  closed: Promise<{ code: number, reason: string }>
  /** The HTTP status of a refused handshake (set once 'unexpected-response' fired). */
  refusedWith: Promise<number>
  next (timeoutMs?: number): Promise<string | Buffer>
}

/** A `ws` client; terminated in teardown. */
function client (t: Test, port: number, url: string, protocols?: string[], options: WebSocket.ClientOptions = {}): Client {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${url}`, protocols, { handshakeTimeout: 5000, ...options })
  const frames: Array<string | Buffer> = []
  const waiters: Array<(frame: string | Buffer) => void> = []
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const frame = isBinary ? data : data.toString()
    const waiter = waiters.shift()
    if (waiter !== undefined) waiter(frame)
    else frames.push(frame)
  })
  let refused!: (status: number) => void
  const refusedWith = new Promise<number>((resolve) => { refused = resolve })
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.on('unexpected-response', (_req, res) => {
      refused(res.statusCode ?? 0)
      res.resume()
      const error = Object.assign(new Error(`refused with ${res.statusCode ?? 0}`), { statusCode: res.statusCode })
      reject(error)
      ws.terminate()
    })
    ws.on('error', (error) => { reject(error) })
  })
  opened.catch(() => {})
  const closed = new Promise<{ code: number, reason: string }>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))
  })
  t.teardown(() => { if (ws.readyState !== WebSocket.CLOSED) ws.terminate() })
  return {
    ws,
    opened,
    closed,
    refusedWith,
    next (timeoutMs = 3000) {
      const frame = frames.shift()
      if (frame !== undefined) return Promise.resolve(frame)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.indexOf(waiter)
          if (i !== -1) waiters.splice(i, 1)
          reject(new Error(`no message within ${timeoutMs} ms`))
        }, timeoutMs)
        const waiter = (value: string | Buffer): void => { clearTimeout(timer); resolve(value) }
        waiters.push(waiter)
      })
    }
  }
}

async function connected (t: Test, port: number, url: string, protocols?: string[], options?: WebSocket.ClientOptions): Promise<Client> {
  const c = client(t, port, url, protocols, options)
  await c.opened
  return c
}

/** The server still accepts and serves a fresh client. */
async function serves (t: Test, port: number): Promise<void> {
  const c = await connected(t, port, '/echo/')
  const probe = `probe-${randomBytes(3).toString('hex')}`
  c.ws.send(probe)
  t.equal(await c.next(), `echo:${probe}`, 'the server still serves another client')
  c.ws.close(1000)
  t.equal((await c.closed).code, 1000)
}

/** Polls until `predicate()` holds (fails the test after `timeoutMs`). */
async function waitFor (t: Test, predicate: () => boolean, label: string, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting for: ${label}`)
      return false
    }
    await sleep(10)
  }
  return true
}

interface RawResponse { status: number, headers: Record<string, string>, rest: Buffer }

/** A raw TCP connection to the app; destroyed in teardown. */
async function rawSocket (t: Test, port: number): Promise<Socket> {
  const socket = netConnect({ port, host: '127.0.0.1' })
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  return socket
}

/** The handshake headers a client would send; `undefined` in `overrides` removes one. */
function handshakeHeaders (port: number, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const headers: Record<string, string | undefined> = {
    Host: `127.0.0.1:${port}`,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    ...overrides
  }
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>
}

/** Writes an HTTP request by hand and reads the response head. */
async function rawRequest (t: Test, port: number, url: string, headers: Record<string, string>): Promise<{ socket: Socket, response: RawResponse }> {
  const socket = await rawSocket(t, port)
  const head = `GET ${url} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
  const response = await new Promise<RawResponse>((resolve, reject) => {
    let buffered = Buffer.alloc(0)
    const timer = setTimeout(() => reject(new Error(`no response head within 5 s: ${JSON.stringify(buffered.toString('latin1'))}`)), 5000)
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) return
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.pause()
      const [statusLine, ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n')
      const parsed: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        if (colon > 0) parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers: parsed, rest: buffered.subarray(end + 4) })
    }
    const onEnd = (): void => {
      clearTimeout(timer)
      reject(new Error(`connection ended without a response head: ${JSON.stringify(buffered.toString('latin1'))}`))
    }
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.write(head)
  })
  return { socket, response }
}

/** A raw client that completed the WebSocket handshake by hand (paused: nothing read yet). */
async function rawWebsocket (t: Test, port: number, url: string, overrides: Record<string, string | undefined> = {}): Promise<{ socket: Socket, response: RawResponse }> {
  const result = await rawRequest(t, port, url, handshakeHeaders(port, overrides))
  t.equal(result.response.status, 101, `raw handshake to ${url} upgraded`)
  return result
}

/** A client-to-server frame (masked unless told otherwise). */
function frame (opcode: number, payload: Buffer, { fin = true, mask = true } = {}): Buffer {
  const length = payload.length
  let header: Buffer
  if (length < 126) {
    header = Buffer.from([0, length])
  } else if (length < 65536) {
    header = Buffer.alloc(4)
    header[1] = 126
    header.writeUInt16BE(length, 2)
  } else {
    header = Buffer.alloc(10)
    header[1] = 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  header[0] = (fin ? 0x80 : 0) | opcode
  if (!mask) return Buffer.concat([header, payload])
  header[1] |= 0x80
  const key = randomBytes(4)
  const masked = Buffer.from(payload)
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i % 4]
  return Buffer.concat([header, key, masked])
}

interface ServerFrame { opcode: number, payload: Buffer }

/** Parses the complete (unmasked) server frames at the start of `buffer`. */
function parseFrames (buffer: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = []
  let offset = 0
  while (buffer.length - offset >= 2) {
    const opcode = buffer[offset] & 0x0f
    let length = buffer[offset + 1] & 0x7f
    let start = offset + 2
    if (length === 126) {
      if (buffer.length < start + 2) break
      length = buffer.readUInt16BE(start)
      start += 2
    } else if (length === 127) {
      if (buffer.length < start + 8) break
      length = Number(buffer.readBigUInt64BE(start))
      start += 8
    }
    if (buffer.length < start + length) break
    frames.push({ opcode, payload: buffer.subarray(start, start + length) })
    offset = start + length
  }
  return frames
}

/** Everything a raw socket receives until it closes; resolves with the server frames in it. */
function collectUntilClose (socket: Socket, initial: Buffer = Buffer.alloc(0)): Promise<{ frames: ServerFrame[], bytes: number }> {
  let buffered = initial
  socket.on('data', (chunk: Buffer) => { buffered = Buffer.concat([buffered, chunk]) })
  socket.resume()
  return new Promise((resolve) => {
    socket.once('close', () => resolve({ frames: parseFrames(buffered), bytes: buffered.length }))
  })
}

function closeCodeOf (f: ServerFrame | undefined): number | undefined {
  return f !== undefined && f.opcode === 0x8 && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined
}

/** Log lines whose message or error mentions `text`. */
function linesMentioning (logs: LogCapture, text: string, minLevel = 0): Array<Record<string, any>> {
  return logs.lines.filter((line) => line.level >= minLevel && JSON.stringify(line).includes(text))
}

// ---------------------------------------------------------------- tests

t.test('a frame over maxPayload closes that connection with 1009; disconnect gets 1009; logged once', async (t) => {
  const logs = captureLogs()
  const disconnects: number[] = []
  const sizes: number[] = []
  class Sized extends AsyncWebsocketConsumer {
    override async receive ({ text }: IncomingFrame): Promise<void> {
      sizes.push(text?.length ?? -1)
      await this.send({ text: `got ${text?.length}` })
    }

    override async disconnect (code: number): Promise<void> { disconnects.push(code) }
  }
  const { port } = await listen(t, { websocket: { urlpatterns: [path('sized/', Sized.asHandler())], maxPayload: 1024 } }, undefined, logs)
  const c = await connected(t, port, '/sized/')
  c.ws.send('x'.repeat(1000))
  t.equal(await c.next(), 'got 1000', 'a frame under the limit is delivered')
  const before = logs.lines.length
  c.ws.send('y'.repeat(4096))
  const { code } = await c.closed
  t.equal(code, 1009, 'the client sees 1009 (message too big)')
  await waitFor(t, () => disconnects.length > 0, 'disconnect()')
  t.same(disconnects, [1009], "the consumer's disconnect gets 1009")
  t.same(sizes, [1000], 'the oversized frame never reached receive()')
  await sleep(50)
  const logged = logs.lines.slice(before).filter((line) => line.err !== undefined)
  t.equal(logged.length, 1, 'exactly one log line with the error')
  t.match(JSON.stringify(logged[0]), /payload|1009|MESSAGE_LENGTH/i, 'the line says what was wrong')
  t.notOk(logs.lines.some((line) => line.level >= 60), 'nothing fatal logged')
  await serves(t, port)
})

t.test('maxPayload applies to a raw client too, with a fragmented message', async (t) => {
  const disconnects: number[] = []
  class Sink extends AsyncWebsocketConsumer {
    override async disconnect (code: number): Promise<void> { disconnects.push(code) }
  }
  const { port } = await listen(t, { websocket: { urlpatterns: [path('sink/', Sink.asHandler())], maxPayload: 1024 } })
  const { socket, response } = await rawWebsocket(t, port, '/sink/')
  const done = collectUntilClose(socket, response.rest)
  // Two fragments of 700 bytes: each under the limit, the message over it.
  socket.write(frame(0x1, Buffer.alloc(700, 0x61), { fin: false }))
  socket.write(frame(0x0, Buffer.alloc(700, 0x62), { fin: true }))
  const { frames } = await done
  t.equal(closeCodeOf(frames.at(-1)), 1009, 'the server sent a close frame with 1009')
  await waitFor(t, () => disconnects.length > 0, 'disconnect()')
  t.equal(disconnects.length, 1)
  t.ok(disconnects[0] === 1009 || disconnects[0] === 1006, `disconnect got ${disconnects[0]} (1009, or 1006 when the raw peer never answered the close)`)
  await serves(t, port)
})

t.test('app.close() closes connected clients with 1001 and awaits every disconnect()', async (t) => {
  const started: string[] = []
  const finished: string[] = []
  class Slow extends AsyncWebsocketConsumer {
    override async disconnect (code: number): Promise<void> {
      const name = this.scope.query.get('n') ?? '?'
      started.push(name)
      await sleep(300)
      finished.push(`${name}:${code}`)
    }
  }
  const { app, port } = await listen(t, { websocket: { urlpatterns: [path('slow/', Slow.asHandler())] } })
  const clients = await Promise.all(['a', 'b', 'c'].map((n) => connected(t, port, `/slow/?n=${n}`)))
  const echo = await connected(t, port, '/echo/')
  const t0 = Date.now()
  await app.close()
  const took = Date.now() - t0
  t.same([...finished].sort(), ['a:1001', 'b:1001', 'c:1001'], 'every disconnect() completed (code 1001) before close() resolved')
  t.ok(took >= 250, `close() waited for the slow disconnects (${took} ms)`)
  t.ok(took < 10000, `and did not hang (${took} ms)`)
  for (const c of [...clients, echo]) {
    const { code } = await c.closed
    t.equal(code, 1001, 'the client saw 1001 (going away)')
  }
})

t.test('app.close() with a client that never answers the close still resolves, disconnect awaited', async (t) => {
  const finished: number[] = []
  class Slow extends AsyncWebsocketConsumer {
    override async disconnect (code: number): Promise<void> {
      await sleep(100)
      finished.push(code)
    }
  }
  const { app, port } = await listen(t, { websocket: { urlpatterns: [path('slow/', Slow.asHandler())] } })
  const { socket, response } = await rawWebsocket(t, port, '/slow/')
  const received = collectUntilClose(socket, response.rest)
  // The raw client reads but never sends a close frame back nor ends its side.
  socket.allowHalfOpen = true
  const t0 = Date.now()
  const closing = app.close()
  const outcome = await Promise.race([closing.then(() => 'closed'), sleep(5000).then(() => 'timeout')])
  t.equal(outcome, 'closed', `app.close() resolved (${Date.now() - t0} ms) despite a peer that never completes the close handshake`)
  t.same(finished.length, 1, 'its disconnect() ran')
  socket.destroy()
  const { frames } = await received
  t.equal(closeCodeOf(frames.find((f) => f.opcode === 0x8)), 1001, 'the raw client got a 1001 close frame')
})

t.test('pings: a peer that never answers is dropped and its disconnect runs; a live one stays', async (t) => {
  const gone: Array<[string, number]> = []
  class Watched extends AsyncWebsocketConsumer {
    override async disconnect (code: number): Promise<void> { gone.push([this.scope.query.get('n') ?? '?', code]) }
  }
  const { port } = await listen(t, { websocket: { urlpatterns: [path('watched/', Watched.asHandler())], pingInterval: 100 } })
  const live = await connected(t, port, '/watched/?n=live')
  let livePings = 0
  live.ws.on('ping', () => { livePings++ })
  const deaf = await connected(t, port, '/watched/?n=deaf', undefined, { autoPong: false })
  let deafPings = 0
  deaf.ws.on('ping', () => { deafPings++ })
  // A raw client: handshake done by hand, then reads and ignores everything.
  const raw = await rawWebsocket(t, port, '/watched/?n=raw')
  const rawClosed = collectUntilClose(raw.socket, raw.response.rest)

  const t0 = Date.now()
  await waitFor(t, () => gone.some(([n]) => n === 'deaf') && gone.some(([n]) => n === 'raw'), 'both silent peers dropped', 5000)
  t.ok(deafPings >= 1, `the silent ws client was pinged (${deafPings})`)
  const { code } = await deaf.closed
  t.equal(code, 1006, 'the silent client was cut off (1006: no close handshake)')
  const rawResult = await rawClosed
  t.ok(rawResult.frames.some((f) => f.opcode === 0x9), 'the raw client was sent pings')
  for (const [name, c] of gone) t.equal(c, 1006, `${name}: disconnect(1006)`)
  // Let several intervals pass for the live client.
  const elapsed = Date.now() - t0
  if (elapsed < 700) await sleep(700 - elapsed)
  t.equal(live.ws.readyState, WebSocket.OPEN, 'a client answering pings stays connected')
  t.ok(livePings >= 3, `across several intervals (${livePings} pings)`)
  t.notOk(gone.some(([n]) => n === 'live'), 'its consumer was not disconnected')
  live.ws.send('still here')
  await serves(t, port)
})

t.test('pingInterval 0 turns pings off', async (t) => {
  const { port } = await listen(t, { websocket: { urlpatterns: [], pingInterval: 0 } })
  const deaf = await connected(t, port, '/echo/', undefined, { autoPong: false })
  let pings = 0
  deaf.ws.on('ping', () => { pings++ })
  await sleep(300)
  t.equal(pings, 0)
  t.equal(deaf.ws.readyState, WebSocket.OPEN)
})

t.test('malformed handshakes get HTTP 400 before any consumer code runs', async (t) => {
  let constructed = 0
  let connects = 0
  class Counted extends AsyncWebsocketConsumer {
    constructor () {
      super()
      constructed++
    }

    override async connect (): Promise<void> {
      connects++
      await this.accept()
    }
  }
  const { port } = await listen(t, { websocket: { urlpatterns: [path('counted/', Counted.asHandler())] } })
  const probes = constructed // asHandler() may build one probe instance at setup time
  const cases: Array<[string, Record<string, string | undefined>]> = [
    ['a short Sec-WebSocket-Key', { 'Sec-WebSocket-Key': 'short' }],
    ['a key that is not 16 bytes of base64', { 'Sec-WebSocket-Key': randomBytes(15).toString('base64') }],
    ['a key with characters outside base64', { 'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!==' }],
    ['no Sec-WebSocket-Key', { 'Sec-WebSocket-Key': undefined }],
    ['Sec-WebSocket-Version 12', { 'Sec-WebSocket-Version': '12' }],
    ['Sec-WebSocket-Version 14', { 'Sec-WebSocket-Version': '14' }],
    ['no Sec-WebSocket-Version', { 'Sec-WebSocket-Version': undefined }],
    ['Upgrade: h2c', { Upgrade: 'h2c' }],
    ['no Upgrade header (Connection: Upgrade with the WebSocket headers)', { Upgrade: undefined }],
    ['Upgrade: websocket, h2c', { Upgrade: 'websocket, h2c' }],
    ['a duplicated subprotocol', { 'Sec-WebSocket-Protocol': 'chat, chat' }],
    ['an empty item in the subprotocol list', { 'Sec-WebSocket-Protocol': 'chat,,x' }],
    ['a subprotocol list ending in a comma', { 'Sec-WebSocket-Protocol': 'chat,' }],
    ['a space inside a subprotocol', { 'Sec-WebSocket-Protocol': 'a b' }],
    ['a separator in a subprotocol', { 'Sec-WebSocket-Protocol': 'a/b' }],
    ['malformed Sec-WebSocket-Extensions', { 'Sec-WebSocket-Extensions': 'permessage-deflate; =' }]
  ]
  for (const [label, overrides] of cases) {
    const { socket, response } = await rawRequest(t, port, '/counted/', handshakeHeaders(port, overrides))
    t.equal(response.status, 400, `${label} -> 400`)
    socket.destroy()
  }
  await sleep(50)
  t.equal(connects, 0, 'connect() never ran')
  t.equal(constructed, probes, 'no consumer was even created')
  // The hand-written handshake itself is fine once well-formed.
  const ok = await rawRequest(t, port, '/counted/', handshakeHeaders(port))
  t.equal(ok.response.status, 101, 'a well-formed raw handshake upgrades')
  t.match(ok.response.headers['sec-websocket-accept'], /^[+/0-9A-Za-z]{27}=$/)
  ok.socket.destroy()
  await serves(t, port)
})

t.test('garbage bytes after a valid handshake close that connection; disconnect runs; the server keeps serving', async (t) => {
  const logs = captureLogs()
  const disconnects: Array<[string, number]> = []
  class Victim extends AsyncWebsocketConsumer {
    override async disconnect (code: number): Promise<void> { disconnects.push([this.scope.query.get('n') ?? '?', code]) }
  }
  const { port } = await listen(t, { websocket: { urlpatterns: [path('victim/', Victim.asHandler())] } }, undefined, logs)
  const garbage: Array<[string, Buffer]> = [
    ['an HTTP request line', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['random bytes', Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0x00, 0x13, 0x37, 0x42])],
    ['an unmasked client frame', frame(0x1, Buffer.from('hello'), { mask: false })],
    ['a reserved opcode', frame(0x3, Buffer.from('x'))],
    ['a fragmented ping', frame(0x9, Buffer.from('p'), { fin: false })]
  ]
  for (const [label, bytes] of garbage) {
    const before = disconnects.length
    const { socket, response } = await rawWebsocket(t, port, `/victim/?n=${encodeURIComponent(label)}`)
    const done = collectUntilClose(socket, response.rest)
    socket.write(bytes)
    const outcome = await Promise.race([done, sleep(5000).then(() => undefined)])
    t.ok(outcome !== undefined, `${label}: the server closed the connection`)
    const code = closeCodeOf(outcome?.frames.find((f) => f.opcode === 0x8))
    t.ok(code === 1002 || code === undefined, `${label}: closed with 1002 (protocol error) or abruptly (got ${code})`)
    await waitFor(t, () => disconnects.length > before, `${label}: disconnect()`)
    t.equal(disconnects.length, before + 1, `${label}: disconnect() ran once`)
  }
  t.comment(`disconnect codes: ${JSON.stringify(disconnects)}`)
  await serves(t, port)
  t.notOk(logs.lines.some((line) => line.level >= 60), 'nothing fatal logged')
})

t.test('AsyncJsonWebsocketConsumer: binary -> 1003, invalid JSON -> 1007, invalid UTF-8 -> 1007', async (t) => {
  const logs = captureLogs()
  const disconnects: Array<[string, number]> = []
  const received: unknown[] = []
  class Json extends AsyncJsonWebsocketConsumer {
    override async receiveJson (content: unknown): Promise<void> {
      received.push(content)
      await this.sendJson({ echo: content })
    }

    override async disconnect (code: number): Promise<void> { disconnects.push([this.scope.query.get('n') ?? '?', code]) }
  }
  const { port } = await listen(t, { websocket: { urlpatterns: [path('json/', Json.asHandler())] } }, undefined, logs)

  const cases: Array<[string, (ws: WebSocket) => void, number]> = [
    ['binary', (ws) => ws.send(Buffer.from([1, 2, 3]), { binary: true }), 1003],
    ['badjson', (ws) => ws.send('{"unterminated": '), 1007],
    ['badutf8', (ws) => ws.send(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), { binary: false }), 1007],
    ['lonesurrogate', (ws) => ws.send(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), { binary: false }), 1007]
  ]
  for (const [name, send, expected] of cases) {
    const c = await connected(t, port, `/json/?n=${name}`)
    c.ws.send(JSON.stringify({ ok: name }))
    t.equal(await c.next(), JSON.stringify({ echo: { ok: name } }), `${name}: valid JSON first is echoed`)
    const before = logs.lines.length
    send(c.ws)
    const { code } = await c.closed
    t.equal(code, expected, `${name}: the client sees ${expected}`)
    await waitFor(t, () => disconnects.some(([n]) => n === name), `${name}: disconnect()`)
    t.same(disconnects.filter(([n]) => n === name), [[name, expected]], `${name}: disconnect(${expected}) ran once`)
    await sleep(30)
    const errorLines = logs.lines.slice(before).filter((line) => line.err !== undefined || line.level >= 50)
    t.ok(errorLines.length <= 1, `${name}: logged at most once (${errorLines.length})`)
  }
  t.same(received, [{ ok: 'binary' }, { ok: 'badjson' }, { ok: 'badutf8' }, { ok: 'lonesurrogate' }], 'only the valid messages reached receiveJson')
  await serves(t, port)
})

t.test('an unknown layer event type closes with 1011 and logs one error naming the type', async (t) => {
  const logs = captureLogs()
  const disconnects: number[] = []
  let channel: string | undefined
  class Listener extends AsyncWebsocketConsumer {
    override async connect (): Promise<void> {
      channel = this.channelName
      await this.accept()
    }

    async known (event: LayerMessage): Promise<void> { await this.send({ text: `known:${String(event.n)}` }) }

    override async disconnect (code: number): Promise<void> { disconnects.push(code) }
  }
  const { app, port } = await listen(t, { websocket: { urlpatterns: [path('listener/', Listener.asHandler())] } }, undefined, logs)
  const c = await connected(t, port, '/listener/')
  t.type(channel, 'string')
  await app.channelLayer.send(channel as string, { type: 'known', n: 1 })
  t.equal(await c.next(), 'known:1', 'a known type is dispatched')
  await app.channelLayer.send(channel as string, { type: 'no.handler' })
  const { code } = await c.closed
  t.equal(code, 1011, 'the client sees 1011')
  await waitFor(t, () => disconnects.length > 0, 'disconnect()')
  t.same(disconnects, [1011])
  await sleep(30)
  const errors = logs.lines.filter((line) => line.level >= 50)
  t.equal(errors.length, 1, 'one error logged')
  t.match(JSON.stringify(errors[0]), /no\.handler/, 'naming the type')
  await serves(t, port)
})

t.test('a consumer throwing in its handlers: 1011, logged, disconnect still runs, its groups are left', async (t) => {
  const logs = captureLogs()
  const layer = new InMemoryChannelLayer()
  const departed: Array<[string, number]> = []
  const channels: string[] = []
  class Thrower extends AsyncWebsocketConsumer {
    override groups = ['room']
    override async connect (): Promise<void> {
      channels.push(this.channelName)
      await this.accept()
    }

    override async receive (): Promise<void> { throw new Error('receive boom') }
    override async dispatch (): Promise<void> { throw new Error('dispatch boom') }
    override async disconnect (code: number): Promise<void> {
      departed.push([this.scope.query.get('n') ?? '?', code])
      throw new Error('disconnect boom')
    }
  }
  class Member extends AsyncWebsocketConsumer {
    override groups = ['room']
    async roomMessage (event: LayerMessage): Promise<void> { await this.send({ text: String(event.text) }) }
  }
  const { port } = await listen(t, {
    channelLayer: layer,
    websocket: { urlpatterns: [path('thrower/', Thrower.asHandler()), path('member/', Member.asHandler())] }
  }, undefined, logs)
  const member = await connected(t, port, '/member/')

  // receive() throws.
  const a = await connected(t, port, '/thrower/?n=a')
  a.ws.send('anything')
  t.equal((await a.closed).code, 1011, 'receive() throwing -> 1011')
  await waitFor(t, () => departed.length === 1, 'disconnect() after receive threw')
  t.same(departed, [['a', 1011]])

  // dispatch() throws on a group message; the other member still gets it.
  const b = await connected(t, port, '/thrower/?n=b')
  await layer.groupSend('room', { type: 'room.message', text: 'hi' })
  t.equal((await b.closed).code, 1011, 'dispatch() throwing -> 1011')
  t.equal(await member.next(), 'hi', 'the healthy member got the message')
  await waitFor(t, () => departed.length === 2, 'disconnect() after dispatch threw')
  t.same(departed, [['a', 1011], ['b', 1011]])
  await sleep(50)

  // The departed channels left 'room' even though disconnect() threw.
  await t.resolves(layer.groupSend('room', { type: 'room.message', text: 'after' }), 'groupSend after they left does not error')
  t.equal(await member.next(), 'after', 'the remaining member still receives')
  for (const channel of channels) {
    await t.rejects(layer.receive(channel, { signal: AbortSignal.timeout(150) }), `nothing was queued for departed ${channel}: not a member any more`)
  }

  const mentions = (text: string): number => linesMentioning(logs, text, 50).length
  t.equal(mentions('receive boom'), 1, 'the receive() error logged once')
  t.equal(mentions('dispatch boom'), 1, 'the dispatch() error logged once')
  t.equal(mentions('disconnect boom'), 2, 'each disconnect() error logged once')
  t.equal(member.ws.readyState, WebSocket.OPEN)
  await serves(t, port)
})

t.test('an abrupt TCP reset: disconnect(1006), no unhandled rejection, the server is fine', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const disconnects: Array<[string, number]> = []
  let channelOf: Record<string, string> = {}
  class Fragile extends AsyncWebsocketConsumer {
    override groups = ['fragile']
    override async connect (): Promise<void> {
      channelOf = { ...channelOf, [this.scope.query.get('n') ?? '?']: this.channelName }
      await this.accept()
    }

    override async receive ({ text }: IncomingFrame): Promise<void> { await this.send({ text: `ok:${text}` }) }
    async tick (event: LayerMessage): Promise<void> { await this.send({ text: 'x'.repeat(Number(event.size)) }) }
    override async disconnect (code: number): Promise<void> { disconnects.push([this.scope.query.get('n') ?? '?', code]) }
  }
  const { app, port } = await listen(t, { websocket: { urlpatterns: [path('fragile/', Fragile.asHandler())] } })

  // A ws client whose socket is reset mid-connection.
  const c = await connected(t, port, '/fragile/?n=ws')
  c.ws.send('1')
  t.equal(await c.next(), 'ok:1')
  ;(c.ws as unknown as { _socket: Socket })._socket.resetAndDestroy()
  await waitFor(t, () => disconnects.some(([n]) => n === 'ws'), 'disconnect() after the reset')
  t.same(disconnects, [['ws', 1006]])

  // A raw client reset halfway through a frame, while the server is sending to it.
  const raw = await rawWebsocket(t, port, '/fragile/?n=raw')
  raw.socket.resume()
  for (let i = 0; i < 20; i++) await app.channelLayer.groupSend('fragile', { type: 'tick', size: 64 * 1024 })
  raw.socket.write(frame(0x1, Buffer.alloc(1000, 0x61)).subarray(0, 500))
  raw.socket.resetAndDestroy()
  for (let i = 0; i < 20; i++) await app.channelLayer.groupSend('fragile', { type: 'tick', size: 64 * 1024 })
  await waitFor(t, () => disconnects.some(([n]) => n === 'raw'), 'disconnect() after the raw reset')
  t.same(disconnects, [['ws', 1006], ['raw', 1006]])

  // The group no longer names them: a send to their channels reaches nobody and errors nowhere.
  await app.channelLayer.groupSend('fragile', { type: 'tick', size: 1 })
  await sleep(100)
  t.same(unhandled, [], 'no unhandled rejection')
  t.equal(disconnects.length, 2, 'each disconnect() ran exactly once')
  await serves(t, port)
})

t.test('backpressure: a client that stops reading does not grow server memory without bound', async (t) => {
  const logs = captureLogs('warn')
  const disconnects: number[] = []
  let handled = 0
  class Flooded extends AsyncWebsocketConsumer {
    override groups = ['flood']
    async floodMessage (event: LayerMessage): Promise<void> {
      handled++
      await this.send({ text: event.text as string })
    }

    override async disconnect (code: number): Promise<void> { disconnects.push(code) }
  }
  const { app, port } = await listen(t, { websocket: { urlpatterns: [path('flood/', Flooded.asHandler())] } }, undefined, logs)
  const layer = app.channelLayer
  t.equal(layer.capacity, 100, 'default capacity')
  const { socket } = await rawWebsocket(t, port, '/flood/')
  socket.pause() // stops reading: the kernel buffers fill, then the server's

  const text = 'z'.repeat(10 * 1024)
  const deadline = Date.now() + 7000
  let sent = 0
  const target = 4000 // 40 MB, far more than any socket buffer plus `capacity` messages
  while (sent < target && Date.now() < deadline) {
    for (let i = 0; i < 50; i++) {
      await layer.groupSend('flood', { type: 'flood.message', text })
      sent++
    }
    await sleep(2)
  }
  await sleep(200)
  const drops = linesMentioning(logs, 'is full', 40).length
  const wss = (app as unknown as { websocketServer: { clients: Set<WebSocket> } }).websocketServer
  const buffered = Math.max(0, ...[...wss.clients].map((ws) => ws.bufferedAmount))
  const backlog = sent - drops - handled
  t.comment(`sent ${sent}, handled ${handled}, dropped ${drops}, still queued ${backlog}, server-side buffered ${buffered} bytes`)
  t.ok(sent >= 1000, `sent far more than capacity (${sent})`)
  t.ok(drops > 0, 'drops were logged (the warn line about a full channel)')
  t.ok(backlog <= layer.capacity + 1, `the consumer's backlog is bounded by capacity (${backlog})`)
  t.ok(backlog >= 0, 'every message is accounted for: handled, queued or dropped')
  t.ok(handled < sent, `the consumer did not push everything into a socket nobody reads (${handled} of ${sent})`)
  t.ok(buffered < 8 * 1024 * 1024, `ws's userland buffer stays bounded (${buffered} bytes)`)
  const warn = linesMentioning(logs, 'is full', 40)[0]
  t.equal(warn?.level, 40, 'the drop is a warn line')
  t.match(warn?.msg, /flood/, 'naming the group')

  // Others are served meanwhile, and the stuck client's departure frees everything.
  await serves(t, port)
  socket.destroy()
  await waitFor(t, () => disconnects.length === 1, "the stuck client's disconnect()")
  await serves(t, port)
})

t.test('subprotocols over real sockets', async (t) => {
  class PickB extends AsyncWebsocketConsumer {
    override async connect (): Promise<void> { await this.accept('b') }
  }
  class PickNone extends AsyncWebsocketConsumer {
    override async connect (): Promise<void> { await this.accept() }
  }
  class Offered extends AsyncWebsocketConsumer {
    override async connect (): Promise<void> {
      await this.accept(this.scope.subprotocols.at(-1))
      await this.send({ text: JSON.stringify(this.scope.subprotocols) })
    }
  }
  const { port } = await listen(t, {
    websocket: { urlpatterns: [path('b/', PickB.asHandler()), path('none/', PickNone.asHandler()), path('offered/', Offered.asHandler())] }
  })
  const b = await connected(t, port, '/b/', ['a', 'b'])
  t.equal(b.ws.protocol, 'b', "the client's protocol is the one the consumer accepted, not the first offered")

  // Nothing chosen: the 101 carries no Sec-WebSocket-Protocol (a browser then reports protocol '').
  // (The `ws` client itself refuses such a 101 when it offered protocols, so the bytes are checked by hand.)
  const raw = await rawWebsocket(t, port, '/none/', { 'Sec-WebSocket-Protocol': 'a, b' })
  t.equal(raw.response.headers['sec-websocket-protocol'], undefined, 'no subprotocol chosen: none in the 101')
  raw.socket.destroy()
  const plain = await connected(t, port, '/none/')
  t.equal(plain.ws.protocol, '', "client's protocol is ''")

  const offered = await connected(t, port, '/offered/', ['x', 'y'])
  t.equal(await offered.next(), JSON.stringify(['x', 'y']), 'scope.subprotocols lists what the client offered, in order')
  t.equal(offered.ws.protocol, 'y', 'the consumer may choose any offered one')
  await serves(t, port)
})

t.test('accept(subprotocol, headers): the headers are on the 101; the scope never holds a fragment', async (t) => {
  class Cookie extends AsyncWebsocketConsumer {
    override async connect (): Promise<void> {
      await this.accept(this.scope.subprotocols[0] ?? null, [['Set-Cookie', 'sessionid=abc; Path=/; HttpOnly'], ['Set-Cookie', 'csrftoken=x; Path=/'], ['X-Served-By', 'consumer']])
      await this.send({ text: JSON.stringify({ queryString: this.scope.queryString, path: this.scope.path }) })
    }
  }
  const { port } = await listen(t, { websocket: { urlpatterns: [path('cookie/', Cookie.asHandler())] } })
  const raw = await rawRequest(t, port, '/cookie/', handshakeHeaders(port, { 'Sec-WebSocket-Protocol': 'v1' }))
  t.equal(raw.response.status, 101)
  t.equal(raw.response.headers['x-served-by'], 'consumer', 'an extra header')
  t.equal(raw.response.headers['sec-websocket-protocol'], 'v1', 'with the chosen subprotocol')
  raw.socket.destroy()
  const upgradeHeaders = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/cookie/?b=2`)
    ws.once('upgrade', (response) => { resolve(response.headers); ws.close() })
    ws.once('error', reject)
  })
  t.same(upgradeHeaders['set-cookie'], ['sessionid=abc; Path=/; HttpOnly', 'csrftoken=x; Path=/'], 'both Set-Cookie headers, as a browser sees them')
  const c = await connected(t, port, '/cookie/?c=3')
  t.same(JSON.parse(String(await c.next())), { queryString: 'c=3', path: '/cookie/' })
  // A raw client may put a fragment in its request line: it never reaches the scope.
  const fragment = await rawWebsocket(t, port, '/cookie/?d=4#frag')
  let buffered = fragment.response.rest
  fragment.socket.resume()
  const first = await new Promise<ServerFrame>((resolve) => {
    const check = (): void => { const frames = parseFrames(buffered); if (frames.length > 0) resolve(frames[0]) }
    fragment.socket.on('data', (chunk: Buffer) => { buffered = Buffer.concat([buffered, chunk]); check() })
    check()
  })
  t.same(JSON.parse(first.payload.toString()), { queryString: 'd=4', path: '/cookie/' }, 'queryString without the fragment')
  fragment.socket.destroy()
  await serves(t, port)
})

t.test('refused before accept: close()/DenyConnection -> 403, connect() throwing -> 500; disconnect(1006) runs; groups left', async (t) => {
  const logs = captureLogs()
  const layer = new InMemoryChannelLayer()
  const disconnects: Array<[string, number]> = []
  const channels: Record<string, string> = {}
  function refusing (name: string, refuse: (consumer: AsyncWebsocketConsumer) => Promise<void>): typeof AsyncWebsocketConsumer<Record<string, unknown>> {
    return class extends AsyncWebsocketConsumer {
      override groups = ['refused', `refused-${name}`]
      override async connect (): Promise<void> {
        channels[name] = this.channelName
        await refuse(this)
      }

      override async disconnect (code: number): Promise<void> { disconnects.push([name, code]) }
    }
  }
  const Closer = refusing('close', (c) => c.close())
  const Closer4000 = refusing('close4000', (c) => c.close(4000))
  const Denier = refusing('deny', async () => { throw new DenyConnection() })
  const Crasher = refusing('crash', async () => { throw new Error('connect boom') })
  const { port } = await listen(t, {
    channelLayer: layer,
    websocket: {
      urlpatterns: [
        path('close/', Closer.asHandler()), path('close4000/', Closer4000.asHandler()),
        path('deny/', Denier.asHandler()), path('crash/', Crasher.asHandler())
      ]
    }
  }, undefined, logs)

  for (const [name, status] of [['close', 403], ['close4000', 403], ['deny', 403], ['crash', 500]] as const) {
    const c = client(t, port, `/${name}/`)
    const error = await c.opened.then(() => undefined, (e: { statusCode?: number }) => e)
    t.equal(await c.refusedWith, status, `${name}: 'unexpected-response' with ${status}`)
    t.equal(error?.statusCode, status, `${name}: the handshake failed with HTTP ${status}`)
    await waitFor(t, () => disconnects.some(([n]) => n === name), `${name}: disconnect()`)
    t.same(disconnects.filter(([n]) => n === name), [[name, 1006]], `${name}: disconnect(1006) ran once`)
  }
  await sleep(50)
  // Their class-level groups were left: a group send queues nothing for their channels.
  await layer.groupSend('refused', { type: 'anything' })
  for (const name of ['close', 'close4000', 'deny', 'crash']) {
    await layer.groupSend(`refused-${name}`, { type: 'anything' })
    await t.rejects(layer.receive(channels[name], { signal: AbortSignal.timeout(150) }), `${name}: its channel is in no group any more`)
  }
  t.equal(linesMentioning(logs, 'connect boom', 50).length, 1, 'the crash is logged once')
  await serves(t, port)
})

for (const order of ['before', 'after'] as const) {
  t.test(`Fastify hooks (added ${order} register) run on the upgrade: onRequest may refuse (401) before consumer code; preHandler sets scope.user`, async (t) => {
    let connects = 0
    class Who extends AsyncJsonWebsocketConsumer {
      override async connect (): Promise<void> {
        connects++
        await this.accept()
        await this.sendJson({ user: this.scope.user })
      }
    }
    const hooks = (app: FastifyInstance): void => {
      app.addHook('onRequest', async (request, reply) => {
        if (request.url.startsWith('/private/') && request.headers['x-token'] !== 'secret') {
          await reply.code(401).send({ error: 'token required' })
          return reply
        }
      })
      app.addHook('preHandler', async (request) => {
        (request as unknown as { user: unknown }).user = { name: 'alice', token: request.headers['x-token'] }
      })
    }
    const options = { websocket: { urlpatterns: [path('private/', Who.asHandler())] } }
    let served: Served
    if (order === 'before') {
      served = await listen(t, options, hooks)
    } else {
      // listen() registers then listens: add the hooks between the two by hand.
      const app = Fastify()
      const sockets = new Set<Socket>()
      app.server.on('connection', (socket: Socket) => { sockets.add(socket); socket.once('close', () => sockets.delete(socket)) })
      t.teardown(() => app.close())
      await app.register(asyncViews, { websocket: { urlpatterns: [path('echo/', Echo.asHandler()), ...options.websocket.urlpatterns] } })
      hooks(app)
      await app.listen({ port: 0, host: '127.0.0.1' })
      served = { app, port: (app.server.address() as { port: number }).port, sockets }
    }
    const { port, sockets } = served

    const anonymous = client(t, port, '/private/')
    t.equal(await anonymous.refusedWith, 401, 'no token: 401')
    const wrong = client(t, port, '/private/', undefined, { headers: { 'x-token': 'nope' } })
    t.equal(await wrong.refusedWith, 401, 'a wrong token: 401')
    await Promise.all([anonymous.closed, wrong.closed])
    await sleep(50)
    t.equal(connects, 0, 'no consumer code ran for refused requests')
    t.ok(await until(() => sockets.size === 0, 2000), `refused upgrades leave no socket open on the server (${sockets.size} still open)`)

    const alice = await connected(t, port, '/private/', undefined, { headers: { 'x-token': 'secret' } })
    t.same(JSON.parse(await alice.next() as string), { user: { name: 'alice', token: 'secret' } }, 'this.scope.user is what the preHandler set')
    t.equal(connects, 1)
    await serves(t, port)
    alice.ws.close()
    await alice.closed
    const t0 = Date.now()
    const closed = await Promise.race([served.app.close().then(() => true), sleep(4000).then(() => false)])
    t.ok(closed, `app.close() resolves after refused upgrades (${Date.now() - t0} ms)`)
  })
}
