// Nothing from the WebSocket upgrade path may become an unhandled rejection,
// whatever a layer rejects with and whatever the logger does with it.
import t from 'tap'
import Fastify from 'fastify'
import asyncViews, { path, AsyncWebsocketConsumer, InMemoryChannelLayer } from 'fastify-async-views'
import { WebsocketCommunicator } from 'fastify-async-views/testing'
import { captureLogs, sleep } from './helpers.ts'
import { contractOnly } from './fault-helpers.ts'

t.test('a layer that fails with a value the logger cannot serialise: 500, no unhandled rejection, the app still serves', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  // Any property read throws: the logger's error serialiser fails on it.
  const poisoned = new Proxy({}, { get () { throw new Error('poisoned') }, has () { throw new Error('poisoned') }, ownKeys () { throw new Error('poisoned') } })
  const inner = new InMemoryChannelLayer()
  let fail = true
  // The memory layer's own methods, but newChannel fails while `fail` is set.
  const layer = contractOnly(inner, {
    newChannel: async (prefix) => {
      if (fail) throw poisoned
      return await inner.newChannel(prefix)
    }
  })
  class Plain extends AsyncWebsocketConsumer {}
  const logs = captureLogs()
  const app = Fastify(logs.options)
  t.teardown(() => app.close())
  await app.register(asyncViews, { channelLayer: layer, websocket: { urlpatterns: [path('ws/', Plain.asHandler())] } })
  await app.ready()
  const refused = new WebsocketCommunicator(app, '/ws/')
  t.teardown(() => refused.disconnect())
  t.same(await refused.connect(), { connected: false, closeCode: 500 }, 'the handshake gets 500')
  await sleep(100)
  t.same(unhandled, [], 'no unhandled rejection')
  fail = false
  const fine = new WebsocketCommunicator(app, '/ws/')
  t.teardown(() => fine.disconnect())
  t.same(await fine.connect(), { connected: true, subprotocol: null }, 'the app still serves')
})
