import t from 'tap'
import { RedisChannelLayer, type LocalReceiver } from 'fastify-async-views'
import { layerContract } from './layer-contract.ts'
import { redisAvailable, REDIS_URL } from './redis-helpers.ts'
import { ownRedis } from './fixtures/redis/own-redis.ts'

// The layers' push fast path (lib/channels/layer.ts), a registered symbol.
const kSubscribe = Symbol.for('fastify-async-views.layer.subscribe')

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

  // What our consumers use: receivers registered per channel, pushed to by the
  // process's reader. A group's member list repeats message after message, so
  // the reader resolves it to receivers once: a receiver that leaves or comes
  // (with the list in Redis unchanged) must still be seen at the next message.
  t.test('process receivers follow subscriptions, message after message', async (t) => {
    const prefix = `test-receivers-${process.pid}-${++run}`
    const warnings: unknown[] = []
    const reader = new RedisChannelLayer({ url: REDIS_URL, prefix, capacity: 5, log: { warn: (obj) => { warnings.push(obj) }, error: () => {} } })
    const sender = new RedisChannelLayer({ url: REDIS_URL, prefix })
    for (const layer of [reader, sender]) {
      t.teardown(() => layer.close())
      await layer.connect()
    }
    t.teardown(() => reader.flush())
    const subscribe = (reader as unknown as Record<symbol, (channel: string, receiver: LocalReceiver) => () => void>)[kSubscribe]
    const receiver = (): LocalReceiver & { got: unknown[], backlog: number } => {
      const got: unknown[] = []
      return { got, backlog: 0, deliver (message) { got.push(message.n) } }
    }
    const [one, two] = [await reader.newChannel(), await reader.newChannel()]
    const first = receiver()
    const second = receiver()
    subscribe.call(reader, one, first)
    const leave = subscribe.call(reader, two, second)
    await reader.groupAdd('receivers', one)
    await reader.groupAdd('receivers', two)
    const until = async (check: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5000
      while (!check()) {
        if (Date.now() > deadline) throw new Error('not delivered in 5 s')
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
    for (const n of [1, 2]) {
      await sender.groupSend('receivers', { type: 'm', n })
      await until(() => first.got.length === n)
    }
    await until(() => second.got.length === 2)
    t.same([first.got, second.got], [[1, 2], [1, 2]], 'both members, twice')
    leave()
    await sender.groupSend('receivers', { type: 'm', n: 3 })
    await until(() => first.got.length === 3)
    t.same(second.got, [1, 2], 'a receiver that left gets nothing, though its channel is still in the group')
    const third = receiver()
    subscribe.call(reader, two, third)
    await sender.groupSend('receivers', { type: 'm', n: 4 })
    await until(() => third.got.length === 1)
    t.same([first.got, second.got, third.got], [[1, 2, 3, 4], [1, 2], [4]], 'a new receiver for the channel gets the next message')
    first.backlog = 5
    await sender.groupSend('receivers', { type: 'm', n: 5 })
    await until(() => third.got.length === 2)
    t.same(first.got, [1, 2, 3, 4], 'a full receiver is skipped')
    t.same(warnings, [{ channel: one }], 'and the drop is reported, naming its channel')
  })
}
