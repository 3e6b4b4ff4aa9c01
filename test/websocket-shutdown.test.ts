// Clients that vanish during the handshake, and app.close() with consumers
// that never finish: disconnect() runs for every started consumer whatever
// the moment its client left, and closing is bounded (websocket.closeTimeout).
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { connect as netConnect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import asyncViews, { path, AsyncWebsocketConsumer, InMemoryChannelLayer, type ChannelLayer, type LocalReceiver } from 'fastify-async-views'
import { sleep } from './helpers.ts'
import { contractOnly, heapAfterGc, until } from './fault-helpers.ts'

const kSubscribe = Symbol.for('fastify-async-views.layer.subscribe')

/** A real in-memory layer that counts what is held in it: memberships and subscriptions. */
function countingLayer (): { layer: ChannelLayer, memberships: Set<string>, subscriptions: () => number } {
  const inner = new InMemoryChannelLayer({ capacity: 100 })
  const memberships = new Set<string>()
  let subscribed = 0
  const layer = Object.assign(contractOnly(inner, {
    groupAdd: async (group, channel) => { memberships.add(`${group}|${channel}`); await inner.groupAdd(group, channel) },
    groupDiscard: async (group, channel) => { memberships.delete(`${group}|${channel}`); await inner.groupDiscard(group, channel) }
  }), {
    [kSubscribe] (channel: string, receiver: LocalReceiver) {
      subscribed++
      const leave = (inner as unknown as Record<symbol, (c: string, r: LocalReceiver) => () => void>)[kSubscribe](channel, receiver)
      return () => { subscribed--; leave() }
    }
  })
  return { layer, memberships, subscriptions: () => subscribed }
}

async function listen (t: Test, app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** Sends a WebSocket handshake by hand; the socket is returned unread. */
async function handshake (port: number, url: string): Promise<Socket> {
  const socket = netConnect({ port, host: '127.0.0.1' })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  socket.write(`GET ${url} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`)
  return socket
}

/** app.close(), raced against `capMs`: 'hung' if it had not resolved by then. */
async function closeWithin (app: FastifyInstance, capMs: number): Promise<number | 'hung'> {
  const started = Date.now()
  const closing = app.close()
  closing.catch(() => {})
  const outcome = await Promise.race([closing.then(() => 'closed' as const), sleep(capMs).then(() => 'hung' as const)])
  return outcome === 'hung' ? 'hung' : Date.now() - started
}

t.test('a client that resets while connect() runs: disconnect(1006) runs, groups are left, app.close() does not hang', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const calls: string[] = []
  class Slow extends AsyncWebsocketConsumer {
    override groups = ['slow']
    override async connect (): Promise<void> {
      calls.push('connect')
      await gate
      await this.channelLayer.groupAdd('joined-in-connect', this.channelName)
      try {
        await this.accept()
        calls.push('accepted')
      } catch (error) {
        calls.push(`accept failed: ${(error as Error).message}`)
        throw error
      }
    }

    override async disconnect (code: number): Promise<void> {
      calls.push(`disconnect ${code}`)
      await this.channelLayer.groupDiscard('joined-in-connect', this.channelName)
    }
  }
  const { layer, memberships, subscriptions } = countingLayer()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, { channelLayer: layer, websocket: { urlpatterns: [path('slow/', Slow.asHandler())] } })
  const port = await listen(t, app)
  const socket = await handshake(port, '/slow/')
  t.ok(await until(() => calls.length === 1, 5000), 'connect() started')
  socket.resetAndDestroy()
  await sleep(100)
  release()
  t.ok(await until(() => calls.some((c) => c.startsWith('disconnect')), 5000), 'disconnect() ran')
  t.same(calls, ['connect', 'accept failed: The client went away during the handshake', 'disconnect 1006'], 'accept() failed at once, then disconnect(1006)')
  t.same([...memberships], [], 'every group was left (the class groups and the one joined in connect)')
  t.equal(subscriptions(), 0, 'its channel no longer receives')
  const took = await closeWithin(app, 8000)
  t.not(took, 'hung', `app.close() resolved (${String(took)} ms)`)
  t.same(unhandled, [], 'no unhandled rejection')
})

