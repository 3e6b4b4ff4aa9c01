// The Redis channel layer when Redis is not there, goes away, comes back, and
// when the app closes. Destructive steps run on redis-servers of our own on
// free ports (test/fixtures/redis/own-redis.ts); the shared :6379 is untouched.
import t from 'tap'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { RedisChannelLayer, ChannelLayerUnavailable, type LayerMessage } from 'fastify-async-views'
import { WebsocketCommunicator } from 'fastify-async-views/testing'
import { sleep } from './helpers.ts'
import { roomApp, timed } from './fault-helpers.ts'
import { clientCount, freePort, ownRedis } from './fixtures/redis/own-redis.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/redis/close-app.mjs', import.meta.url))
let run = 0
const uniquePrefix = (): string => `test-faults-${process.pid}-${++run}`

/** Runs the fixture; `lines` yields its JSON lines, `exited` its exit code and the time of exit. */
function runFixture (args: string[], hold = false): { child: ReturnType<typeof spawn>, next: (timeoutMs?: number) => Promise<any>, exited: Promise<{ code: number | null, signal: string | null, at: number }>, output: () => string } {
  const child = spawn(process.execPath, [FIXTURE, ...args], { stdio: [hold ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<{ code: number | null, signal: string | null, at: number }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })))
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async (timeoutMs = 10000): Promise<any> => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`fixture said nothing within ${timeoutMs} ms; stderr:\n${output}`)), timeoutMs) })
    try {
      const { value, done } = await Promise.race([lines.next(), timeout])
      if (done === true) throw new Error(`fixture ended its output; stderr:\n${output}`)
      output += `${value as string}\n`
      return JSON.parse(value as string)
    } finally {
      clearTimeout(timer)
    }
  }
  return { child, next, exited, output: () => output }
}

