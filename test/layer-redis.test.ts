import t from 'tap'
import { RedisChannelLayer } from 'fastify-async-views'
import { layerContract } from './layer-contract.ts'
import { redisAvailable, REDIS_URL } from './redis-helpers.ts'

if (!await redisAvailable(t)) process.exit(0)

let run = 0
layerContract(t, async (options) => {
  const layer = new RedisChannelLayer({ url: REDIS_URL, prefix: `test-contract-${process.pid}-${++run}`, ...options })
  await layer.connect()
  return layer
})
