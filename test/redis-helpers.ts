import type { Test } from 'tap'
import { Redis } from 'ioredis'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** True when Redis answers; otherwise skips (or, under CI=true, fails) the file. */
export async function redisAvailable (t: Test): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
    return true
  } catch (error) {
    if (process.env.CI === 'true') {
      t.fail(`Redis is required under CI=true but ${REDIS_URL} is not answering: ${(error as Error).message}`)
    } else {
      t.test('Redis tests', { skip: `Redis at ${REDIS_URL} is not answering (${(error as Error).message}); start it with: redis-server --daemonize yes --port 6379 --save "" --appendonly no` }, () => {})
    }
    return false
  } finally {
    client.disconnect()
  }
}