t.test('Redis not reachable at start', async (t) => {
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`

  // In a child process: a failed register that left a reconnecting client behind
  // would otherwise keep this test process alive.
  t.test('register() rejects promptly with an error naming the URL; after app.close() the process exits by itself', async (t) => {
    const fixture = runFixture([url, uniquePrefix(), '--unreachable'])
    t.teardown(() => { if (fixture.child.exitCode === null) fixture.child.kill('SIGKILL') })
    const rejected = await fixture.next()
    t.equal(rejected.step, 'rejected', 'register rejects')
    t.ok(rejected.ms < 3000, `rejected within 3 s (took ${String(rejected.ms)} ms)`)
    t.match(String(rejected.message), url, 'the message names the URL')
    t.comment(`register rejected after ${String(rejected.ms)} ms: ${String(rejected.message)}`)
    const closed = await fixture.next()
    t.equal(closed.step, 'closed', 'app.close() resolved in the child')
    const closedAt = Date.now()
    const exit = await Promise.race([fixture.exited, sleep(5000).then(() => undefined)])
    t.ok(exit !== undefined, `the child exited by itself within 5 s of app.close() (${exit === undefined ? 'still running after 5 s: the layer that failed to connect keeps reconnecting' : `${exit.at - closedAt} ms`})`)
    if (exit !== undefined) t.equal(exit.code, 0, 'exit code 0')
  })

  t.test('a RedisChannelLayer: send rejects with ChannelLayerUnavailable naming the URL, and so does every later call', async (t) => {
    const layer = new RedisChannelLayer({ url, prefix: uniquePrefix() })
    t.teardown(() => layer.close())
    for (const [name, call] of [
      ['send', () => layer.send('faults.channel', { type: 'x' })],
      ['a second send', () => layer.send('faults.channel', { type: 'x' })],
      ['connect', () => layer.connect()],
      ['groupSend', () => layer.groupSend('faults-group', { type: 'x' })],
      ['groupAdd', () => layer.groupAdd('faults-group', 'faults.channel')]
    ] as const) {
      const { ms, error } = await timed((call as () => Promise<unknown>)(), 5000)
      t.type(error, ChannelLayerUnavailable, `${name} rejects with ChannelLayerUnavailable (got: ${String(error?.message ?? 'no error')})`)
      t.match(String(error?.message), url, `${name}: the message names the URL`)
      t.ok(ms < 3000, `${name} rejected within 3 s (took ${ms} ms)`)
    }
  })
})

t.test('a Redis restart under a running app', async (t) => {
  const redis = await ownRedis(t)
  if (redis === undefined) return
  const url = redis.url
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })

  const { app, alice, bob } = await roomApp(t, { backend: 'redis', url, prefix: uniquePrefix() })
  const layer = app.channelLayer

  // A receive on a normal channel, waiting across the whole outage.
  let waitingResult: LayerMessage | undefined
  let waitingError: unknown
  const waiting = layer.receive('faults.waiting').then((message) => { waitingResult = message }, (error: unknown) => { waitingError = error })
  await sleep(300)
  const connectionsBefore = await clientCount(redis.port)
  t.comment(`connections to the own Redis before the outage: ${connectionsBefore}`)

  await redis.stop()

  const tryAll = async (label: string): Promise<void> => {
    for (const [name, call] of [
      ['send', () => layer.send('faults.other', { type: 'room.message', text: `during ${label}` })],
      ['groupSend', () => layer.groupSend('room', { type: 'room.message', text: `during ${label}` })],
      ['groupAdd', () => layer.groupAdd('room-two', 'faults.member')]
    ] as const) {
      const { ms, error } = await timed((call as () => Promise<unknown>)(), 5000)
      t.type(error, ChannelLayerUnavailable, `${label}: ${name} rejects with ChannelLayerUnavailable (got: ${String(error?.message ?? 'no error')})`)
      t.match(String(error?.message), url, `${label}: ${name}'s error names the URL`)
      t.ok(ms < 2000, `${label}: ${name} rejected within 2 s (took ${ms} ms)`)
    }
  }
  await tryAll('just after the stop')
  await sleep(1500)
  await tryAll('1.5 s into the outage')

  t.equal(alice.closeCode, undefined, 'alice stays connected during the outage')
  t.equal(bob.closeCode, undefined, 'bob stays connected during the outage')
  t.equal(waitingResult, undefined, 'the waiting receive got nothing')
  t.equal(waitingError, undefined, 'the waiting receive did not reject')

  await redis.start()

  // Redis came back empty: a groupSend reaches both only once the memberships are re-added.
  const got = { alice: [] as string[], bob: [] as string[] }
  const drain = async (who: 'alice' | 'bob', c: WebsocketCommunicator): Promise<void> => {
    for (;;) {
      try {
        got[who].push((await c.receiveJsonFrom(50)).text)
      } catch {
        return
      }
    }
  }
  const started = Date.now()
  let attempts = 0
  while (Date.now() - started < 10000) {
    attempts++
    await layer.groupSend('room', { type: 'room.message', text: 'after' }).catch(() => {})
    await sleep(200)
    await drain('alice', alice)
    await drain('bob', bob)
    if (got.alice.includes('after') && got.bob.includes('after')) break
  }
  t.comment(`groupSend reached both consumers ${Date.now() - started} ms after the restart (attempt ${attempts})`)
  t.ok(got.alice.includes('after'), 'alice gets a groupSend after the restart (membership re-added)')
  t.ok(got.bob.includes('after'), 'bob gets a groupSend after the restart (membership re-added)')
  t.notOk([...got.alice, ...got.bob].some((text) => text.startsWith('during')), 'nothing sent during the outage turns up later')

  // The receive started before the outage gets a message sent after the restart.
  await layer.send('faults.waiting', { type: 'late', n: 1 })
  await Promise.race([waiting, sleep(5000)])
  t.same(waitingResult, { type: 'late', n: 1 }, 'the receive waiting across the outage got the message sent after it')
  t.equal(waitingError, undefined, 'and did not reject')

  t.equal(alice.closeCode, undefined, 'alice still connected')
  t.equal(bob.closeCode, undefined, 'bob still connected')

  // Reconnecting must not leave extra connections behind (a reader retrying during the
  // outage must not leak a client that keeps reconnecting).
  await sleep(1500)
  const connectionsAfter = await clientCount(redis.port)
  t.comment(`connections to the own Redis after the restart: ${connectionsAfter} (before the outage: ${connectionsBefore}; the waiting receive has ended since)`)
  t.ok(connectionsAfter <= connectionsBefore, `no connection leaked across the outage (${connectionsAfter} now, ${connectionsBefore} before)`)

  t.same(unhandled.map(String), [], 'no unhandled rejection')

  await alice.disconnect()
  await bob.disconnect()
  await app.close()
  let left = await clientCount(redis.port)
  for (let i = 0; i < 20 && left > 0; i++) {
    await sleep(100)
    left = await clientCount(redis.port)
  }
  t.equal(left, 0, 'app.close() after the outage ends every connection, those made while reconnecting included')
})

