import t from 'tap'
import type { Test } from 'tap'
import WebSocket from 'ws'
import { startExample } from './helpers.ts'

type Frame = Record<string, unknown>

interface Client {
  /** The next JSON frame from the server (rejects after `ms`). */
  next (ms?: number): Promise<Frame>
  /** Resolves if no frame arrives within `ms`. */
  nothing (ms?: number): Promise<void>
  send (data: unknown): void
  /** Resolves with the close code once the server closes. */
  closed: Promise<number>
}

/** A `ws` client in `room`, opened and past its own `user.joined` event. */
async function join (t: Test, base: string, room: string, user: string): Promise<Client> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/chat/${room}/?user=${user}`)
  const frames: Frame[] = []
  let waiter: (() => void) | undefined
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()))
    waiter?.()
  })
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  t.teardown(async () => {
    if (ws.readyState !== WebSocket.CLOSED) ws.close()
    await closed
  })
  const arrival = (ms: number): Promise<boolean> => new Promise((resolve) => {
    const timer = setTimeout(() => { waiter = undefined; resolve(false) }, ms)
    waiter = () => { clearTimeout(timer); waiter = undefined; resolve(true) }
  })
  const client: Client = {
    async next (ms = 5000) {
      if (frames.length === 0 && !await arrival(ms)) throw new Error(`${user}: no frame within ${ms} ms`)
      return frames.shift() as Frame
    },
    async nothing (ms = 300) {
      if (frames.length > 0 || await arrival(ms)) throw new Error(`${user}: unexpected frame ${JSON.stringify(frames[0])}`)
    },
    send (data) { ws.send(typeof data === 'string' ? data : JSON.stringify(data)) },
    closed
  }
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  t.same(await client.next(), { type: 'user.joined', user }, `${user} sees themself join ${room}`)
  return client
}

const announce = (base: string, path: string, body: string): Promise<Response> =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })

t.test('the chat example: rooms, announcements, bad input and the page', async (t) => {
  const base = await startExample(t, 'examples/chat/server.ts')

  const alice = await join(t, base, 'kitchen', 'alice')
  const bob = await join(t, base, 'kitchen', 'bob')
  t.same(await alice.next(), { type: 'user.joined', user: 'bob' }, 'alice sees bob join')
  const carol = await join(t, base, 'garden', 'carol')

  t.test('a message reaches its room, and only its room', async (t) => {
    alice.send({ text: 'Hello, kitchen' })
    const message = { type: 'chat.message', user: 'alice', text: 'Hello, kitchen' }
    t.same(await bob.next(), message)
    t.same(await alice.next(), message, 'the sender gets it too (group_send reaches every member)')
    await carol.nothing()
  })

  t.test('the announce view reaches the room through the channel layer', async (t) => {
    const response = await announce(base, '/rooms/kitchen/announce/', '{"text":"Dinner is ready"}')
    t.equal(response.status, 202)
    t.same(await response.json(), { delivered: true })
    const frame = { type: 'chat.announcement', text: 'Dinner is ready' }
    t.same(await alice.next(), frame)
    t.same(await bob.next(), frame)
    await carol.nothing()
  })

  t.test('POST /announce/ reaches every room (the class-level lobby group)', async (t) => {
    const response = await announce(base, '/announce/', '{"text":"Closing soon"}')
    t.equal(response.status, 202)
    const frame = { type: 'chat.announcement', text: 'Closing soon' }
    for (const client of [alice, bob, carol]) t.same(await client.next(), frame)
  })

  t.test('the announce view refuses bad input', async (t) => {
    t.equal((await announce(base, '/rooms/kitchen/announce/', '{"text":""}')).status, 400)
    t.equal((await announce(base, '/rooms/kitchen/announce/', 'not json')).status, 400)
    t.equal((await announce(base, '/rooms/a%20b/announce/', '{"text":"hi"}')).status, 404, 'a room name the layer refuses')
    t.equal((await fetch(`${base}/rooms/kitchen/announce/`)).status, 405, 'requirePOST')
    await alice.nothing()
  })

  t.test('bad input gets an error frame and the connection stays usable', async (t) => {
    for (const bad of [{}, { text: 42 }, { text: '   ' }, { text: 'x'.repeat(2001) }, 'just a string', null, [1, 2]]) {
      alice.send(bad === 'just a string' ? JSON.stringify(bad) : bad)
      const frame = await alice.next()
      t.equal(frame.type, 'error', `${JSON.stringify(bad).slice(0, 30)} -> error frame`)
      t.match(frame.error, /"text"/)
    }
    await bob.nothing(100)
    alice.send({ text: 'still here' })
    t.same(await bob.next(), { type: 'chat.message', user: 'alice', text: 'still here' })
    t.same(await alice.next(), { type: 'chat.message', user: 'alice', text: 'still here' })
  })

  t.test('a frame that is not JSON closes with 1007, as in Channels', async (t) => {
    const dave = await join(t, base, 'kitchen', 'dave')
    for (const client of [alice, bob]) t.same(await client.next(), { type: 'user.joined', user: 'dave' })
    dave.send('{not json')
    t.equal(await dave.closed, 1007)
    for (const client of [alice, bob]) t.same(await client.next(), { type: 'user.left', user: 'dave' }, 'the room is told dave left')
    alice.send({ text: 'dave left' })
    t.same(await bob.next(), { type: 'chat.message', user: 'alice', text: 'dave left' }, 'the room goes on')
    t.same(await alice.next(), { type: 'chat.message', user: 'alice', text: 'dave left' })
  })

  t.test('a room name the layer cannot hold is refused at the handshake', async (t) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/chat/a%20b/`)
    ws.on('error', () => {}) // terminate() below aborts the handshake with an error.
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
      ws.once('open', () => reject(new Error('connected')))
    })
    t.equal(status, 403)
  })

  t.test('GET / is the chat page', async (t) => {
    const response = await fetch(`${base}/`)
    t.equal(response.status, 200)
    t.match(response.headers.get('content-type'), /^text\/html/)
    const html = await response.text()
    for (const id of ['user', 'room', 'join', 'status', 'messages', 'text', 'send']) t.match(html, `id="${id}"`)
  })
})
