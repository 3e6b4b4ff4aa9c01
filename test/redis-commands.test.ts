// Redis commands per groupSend do not grow with the group: channels_redis'
// one message per process key, written by one script (own redis-server).
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisChannelLayer } from 'fastify-async-views'
import { ownRedis } from './fixtures/redis/own-redis.ts'

const redis = await ownRedis(t)
if (redis === undefined) process.exit(0)
const server = redis

/** `INFO commandstats` as { command: calls }. */
async function commandStats (client: Redis): Promise<Record<string, number>> {
  const info = await client.info('commandstats')
  const stats: Record<string, number> = {}
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim())
    if (m !== null) stats[m[1]] = Number(m[2])
  }
  return stats
}

function delta (before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [command, calls] of Object.entries(after)) {
    const d = calls - (before[command] ?? 0)
    if (d !== 0) out[command] = d
  }
  return out
}

const sum = (stats: Record<string, number>): number => Object.values(stats).reduce((a, b) => a + b, 0)

/** Commands the server ran for `action`, minus what reading the stats itself costs. */
async function measure (client: Redis, action: () => Promise<void>): Promise<{ total: number, byCommand: Record<string, number> }> {
  // What two stat readings with nothing between them differ by (the INFO itself).
  const idle0 = await commandStats(client)
  const idle1 = await commandStats(client)
  const cost = delta(idle0, idle1)
  costOfReading = describe(cost)
  const before = await commandStats(client)
  await action()
  const after = await commandStats(client)
  const byCommand = delta(before, after)
  for (const [command, calls] of Object.entries(cost)) {
    byCommand[command] = (byCommand[command] ?? 0) - calls
    if (byCommand[command] === 0) delete byCommand[command]
  }
  return { total: sum(byCommand), byCommand }
}

let costOfReading = ''
const describe = (byCommand: Record<string, number>): string => Object.entries(byCommand).sort().map(([c, n]) => `${c}=${n}`).join(' ')

t.test('commands per groupSend are the same for 10 and for 500 members', async (t) => {
  const prefix = `test-commands-${process.pid}`
  // Two layers: two processes, each holding half of the members.
  const layers = [new RedisChannelLayer({ url: server.url, prefix }), new RedisChannelLayer({ url: server.url, prefix })]
  for (const layer of layers) {
    t.teardown(() => layer.close())
    await layer.connect()
  }
  const stats = new Redis(server.url, { lazyConnect: true })
  t.teardown(() => stats.disconnect())
  await stats.connect()

  const groups: Record<string, string[]> = {}
  for (const [group, size] of [['small', 10], ['large', 500]] as const) {
    groups[group] = []
    for (let i = 0; i < size; i++) {
      const layer = layers[i % 2]
      const channel = await layer.newChannel()
      await layer.groupAdd(group, channel)
      groups[group].push(channel)
    }
  }
  // Warm up: the first call of a script may cost an extra EVAL (NOSCRIPT fallback).
  await layers[0].groupSend('small', { type: 'warm.up' })
  await layers[0].groupSend('large', { type: 'warm.up' })

  const results: Record<string, { total: number, byCommand: Record<string, number> }> = {}
  for (const group of ['small', 'large']) {
    results[group] = await measure(stats, async () => { await layers[0].groupSend(group, { type: 'measured', group }) })
    t.comment(`groupSend to ${groups[group].length} members (2 processes): ${results[group].total} commands (${describe(results[group].byCommand)}), after subtracting what reading the stats costs (${costOfReading})`)
  }
  // Round trips from the layer: every command but those the script runs inside Redis.
  const inScript = new Set(['time', 'zremrangebyscore', 'zrangebyscore', 'zrange', 'zcard', 'zadd', 'expire', 'hgetall', 'hget', 'hset', 'hdel'])
  const roundTrips = (byCommand: Record<string, number>): number => sum(Object.fromEntries(Object.entries(byCommand).filter(([command]) => !inScript.has(command))))
  t.comment(`round trips from the layer: ${roundTrips(results.small.byCommand)} for 10 members, ${roundTrips(results.large.byCommand)} for 500`)

  t.same(results.large.byCommand, results.small.byCommand, 'the same commands for 500 members as for 10')
  t.equal(results.large.total, results.small.total, `the same count (${results.small.total} vs ${results.large.total})`)
  t.equal(results.small.byCommand.evalsha, 1, 'one EVALSHA')
  t.equal(roundTrips(results.small.byCommand), 1, 'one round trip from the layer')
  // EVALSHA, TIME (the deadline check), the group's ZRANGE + HGETALL, and per process key
  // ZREMRANGEBYSCORE, ZCARD, ZRANGE (the newest score: FIFO across senders), ZADD, EXPIRE: 1 + 1 + 2 + 2 x 5.
  t.ok(results.large.total <= 14, `a small number in all, script-internal calls included (${results.large.total})`)

  // Every member got it, though 250 members per process is far over capacity (100).
  for (const group of ['small', 'large']) {
    let got = 0
    for (const [index, channel] of groups[group].entries()) {
      const layer = layers[index % 2]
      const first = await layer.receive(channel)
      const second = await layer.receive(channel)
      if (first.type === 'warm.up' && second.type === 'measured' && second.group === group) got++
    }
    t.equal(got, groups[group].length, `all ${groups[group].length} members of ${group} got both messages`)
  }
})
