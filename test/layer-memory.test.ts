import t from 'tap'
import { InMemoryChannelLayer } from 'fastify-async-views'
import { layerContract } from './layer-contract.ts'
import { heapAfterGc } from './fault-helpers.ts'

layerContract(t, async (options) => new InMemoryChannelLayer(options))

t.test('options are checked', async (t) => {
  t.throws(() => new InMemoryChannelLayer({ capacity: 0 }), TypeError)
  t.throws(() => new InMemoryChannelLayer({ expiry: -1 }), TypeError)
  t.throws(() => new InMemoryChannelLayer({ groupExpiry: 0 }), TypeError)
  t.match(new InMemoryChannelLayer(), { capacity: 100, expiry: 60, groupExpiry: 86400 })
})

t.test('a receive waiting when the layer closes is rejected', async (t) => {
  const layer = new InMemoryChannelLayer()
  const pending = layer.receive(await layer.newChannel())
  await layer.close()
  await t.rejects(pending, { name: 'ChannelLayerUnavailable' })
})

// Messages to channels nobody reads any more, and groups whose members all
// lapsed, are reclaimed without further traffic (a sweep on an unref'd timer).
t.test('expired messages and lapsed groups are reclaimed without further traffic', async (t) => {
  const heap = heapAfterGc
  const layer = new InMemoryChannelLayer({ expiry: 0.2, groupExpiry: 0.2 })
  t.teardown(() => layer.close())
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = heap()
  const body = 'x'.repeat(1024)
  for (let i = 0; i < 20_000; i++) await layer.send(`departed.${i}`, { type: 'orphan', body: `${i}${body}` })
  for (let i = 0; i < 5_000; i++) await layer.groupAdd(`group-${i}`, `member.${i}`)
  const filled = heap()
  t.ok(filled - before > 20 * 1024 * 1024, `20k messages of 1 KB are held while fresh (+${Math.round((filled - before) / 1048576)} MB)`)
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, timersBefore, 'the sweep timer does not keep the process alive (unref)')
  const deadline = Date.now() + 5000
  let after = heap()
  while (after - before > 3 * 1024 * 1024 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    after = heap()
  }
  t.ok(after - before < 3 * 1024 * 1024, `after expiry, with no further traffic, they are reclaimed (+${Math.round((after - before) / 1024)} KB left)`)
  t.equal(await Promise.race([layer.receive('departed.7').then(() => 'got'), new Promise((resolve) => setTimeout(resolve, 100, 'nothing'))]), 'nothing', 'the expired messages are gone')
})
