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
