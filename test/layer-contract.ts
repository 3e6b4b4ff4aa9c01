// One conformance suite for every channel layer backend (as mqemitter's
// abstractTest): test/layer-memory.test.ts and test/layer-redis.test.ts run it.
import type { Test } from 'tap'
import { ChannelFull, type ChannelLayer, type LayerOptions } from 'fastify-async-views'

export type MakeLayer = (options?: LayerOptions) => Promise<ChannelLayer>

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function receiveWithin (layer: ChannelLayer, channel: string, ms = 1000): Promise<unknown> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new Error('timeout')), ms)
  try {
    return await layer.receive(channel, { signal: controller.signal })
  } catch (error) {
    if ((error as Error)?.message === 'timeout') return 'TIMEOUT'
    throw error
  } finally {
    clearTimeout(timer)
  }
}

export function layerContract (t: Test, make: MakeLayer): void {
  const layerFor = async (t: Test, options?: LayerOptions): Promise<ChannelLayer> => {
    const layer = await make(options)
    t.teardown(async () => {
      await layer.flush().catch(() => {})
      await layer.close()
    })
    return layer
  }

  t.test('send and receive, in order', async (t) => {
    const layer = await layerFor(t)
    const channel = await layer.newChannel()
    await layer.send(channel, { type: 'test.one', n: 1 })
    await layer.send(channel, { type: 'test.two', n: 2 })
    t.same(await layer.receive(channel), { type: 'test.one', n: 1 })
    t.same(await layer.receive(channel), { type: 'test.two', n: 2 })
    const named = 'plain-channel.name_1'
    await layer.send(named, { type: 'x' })
    t.same(await layer.receive(named), { type: 'x' }, 'any valid name, not only newChannel()')
  })

  t.test('receive waits for a later send', async (t) => {
    const layer = await layerFor(t)
    const channel = await layer.newChannel()
    const pending = layer.receive(channel)
    await sleep(50)
    await layer.send(channel, { type: 'late' })
    t.same(await pending, { type: 'late' })
  })

  t.test('newChannel gives distinct valid names with the prefix', async (t) => {
    const layer = await layerFor(t)
    const a = await layer.newChannel()
    const b = await layer.newChannel()
    const c = await layer.newChannel('custom')
    t.not(a, b)
    t.match(a, /^specific\..+!.+$/)
    t.match(c, /^custom\..+!.+$/)
  })

  t.test('names and messages are validated', async (t) => {
    const layer = await layerFor(t)
    for (const name of ['', 'has space', 'ünïcode', 'a'.repeat(100), 'semi;colon', 42]) {
      await t.rejects(layer.send(name as string, { type: 'x' }), TypeError, `channel ${JSON.stringify(name)}`)
      await t.rejects(layer.groupAdd(name as string, 'ok'), TypeError, `group ${JSON.stringify(name)}`)
    }
    await t.rejects(layer.groupAdd('bad!group', 'ok'), TypeError, 'groups have no !')
    await t.resolves(layer.groupAdd('good-group', 'proc.abc!local'), 'channels may end in ! and a suffix')
    for (const message of [null, 'text', ['type'], {}, { type: 3 }, new Date(), new (class Msg { type = 'x' })()]) {
      await t.rejects(layer.send('ok', message as never), TypeError, `message ${JSON.stringify(message)}`)
      await t.rejects(layer.groupSend('ok', message as never), TypeError, `group message ${JSON.stringify(message)}`)
    }
  })

  t.test('a sent message is a copy', async (t) => {
    const layer = await layerFor(t)
    const channel = await layer.newChannel()
    const message = { type: 'copy', list: [1] }
    await layer.send(channel, message)
    message.list.push(2)
    t.same(await layer.receive(channel), { type: 'copy', list: [1] })
  })

  // Named channels: each holds its own messages. (In Redis, channels made by
  // newChannel() in one process share one key, and capacity applies to it.)
  t.test('capacity: send to a full channel raises ChannelFull', async (t) => {
    const layer = await layerFor(t, { capacity: 3 })
    const channel = `capacity.${Math.random().toString(36).slice(2)}`
    for (let i = 0; i < 3; i++) await layer.send(channel, { type: 'fill', i })
    await t.rejects(layer.send(channel, { type: 'over' }), ChannelFull)
    t.same(await layer.receive(channel), { type: 'fill', i: 0 })
    await t.resolves(layer.send(channel, { type: 'room again' }), 'a receive makes room')
  })

  t.test('groupSend reaches every member and skips full ones', async (t) => {
    const layer = await layerFor(t, { capacity: 2 })
    const full = `full.${Math.random().toString(36).slice(2)}`
    const free = `free.${Math.random().toString(36).slice(2)}`
    await layer.groupAdd('room', full)
    await layer.groupAdd('room', free)
    await layer.send(full, { type: 'a' })
    await layer.send(full, { type: 'b' })
    await layer.groupSend('room', { type: 'room.message', text: 'hi' })
    t.same(await layer.receive(free), { type: 'room.message', text: 'hi' })
    t.same(await layer.receive(full), { type: 'a' })
    t.same(await layer.receive(full), { type: 'b' })
    t.equal(await receiveWithin(layer, full, 200), 'TIMEOUT', 'the full member was skipped')
    await t.resolves(layer.groupSend('nobody-here', { type: 'x' }), 'an empty group is fine')
  })

  t.test('groupDiscard stops delivery; groupAdd twice is one membership', async (t) => {
    const layer = await layerFor(t)
    const channel = await layer.newChannel()
    await layer.groupAdd('g', channel)
    await layer.groupAdd('g', channel)
    await layer.groupSend('g', { type: 'once' })
    t.same(await layer.receive(channel), { type: 'once' })
    t.equal(await receiveWithin(layer, channel, 200), 'TIMEOUT', 'delivered once')
    await layer.groupDiscard('g', channel)
    await layer.groupSend('g', { type: 'gone' })
    t.equal(await receiveWithin(layer, channel, 200), 'TIMEOUT')
    await t.resolves(layer.groupDiscard('g', channel), 'discarding twice is fine')
  })

  t.test('a groupSend to more members than capacity reaches them all', async (t) => {
    const layer = await layerFor(t, { capacity: 5 })
    const channels = await Promise.all(Array.from({ length: 20 }, () => layer.newChannel()))
    for (const channel of channels) await layer.groupAdd('crowd', channel)
    await layer.groupSend('crowd', { type: 'crowd.message' })
    const received = await Promise.all(channels.map((channel) => receiveWithin(layer, channel)))
    t.ok(received.every((m) => (m as { type?: string }).type === 'crowd.message'), 'every member got it')
  })

  t.test('expiry: old messages are dropped', async (t) => {
    const layer = await layerFor(t, { expiry: 0.3 })
    const channel = await layer.newChannel()
    await layer.send(channel, { type: 'stale' })
    await sleep(450)
    await layer.send(channel, { type: 'fresh' })
    t.same(await layer.receive(channel), { type: 'fresh' })
  })

  t.test('groupExpiry: memberships lapse, groupAdd renews them', async (t) => {
    const layer = await layerFor(t, { groupExpiry: 0.4 })
    const lapsed = await layer.newChannel()
    const renewed = await layer.newChannel()
    await layer.groupAdd('short', lapsed)
    await layer.groupAdd('short', renewed)
    await sleep(250)
    await layer.groupAdd('short', renewed)
    await sleep(250)
    await layer.groupSend('short', { type: 'late' })
    t.same(await receiveWithin(layer, renewed), { type: 'late' }, 'renewed member still in')
    t.equal(await receiveWithin(layer, lapsed, 200), 'TIMEOUT', 'lapsed member gone')
  })

  t.test('an aborted receive leaves nothing behind and steals nothing', async (t) => {
    const layer = await layerFor(t)
    const channel = await layer.newChannel()
    const controller = new AbortController()
    const aborted = layer.receive(channel, { signal: controller.signal })
    controller.abort(new Error('gone'))
    await t.rejects(aborted, { message: 'gone' })
    await layer.send(channel, { type: 'for the next reader' })
    t.same(await layer.receive(channel), { type: 'for the next reader' })
    await t.rejects(layer.receive(channel, { signal: AbortSignal.abort(new Error('already')) }), { message: 'already' })
  })

  t.test('flush empties channels and groups', async (t) => {
    const layer = await layerFor(t)
    const channel = await layer.newChannel()
    await layer.send(channel, { type: 'gone' })
    await layer.groupAdd('flushed', channel)
    await layer.flush()
    await layer.groupSend('flushed', { type: 'nobody' })
    await layer.send(channel, { type: 'after' })
    t.same(await layer.receive(channel), { type: 'after' })
  })

  t.test('close: later operations fail clearly', async (t) => {
    const layer = await make()
    const channel = await layer.newChannel()
    await layer.close()
    await t.rejects(layer.send(channel, { type: 'x' }), /closed/i)
    await t.resolves(layer.close(), 'closing twice is fine')
  })
}