t.test('app.close() ends every Redis connection', async (t) => {
  const redis = await ownRedis(t)
  if (redis === undefined) return

  t.test('counted on the server: connections are gone after app.close(), and the process exits by itself', async (t) => {
    const before = await clientCount(redis.port)
    t.equal(before, 0, 'no connection before the child starts')
    const fixture = runFixture([redis.url, uniquePrefix(), '--hold'], true)
    t.teardown(() => { if (fixture.child.exitCode === null) fixture.child.kill('SIGKILL') })
    const received = await fixture.next()
    t.same(received, { step: 'received', connected: true, received: { text: 'hello' } }, 'the consumer got a group message')
    const open = await clientCount(redis.port)
    t.ok(open >= 1, `the child holds connections while running (${open})`)
    fixture.child.stdin?.write('close\n')
    const closed = await fixture.next()
    t.same(closed, { step: 'closed', closeCode: 1001 }, 'app.close() closed the consumer with 1001')
    let after = await clientCount(redis.port)
    for (let i = 0; i < 20 && after > 0; i++) {
      await sleep(100)
      after = await clientCount(redis.port)
    }
    t.comment(`connections on the own Redis: before ${before}, while running ${open}, after app.close() ${after}`)
    t.equal(after, 0, 'every connection is gone after app.close() (the process is still alive)')
    fixture.child.stdin?.end()
    const endedAt = Date.now()
    const exit = await Promise.race([fixture.exited, sleep(5000).then(() => undefined)])
    t.ok(exit !== undefined, `the child exited by itself within 5 s (${exit === undefined ? 'still running' : `${exit.at - endedAt} ms`})`)
    if (exit !== undefined) t.equal(exit.code, 0, 'exit code 0')
  })

  t.test('without help from stdin: app.close(), then the process exits by itself', async (t) => {
    const fixture = runFixture([redis.url, uniquePrefix()])
    t.teardown(() => { if (fixture.child.exitCode === null) fixture.child.kill('SIGKILL') })
    t.same(await fixture.next(), { step: 'received', connected: true, received: { text: 'hello' } }, 'the consumer got a group message')
    t.same(await fixture.next(), { step: 'closed', closeCode: 1001 }, 'app.close() closed the consumer with 1001')
    const closedAt = Date.now()
    const exit = await Promise.race([fixture.exited, sleep(5000).then(() => undefined)])
    t.ok(exit !== undefined, `the child exited by itself within 5 s of app.close() (${exit === undefined ? 'still running' : `${exit.at - closedAt} ms`})`)
    if (exit !== undefined) t.equal(exit.code, 0, 'exit code 0')
    t.equal(await clientCount(redis.port), 0, 'no connection left on the server')
  })
})
