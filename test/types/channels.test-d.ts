// Type tests of consumers and layers: checked by `tsc` (npm run typecheck, and test/types.test.ts), never run.
import Fastify from 'fastify'
import asyncViews, { AsyncWebsocketConsumer, InMemoryChannelLayer, RedisChannelLayer, type HandshakeHeaders } from 'fastify-async-views'

class Cookie extends AsyncWebsocketConsumer {
  override async connect (): Promise<void> {
    await this.accept('v1', [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']])
    await this.accept(null, { 'X-One': 'a', 'Set-Cookie': ['a=1', 'b=2'] })
    const headers: HandshakeHeaders = new Map([['X-Two', 'b']])
    await this.accept(undefined, headers)
    // @ts-expect-error header values are strings
    await this.accept('v1', [['X-Three', 3]])
  }
}
export { Cookie }

export const layers = [
  new InMemoryChannelLayer({ capacity: 10, channelCapacity: { 'http.request': 200, 'websocket.send!*': 20 } }),
  new InMemoryChannelLayer({ channelCapacity: [[/^jobs\./, 5], ['other', 1]] }),
  // @ts-expect-error a typo is refused by the types too
  new InMemoryChannelLayer({ capacty: 10 }),
  new RedisChannelLayer({ url: 'redis://h:6379', commandTimeout: 2000, channelCapacity: { 'a.*': 1 }, password: 'p', db: 1, tls: {} }),
  new RedisChannelLayer({ sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' }),
  // @ts-expect-error unknown option
  new RedisChannelLayer({ urll: 'redis://h:6379' }),
  // @ts-expect-error the layer sets it
  new RedisChannelLayer({ enableOfflineQueue: true })
]

const app = Fastify()
app.register(asyncViews, { websocket: { urlpatterns: [], closeTimeout: 5000 }, channelLayer: { backend: 'redis', url: 'redis://h', commandTimeout: 1000 } })
