// Layer options: unknown ones are refused with ImproperlyConfigured naming
// them (a typo like `urll` must not connect to the default Redis), while
// ioredis' own connection options pass through to its clients.
import t from 'tap'
import Fastify from 'fastify'
import asyncViews, { InMemoryChannelLayer, RedisChannelLayer, type AsyncViewsOptions } from 'fastify-async-views'
import { cli, ownRedis } from './fixtures/redis/own-redis.ts'

async function register (options: AsyncViewsOptions): Promise<void> {
  const app = Fastify()
  try {
    await app.register(asyncViews, options)
    await app.ready()
  } finally {
    await app.close()
  }
}

t.test('unknown layer options are refused, naming the option', async (t) => {
  const improperly = (message: RegExp): { name: string, code: string, message: RegExp } => ({ name: 'ImproperlyConfigured', code: 'FAV_IMPROPERLY_CONFIGURED', message })
  t.throws(() => new InMemoryChannelLayer({ capacty: 5 } as never), improperly(/InMemoryChannelLayer.*'capacty'/))
  t.throws(() => new InMemoryChannelLayer({ url: 'redis://x' } as never), improperly(/'url'/), 'a Redis option without backend: redis')
  t.throws(() => new RedisChannelLayer({ urll: 'redis://127.0.0.1:1' } as never), improperly(/RedisChannelLayer.*'urll'/))
  t.throws(() => new RedisChannelLayer({ hosts: [{ host: '127.0.0.1', prot: 1 }] } as never), improperly(/'prot'/), 'in a hosts entry too')
  t.throws(() => new RedisChannelLayer({ keyPrefix: 'x' } as never), improperly(/'keyPrefix'.*'prefix'/), 'keyPrefix: use prefix')
  for (const option of ['enableOfflineQueue', 'lazyConnect', 'maxRetriesPerRequest', 'autoResendUnfulfilledCommands', 'readOnly', 'stringNumbers']) {
    t.throws(() => new RedisChannelLayer({ [option]: true } as never), improperly(new RegExp(`'${option}'`)), `${option} is the layer's own choice`)
  }
  await t.rejects(register({ channelLayer: { backend: 'redis', urll: 'redis://127.0.0.1:1' } as never }), improperly(/channelLayer.*'urll'/), 'register names it')
  await t.rejects(register({ channelLayer: { backend: 'memory', expirey: 5 } as never }), improperly(/channelLayer.*'expirey'/))
})

t.test("ioredis' documented connection options pass through", async (t) => {
  const sentinel = new RedisChannelLayer({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'mymaster', sentinelPassword: 'x', role: 'master', natMap: {}, enableTLSForSentinelMode: false, updateSentinels: false })
  t.ok(sentinel, 'Sentinel options are accepted')
  await sentinel.close()
  const tls = new RedisChannelLayer({ url: 'rediss://127.0.0.1:1', tls: { rejectUnauthorized: false }, username: 'u', password: 'p', db: 2, connectTimeout: 500, keepAlive: 1000, noDelay: true, family: 4, retryStrategy: () => null, reconnectOnError: () => false, enableReadyCheck: true, showFriendlyErrorStack: true })
  t.ok(tls, 'TLS and auth options are accepted')
  await tls.close()

  const redis = await ownRedis(t)
  if (redis === undefined) return
  const name = `fav-options-${process.pid}`
  const layer = new RedisChannelLayer({ url: redis.url, prefix: `test-options-${process.pid}`, connectionName: name, db: 3 })
  t.teardown(() => layer.close())
  await layer.connect()
  await layer.send('options.check', { type: 'x' })
  const clients = await cli(redis.port, 'client', 'list')
  t.match(clients, new RegExp(`name=${name} .*db=3`), 'connectionName and db reached the server')
  t.equal((await cli(redis.port, '-n', '3', 'exists', `test-options-${process.pid}:ch:options.check`)).trim(), '1', 'the message is in db 3')
})
