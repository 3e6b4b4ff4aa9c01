import t from 'tap'
import { InMemoryChannelLayer } from 'fastify-async-views'
import { layerContract } from './layer-contract.ts'

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