t.test('2,000 clients that reset during connect() leave no consumer, membership or heap behind', async (t) => {
  const heap = heapAfterGc
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const COUNT = 2000
  let release!: () => void
  let gate = new Promise<void>((resolve) => { release = resolve })
  let started = 0
  let finished = 0
  class Crowd extends AsyncWebsocketConsumer {
    override groups = ['crowd']
    override async connect (): Promise<void> {
      started++
      await gate
      await this.channelLayer.groupAdd('crowd-in-connect', this.channelName)
      await this.accept().catch(() => {})
    }

    override async disconnect (): Promise<void> {
      await this.channelLayer.groupDiscard('crowd-in-connect', this.channelName)
      finished++
    }
  }
  const { layer, memberships, subscriptions } = countingLayer()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, { channelLayer: layer, websocket: { urlpatterns: [path('crowd/', Crowd.asHandler())] } })
  const port = await listen(t, app)

  // One round first, so lazily built things (routes, caches, JIT) do not count as a leak.
  const round = async (count: number): Promise<void> => {
    const before = started
    const sockets: Socket[] = []
    for (let i = 0; i < count; i += 100) {
      sockets.push(...await Promise.all(Array.from({ length: Math.min(100, count - i) }, async () => await handshake(port, '/crowd/'))))
    }
    t.ok(await until(() => started - before === count, 30000), `${count} consumers in connect() (${started - before})`)
    for (const socket of sockets) socket.resetAndDestroy()
    await sleep(200)
    release()
    t.ok(await until(() => finished === started, 30000), `every disconnect() ran (${finished} of ${started})`)
    gate = new Promise<void>((resolve) => { release = resolve })
  }
  await round(100)
  const baseline = heap()
  await round(COUNT)
  t.equal(finished, COUNT + 100, 'as many disconnect() as connect()')
  t.same([...memberships], [], 'no membership left')
  t.equal(subscriptions(), 0, 'no subscription left')
  await sleep(200)
  const grown = heap() - baseline
  // Leaking them costs ~18 MB (measured before the fix).
  t.ok(grown < 8 * 1024 * 1024, `the heap is back (+${Math.round(grown / 1024)} KB after ${COUNT} clients)`)
  const took = await closeWithin(app, 8000)
  t.not(took, 'hung', `app.close() resolved (${String(took)} ms)`)
  t.same(unhandled, [], 'no unhandled rejection')
})

t.test('app.close() is bounded by websocket.closeTimeout, logs whom it gave up on, and the process exits', async (t) => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/websocket/hung-close.mjs', import.meta.url)), '700'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<{ code: number | null, at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const steps: Array<Record<string, any>> = []
  const lines = createInterface({ input: child.stdout })
  lines.on('line', (line) => { steps.push(JSON.parse(line)) })
  t.ok(await until(() => steps.some((s) => s.step === 'closed') || child.exitCode !== null, 15000), `app.close() resolved in the child\n${stderr}`)
  const closed = steps.find((s) => s.step === 'closed')
  t.ok(closed !== undefined && closed.ms < 700 + 2500, `within closeTimeout (700 ms) and a margin: ${String(closed?.ms)} ms`)
  const gaveUp = steps.filter((s) => s.step === 'log' && /gave up/.test(s.line.msg))
  t.equal(gaveUp.length, 1, 'one log line says it gave up')
  t.match(gaveUp[0]?.line.msg, /StuckInConnect/, 'naming the consumer stuck in connect()')
  t.match(gaveUp[0]?.line.msg, /StuckInDisconnect/, 'and the one stuck in disconnect()')
  t.match(gaveUp[0]?.line.msg, /\/stuck\/connect\//, 'with their paths')
  const closedAt = Date.now()
  const exit = await Promise.race([exited, sleep(5000).then(() => undefined)])
  t.ok(exit !== undefined, `the process exited by itself (${exit === undefined ? 'still running after 5 s' : `${exit.at - closedAt} ms after close`})`)
  if (exit !== undefined) t.equal(exit.code, 0, 'exit code 0')
})
