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

  // One codec for both layers: a message arrives as the same value on either
  // layer, through send and groupSend, to a named or a process channel.
  const payload = (): { type: string, [key: string]: unknown } => ({
    type: 'payload.check',
    bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
    buffer: Buffer.from('a Buffer arrives as a Uint8Array'),
    view: new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 4),
    empty: new Uint8Array(0),
    when: new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
    invalidDate: new Date(Number.NaN),
    nested: { a: [1, [2, [3, { b: 'deep' }]]], c: { d: { e: null } }, f: [true, false] },
    unicode: 'ünïcödé, 中文, עברית, emoji 😀👩‍👩‍👧, combining é, a lone surrogate \ud800 and \u0000',
    numbers: [0, -0, 1.5, -1e-300, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, Number.NaN, Infinity, -Infinity],
    big: 12345678901234567890n,
    nothing: null,
    skipped: undefined,
    holes: [1, undefined, 3],
    '~': 'a key the codec uses itself',
    tagLike: { '~': ['d', 0] }
  })

  function checkPayload (t: Test, got: Record<string, any>, label: string): void {
    const bytesOf = (value: unknown): number[] | string => value instanceof Uint8Array ? [...value] : `not bytes: ${Object.prototype.toString.call(value)}`
    for (const key of ['bytes', 'buffer', 'view', 'empty']) {
      t.equal(Object.getPrototypeOf(got[key]), Uint8Array.prototype, `${label}: ${key} arrives as a plain Uint8Array`)
    }
    t.same(bytesOf(got.bytes), [0, 1, 2, 253, 254, 255], `${label}: bytes`)
    t.equal(Buffer.from(got.buffer).toString(), 'a Buffer arrives as a Uint8Array', `${label}: a Buffer's bytes`)
    t.same(bytesOf(got.view), [8, 7, 6], `${label}: only the bytes of a view`)
    t.equal(got.view.byteOffset === 0 && got.view.buffer.byteLength === 3, true, `${label}: bytes own their ArrayBuffer (no shared pool)`)
    t.same(bytesOf(got.empty), [], `${label}: empty bytes`)
    t.ok(got.when instanceof Date, `${label}: a Date arrives as a Date`)
    t.equal(got.when.toISOString(), '2024-02-29T12:34:56.789Z', `${label}: the same instant`)
    t.ok(got.invalidDate instanceof Date && Number.isNaN(got.invalidDate.getTime()), `${label}: an invalid Date stays invalid`)
    t.strictSame(got.nested, { a: [1, [2, [3, { b: 'deep' }]]], c: { d: { e: null } }, f: [true, false] }, `${label}: nested`)
    t.equal(got.unicode, 'ünïcödé, 中文, עברית, emoji 😀👩‍👩‍👧, combining é, a lone surrogate \ud800 and \u0000', `${label}: unicode`)
    t.equal(got.numbers.length, 9, `${label}: numbers`)
    const expected = [0, -0, 1.5, -1e-300, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, Number.NaN, Infinity, -Infinity]
    expected.forEach((n, i) => { t.ok(Object.is(got.numbers[i], n), `${label}: number ${String(Object.is(n, -0) ? '-0' : n)}`) })
    t.equal(got.big, 12345678901234567890n, `${label}: BigInt`)
    t.equal(got.nothing, null, `${label}: null`)
    t.notOk('skipped' in got, `${label}: an undefined property is left out (as in JSON)`)
    t.strictSame(got.holes, [1, null, 3], `${label}: an undefined array item becomes null (as in JSON)`)
    t.equal(got['~'], 'a key the codec uses itself', `${label}: any key`)
    t.strictSame(got.tagLike, { '~': ['d', 0] }, `${label}: data that looks like the codec's own`)
    t.equal(Object.getPrototypeOf(got), Object.prototype, `${label}: a plain object`)
  }

  t.test('payload fidelity: bytes, Date, nested, unicode, numbers, through send and groupSend', async (t) => {
    const layer = await layerFor(t)
    const local = await layer.newChannel()
    const named = `payload.${Math.random().toString(36).slice(2)}`
    for (const channel of [local, named]) {
      await layer.send(channel, payload())
      checkPayload(t, await layer.receive(channel) as Record<string, any>, `send to ${channel === local ? 'a process' : 'a named'} channel`)
      await layer.groupAdd('payload-group', channel)
    }
    await layer.groupSend('payload-group', payload())
    checkPayload(t, await layer.receive(local) as Record<string, any>, 'groupSend, process channel')
    checkPayload(t, await layer.receive(named) as Record<string, any>, 'groupSend, named channel')
  })

  t.test('payload fidelity: large messages', async (t) => {
    const layer = await layerFor(t)
    const channel = await layer.newChannel()
    const text = 'x€😀'.repeat(100_000)
    const bytes = new Uint8Array(300_000).map((_, i) => i * 7)
    const list = Array.from({ length: 20_000 }, (_, i) => ({ i, s: `item ${i}` }))
    await layer.send(channel, { type: 'large', text, bytes, list })
    const got = await layer.receive(channel) as Record<string, any>
    t.equal(got.text, text, 'a 1 MB string')
    t.ok(got.bytes instanceof Uint8Array && Buffer.compare(Buffer.from(got.bytes), Buffer.from(bytes)) === 0, '300 KB of bytes')
    t.strictSame(got.list, list, '20,000 objects')
  })

  t.test('refused payloads: the same TypeError from send and groupSend, nothing delivered', async (t) => {
    const layer = await layerFor(t)
    const channel = await layer.newChannel()
    await layer.groupAdd('refused-group', channel)
    class Point { x = 1; y = 2; norm (): number { return Math.hypot(this.x, this.y) } }
    class Bare { x = 1 }
    const circular: Record<string, unknown> = { type: 'circular' }
    circular.self = circular
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a function', { type: 'x', callback: () => 1 }, /cannot carry a function \(at message\.callback\)/],
      ['a symbol', { type: 'x', list: [1, Symbol('s')] }, /cannot carry a symbol \(at message\.list\[1\]\)/],
      ['a Map', { type: 'x', map: new Map([[1, 2]]) }, /cannot carry a Map/],
      ['a Set', { type: 'x', deep: { set: new Set([1]) } }, /cannot carry a Set \(at message\.deep\.set\)/],
      ['a class instance with methods', { type: 'x', point: new Point() }, /cannot carry a Point/],
      ['a class instance without methods', { type: 'x', bare: new Bare() }, /cannot carry a Bare/],
      ['a RegExp', { type: 'x', re: /x/ }, /cannot carry a RegExp/],
      ['an Error', { type: 'x', error: new Error('e') }, /cannot carry a Error/],
      ['a Float32Array', { type: 'x', floats: new Float32Array(2) }, /Float32Array \(bytes travel as a Uint8Array\)/],
      ['an ArrayBuffer', { type: 'x', raw: new ArrayBuffer(2) }, /ArrayBuffer \(bytes travel as a Uint8Array\)/],
      ['a boxed string', { type: 'x', boxed: Object('s') }, /cannot carry a String/],
      ['a circular reference', circular, /nested deeper than 256 levels \(a circular reference\?\)/]
    ]
    for (const [label, message, error] of cases) {
      let sendError: unknown
      let groupError: unknown
      await layer.send(channel, message as never).catch((e: unknown) => { sendError = e })
      await layer.groupSend('refused-group', message as never).catch((e: unknown) => { groupError = e })
      t.type(sendError, TypeError, `${label}: send throws a TypeError`)
      t.match((sendError as Error)?.message, error, `${label}: send's message names it`)
      t.equal((groupError as Error)?.message, (sendError as Error)?.message, `${label}: groupSend throws the same error`)
      t.type(groupError, TypeError)
    }
    t.equal(await receiveWithin(layer, channel, 200), 'TIMEOUT', 'nothing was delivered')
  })

  t.test('each receiver gets an immutable event: one cannot change what another sees', async (t) => {
    const layer = await layerFor(t)
    const [one, two] = [await layer.newChannel(), await layer.newChannel()]
    await layer.groupAdd('immutable', one)
    await layer.groupAdd('immutable', two)
    await layer.groupSend('immutable', { type: 'shared', list: [1, 2], nested: { n: 1 }, bytes: new Uint8Array([1, 2]), when: new Date(0) })
    const first = await layer.receive(one) as Record<string, any>
    t.throws(() => { first.type = 'changed' }, TypeError, 'the message is frozen')
    t.throws(() => { first.list.push(3) }, TypeError, 'its arrays are frozen')
    t.throws(() => { first.nested.n = 2 }, TypeError, 'its objects are frozen')
    // Bytes and Dates cannot be frozen: each receiver has its own.
    first.bytes[0] = 99
    first.when.setTime(1000)
    const second = await layer.receive(two) as Record<string, any>
    t.strictSame({ type: second.type, list: second.list, nested: second.nested }, { type: 'shared', list: [1, 2], nested: { n: 1 } }, 'the other receiver sees the message as sent')
    t.same([...second.bytes], [1, 2], "another receiver's bytes are its own")
    t.equal(second.when.getTime(), 0, "another receiver's Date is its own")
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

  // channels_redis' channel_capacity: name patterns (globs, or RegExps) to capacities, first match wins.
  t.test('channelCapacity: per-channel capacities by name pattern', async (t) => {
    const layer = await layerFor(t, { capacity: 4, channelCapacity: [['tiny.*', 2], [/^roomy\./, 6], ['tiny.or.roomy', 6]] })
    const id = Math.random().toString(36).slice(2)
    const tiny = `tiny.${id}`
    const roomy = `roomy.${id}`
    const plain = `plain.${id}`
    const local = await layer.newChannel('tiny')
    for (const [channel, capacity] of [[tiny, 2], [roomy, 6], [plain, 4], [local, 2], ['tiny.or.roomy', 2]] as const) {
      for (let i = 0; i < capacity; i++) await layer.send(channel, { type: 'fill', i })
      await t.rejects(layer.send(channel, { type: 'over' }), ChannelFull, `${channel}: full at ${capacity}`)
    }
    // groupSend skips only the members that are full by their own capacity.
    const more = `tiny.more.${id}`
    const big = `roomy.more.${id}`
    await layer.groupAdd('capacities', more)
    await layer.groupAdd('capacities', big)
    for (let i = 0; i < 4; i++) await layer.groupSend('capacities', { type: 'group', i })
    const drain = async (channel: string): Promise<unknown[]> => {
      const got: unknown[] = []
      for (;;) {
        const message = await receiveWithin(layer, channel, 200)
        if (message === 'TIMEOUT') return got
        got.push((message as { i: number }).i)
      }
    }
    t.same(await drain(more), [0, 1], 'a tiny member got 2 of 4')
    t.same(await drain(big), [0, 1, 2, 3], 'a roomy member got all 4')
    const Layer = layer.constructor as new (options: Record<string, unknown>) => ChannelLayer
    for (const bad of [{ channelCapacity: { 'x.*': 0 } }, { channelCapacity: [['x', 1.5]] }, { channelCapacity: 'x' }, { channelCapacity: [[42, 1]] }]) {
      t.throws(() => new Layer(bad), TypeError, `refused: ${JSON.stringify(bad)}`)
    }
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
    // Once this process reads its channels (a receive ran), messages wait here, not in the backend: they expire all the same.
    await layer.send(channel, { type: 'stale too' })
    await sleep(450)
    await layer.send(channel, { type: 'fresh too' })
    t.same(await layer.receive(channel), { type: 'fresh too' }, 'a message that waited in this process expires too')
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
