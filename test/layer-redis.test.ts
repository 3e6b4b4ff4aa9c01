import t from 'tap'
import { RedisChannelLayer } from 'fastify-async-views'
import { layerContract } from './layer-contract.ts'
import { redisAvailable, REDIS_URL } from './redis-helpers.ts'
import { ownRedis } from './fixtures/redis/own-redis.ts'

if (await redisAvailable(t)) {
  let run = 0
  t.test('the contract on Redis', async (t) => {
    layerContract(t, async (options) => {
      const layer = new RedisChannelLayer({ url: REDIS_URL, prefix: `test-contract-${process.pid}-${++run}`, ...options })
      await layer.connect()
      return layer
    })
  })

  // Two processes whose clocks disagree (or agree to the millisecond): what Redis
  // took first pops first, on a named channel, a process channel and through groupSend.
  t.test('FIFO across senders, whatever their clocks say', async (t) => {
    const prefix = `test-fifo-${process.pid}-${++run}`
    const one = new RedisChannelLayer({ url: REDIS_URL, prefix })
    const two = new RedisChannelLayer({ url: REDIS_URL, prefix })
    const reader = new RedisChannelLayer({ url: REDIS_URL, prefix })
    for (const layer of [one, two, reader]) {
      t.teardown(() => layer.close())
      await layer.connect()
    }
    t.teardown(() => reader.flush())
    const local = await reader.newChannel()
    await reader.groupAdd('fifo-group', local)
    const realNow = Date.now
    const sendLate = async (fn: () => Promise<void>): Promise<void> => {
      // Process two's clock runs 5 s behind: its scores alone would put it first.
      Date.now = () => realNow() - 5000
      try { await fn() } finally { Date.now = realNow }
    }
    for (let i = 0; i < 3; i++) {
      await one.send('fifo.named', { type: 'm', n: `one-${i}` })
      await sendLate(() => two.send('fifo.named', { type: 'm', n: `two-${i}` }))
      await one.send(local, { type: 'm', n: `one-${i}` })
      await sendLate(() => two.send(local, { type: 'm', n: `two-${i}` }))
    }
    await one.groupSend('fifo-group', { type: 'm', n: 'group-one' })
    await sendLate(() => two.groupSend('fifo-group', { type: 'm', n: 'group-two' }))
    const order = ['one-0', 'two-0', 'one-1', 'two-1', 'one-2', 'two-2']
    const named = []
    for (let i = 0; i < 6; i++) named.push((await reader.receive('fifo.named')).n)
    t.same(named, order, 'a named channel')
    const onLocal = []
    for (let i = 0; i < 8; i++) onLocal.push((await reader.receive(local)).n)
    t.same(onLocal, [...order, 'group-one', 'group-two'], 'a process channel, then two group messages')
  })

  // Redis < 7 has no BZMPOP: readers fall back to BZPOPMIN + ZPOPMIN.
  t.test('the contract on a Redis without BZMPOP', async (t) => {
    const server = await ownRedis(t, ['--rename-command', 'BZMPOP', ''])
    if (server === undefined) return
    layerContract(t, async (options) => {
      const layer = new RedisChannelLayer({ url: server.url, prefix: `test-legacy-${++run}`, ...options })
      await layer.connect()
      return layer
    })
  })
}
