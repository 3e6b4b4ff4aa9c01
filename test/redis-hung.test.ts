// A Redis that stops answering (SIGSTOP: connections open, nothing read) must
// not make sends hang, and a send that was refused must never be delivered
// when Redis wakes up (at most once). On a redis-server of our own, never :6379.
import t from 'tap'
import Fastify from 'fastify'
import asyncViews, { path, AsyncJsonWebsocketConsumer, RedisChannelLayer, ChannelLayerUnavailable, type LayerMessage } from 'fastify-async-views'
import { WebsocketCommunicator } from 'fastify-async-views/testing'
import { ownRedis } from './fixtures/redis/own-redis.ts'
import { sleep } from './helpers.ts'

const redis = await ownRedis(t)
if (redis === undefined) process.exit(0)
const server = redis
let run = 0
const uniquePrefix = (): string => `test-hung-${process.pid}-${++run}`

t.test('commandTimeout defaults to a few seconds and is checked', async (t) => {
  const layer = new RedisChannelLayer({ url: server.url })
  t.equal(layer.commandTimeout, 3000)
  await layer.close()
  for (const bad of [0, -1, 'soon', Infinity]) t.throws(() => new RedisChannelLayer({ url: server.url, commandTimeout: bad as number }), TypeError, `commandTimeout ${String(bad)}`)
})

t.test('a hung Redis: sends fail within commandTimeout, and none is delivered after it wakes', async (t) => {
  const received: string[] = []
  class Room extends AsyncJsonWebsocketConsumer {
    override groups = ['hung-room']
    async roomMessage (event: LayerMessage): Promise<void> {
      received.push(String(event.text))
      await this.sendJson({ text: event.text })
    }
  }
  const commandTimeout = 1000
  const app = Fastify()
  t.teardown(async () => {
    server.resume()
    await app.close()
  })
  await app.register(asyncViews, {
    channelLayer: { backend: 'redis', url: server.url, prefix: uniquePrefix(), commandTimeout },
    websocket: { urlpatterns: [path('ws/room/', Room.asHandler())] }
  })
  await app.ready()
  const layer = app.channelLayer
  const client = new WebsocketCommunicator(app, '/ws/room/')
  t.teardown(() => client.disconnect())
  t.equal((await client.connect()).connected, true)
  await layer.groupSend('hung-room', { type: 'room.message', text: 'before' })
  t.same(await client.receiveJsonFrom(3000), { text: 'before' }, 'delivered before the hang')
  received.length = 0

  // A worker's receive on a named channel, waiting across the hang.
  const jobs: unknown[] = []
  const worker = (async () => {
    for (;;) {
      try {
        jobs.push((await layer.receive('hung.jobs')).n)
      } catch {
        return
      }
    }
  })()

  server.pause()
  const started = Date.now()
  const attempts = Array.from({ length: 200 }, async (_, i) => {
    const call = i % 2 === 0
      ? layer.groupSend('hung-room', { type: 'room.message', text: `during ${i}` })
      : layer.send('hung.jobs', { type: 'job', n: i })
    try {
      await call
      return { ok: true, ms: Date.now() - started, error: undefined as Error | undefined }
    } catch (error) {
      return { ok: false, ms: Date.now() - started, error: error as Error }
    }
  })
  const outcomes = await Promise.race([Promise.all(attempts), sleep(commandTimeout + 4000).then(() => undefined)])
  t.ok(outcomes !== undefined, 'every send settled while Redis was still hung')
  if (outcomes !== undefined) {
    t.equal(outcomes.filter((o) => o.ok).length, 0, 'none of the 200 succeeded')
    t.ok(outcomes.every((o) => o.error instanceof ChannelLayerUnavailable), 'each rejected with ChannelLayerUnavailable')
    const slowest = Math.max(...outcomes.map((o) => o.ms))
    t.ok(slowest < commandTimeout + 1500, `the slowest rejected after ${slowest} ms (commandTimeout ${commandTimeout} ms)`)
    t.match(String(outcomes[0].error?.message), server.url, 'the error names the server')
    t.match(String(outcomes[0].error?.message), /did not answer within 1000 ms/, 'and says it did not answer in time')
  }
  await sleep(500)
  server.resume()
  // Redis now reads and runs everything that waited in its sockets.
  await sleep(2500)
  t.same(received, [], 'no rejected groupSend reached the consumer after Redis woke up')
  t.same(jobs, [], 'no rejected send reached the waiting receive after Redis woke up')
  t.ok(await client.receiveNothing(300), 'the client got nothing')

  await layer.groupSend('hung-room', { type: 'room.message', text: 'after' })
  t.same(await client.receiveJsonFrom(3000), { text: 'after' }, 'sends work again after Redis woke up')
  await layer.send('hung.jobs', { type: 'job', n: 'after' })
  await sleep(300)
  t.same(jobs, ['after'], 'the waiting receive resumed and got the next job')
  await app.close()
  await worker
})

t.test('connecting to a hung Redis fails within commandTimeout', async (t) => {
  server.pause()
  t.teardown(() => { server.resume() })
  const layer = new RedisChannelLayer({ url: server.url, prefix: uniquePrefix(), commandTimeout: 500 })
  t.teardown(() => layer.close())
  const started = Date.now()
  const error = await layer.connect().catch((e: unknown) => e) as Error
  const took = Date.now() - started
  t.type(error, ChannelLayerUnavailable, 'connect() rejects with ChannelLayerUnavailable')
  t.ok(took < 2500, `within the bound (${took} ms, commandTimeout 500 ms)`)
  server.resume()
})
