// receive() on the Redis layer: one long-lived reader per named channel (not a
// connection per call), and another process's process-local channel refused.
// Connections are counted on a redis-server of our own (the shared :6379 is untouched).
import t from 'tap'
import { RedisChannelLayer } from 'fastify-async-views'
import { cli, ownRedis } from './fixtures/redis/own-redis.ts'
import { sleep } from './helpers.ts'

const redis = await ownRedis(t)
if (redis === undefined) process.exit(0)
const server = redis
let run = 0
const uniquePrefix = (): string => `test-receive-${process.pid}-${++run}`

/** Connections the server has accepted so far (INFO stats), not counting the redis-cli asking. */
let asked = 0
async function connectionsReceived (): Promise<number> {
  const info = await cli(server.port, 'info', 'stats')
  return Number(/total_connections_received:(\d+)/.exec(info)?.[1]) - ++asked
}

async function connectedClients (): Promise<number> {
  const info = await cli(server.port, 'info', 'clients')
  return Number(/connected_clients:(\d+)/.exec(info)?.[1]) - 1
}

t.test('a worker loop on a named channel reuses one reader connection', async (t) => {
  const layer = new RedisChannelLayer({ url: server.url, prefix: uniquePrefix() })
  t.teardown(() => layer.close())
  await layer.connect()
  const before = await connectionsReceived()
  const got: unknown[] = []
  for (let i = 0; i < 50; i++) {
    await layer.send('jobs.named', { type: 'job', i })
    got.push((await layer.receive('jobs.named')).i)
  }
  t.same(got, Array.from({ length: 50 }, (_, i) => i), '50 jobs, in order')
  const made = await connectionsReceived() - before
  t.ok(made <= 1, `50 receive() calls made ${made} connection(s), not one each`)

  // Two receives waiting at once on the same channel: served in order, by the same reader.
  const first = layer.receive('jobs.named')
  const second = layer.receive('jobs.named')
  await layer.send('jobs.named', { type: 'job', i: 'a' })
  await layer.send('jobs.named', { type: 'job', i: 'b' })
  t.same([(await first).i, (await second).i], ['a', 'b'], 'concurrent receives are served first come, first served')
  t.ok(await connectionsReceived() - before <= 1, 'still one reader connection')
})

t.test('aborted receives leave no connection behind and steal nothing', async (t) => {
  const layer = new RedisChannelLayer({ url: server.url, prefix: uniquePrefix() })
  t.teardown(() => layer.close())
  await layer.connect()
  const idle = await connectedClients()
  for (let i = 0; i < 20; i++) {
    const controller = new AbortController()
    const pending = layer.receive('jobs.aborted', { signal: controller.signal })
    await sleep(5)
    controller.abort(new Error('left'))
    await t.rejects(pending, { message: 'left' })
  }
  await sleep(1500)
  const open = await connectedClients()
  t.ok(open <= idle + 1, `after 20 aborted receives: ${open - idle} extra connection(s) (at most the channel's one reader)`)
  await layer.send('jobs.aborted', { type: 'kept' })
  t.same(await layer.receive('jobs.aborted'), { type: 'kept' }, 'the next receive gets the next message')
  await layer.close()
  await sleep(200)
  t.equal(await connectedClients(), 0, 'close() ends the reader')
})

t.test("receive() of another process's process-local channel is refused at once", async (t) => {
  const prefix = uniquePrefix()
  const owner = new RedisChannelLayer({ url: server.url, prefix })
  const thief = new RedisChannelLayer({ url: server.url, prefix })
  t.teardown(() => owner.close())
  t.teardown(() => thief.close())
  await owner.connect()
  await thief.connect()
  const channel = await owner.newChannel()
  for (const name of [channel, 'not-client-prefix!local_part']) {
    const started = Date.now()
    const error = await thief.receive(name).catch((e: unknown) => e) as Error
    t.type(error, TypeError, `${name}: refused with a TypeError`)
    t.match(error?.message, /another process/, `${name}: the message says why`)
    t.ok(Date.now() - started < 500, `${name}: at once`)
  }
  for (let i = 0; i < 10; i++) await owner.send(channel, { type: 'mine', i })
  const got = []
  for (let i = 0; i < 10; i++) got.push((await owner.receive(channel)).i)
  t.same(got, Array.from({ length: 10 }, (_, i) => i), 'the owner gets all 10 of its messages')
})
