// `hosts: [a, b]`: channels and groups sharded over two Redis servers (own
// redis-servers on free ports), the same way by every process.
import t, { type Test } from 'tap'
import { RedisChannelLayer, type LayerMessage } from 'fastify-async-views'
import { cli, ownRedis, type OwnRedis } from './fixtures/redis/own-redis.ts'

const serverA = await ownRedis(t)
const serverB = serverA === undefined ? undefined : await ownRedis(t)
if (serverA === undefined || serverB === undefined) process.exit(0)
const servers: OwnRedis[] = [serverA, serverB]
const hosts = servers.map((server) => server.url)

let run = 0
const uniquePrefix = (): string => `test-shard-${process.pid}-${++run}`

/** Two layers on the same hosts and prefix: two processes of one app. */
async function twoLayers (t: Test, prefix: string): Promise<[RedisChannelLayer, RedisChannelLayer]> {
  const layers: [RedisChannelLayer, RedisChannelLayer] = [new RedisChannelLayer({ hosts, prefix }), new RedisChannelLayer({ hosts, prefix })]
  for (const layer of layers) {
    t.teardown(() => layer.close())
    await layer.connect()
  }
  return layers
}

/** Keys under `prefix` on each server: `[keysOnA, keysOnB]`. */
async function keysByServer (prefix: string): Promise<[string[], string[]]> {
  const lists = await Promise.all(servers.map(async (server) => (await cli(server.port, '--raw', 'keys', `${prefix}:*`)).split('\n').filter((line) => line !== '')))
  return [lists[0], lists[1]]
}

/** Does `key` end with `name` as a whole (not a longer name ending the same way)? */
// A group's keys end in its name as a hash tag (`{name}`, for a Cluster's slots).
function endsWithName (tagged: string, name: string): boolean {
  const key = tagged.endsWith('}') ? tagged.slice(0, -1).replace(/\{(?=[^{]*$)/, '') : tagged
  return key.endsWith(name) && !/[a-zA-Z0-9\-_.!]/.test(key.charAt(key.length - name.length - 1))
}

/** The servers (0 = A, 1 = B) holding a key named after `name`, and those keys. */
function whereIs (keys: [string[], string[]], name: string): { servers: number[], keys: string[] } {
  const found = [0, 1].map((index) => keys[index].filter((key) => endsWithName(key, name)))
  return { servers: [0, 1].filter((index) => found[index].length > 0), keys: found.flat() }
}

async function zcard (server: OwnRedis, key: string): Promise<number> {
  return Number((await cli(server.port, '--raw', 'zcard', key)).trim())
}

async function receiveWithin (layer: RedisChannelLayer, channel: string, ms = 5000): Promise<LayerMessage> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new Error(`nothing on ${channel} within ${ms} ms`)), ms)
  try {
    return await layer.receive(channel, { signal: controller.signal })
  } finally {
    clearTimeout(timer)
  }
}

t.test('a channel and a group each live on exactly one server, the same one from both instances; names spread over both', async (t) => {
  const prefix = uniquePrefix()
  const [one, two] = await twoLayers(t, prefix)
  const channels = Array.from({ length: 20 }, (_, i) => `shard.chan-${i}`)
  const groups = Array.from({ length: 20 }, (_, i) => `shard-group-${i}`)
  for (let i = 0; i < 20; i++) {
    // The same channel written by both instances; the same group joined through both.
    await one.send(channels[i], { type: 'from.one' })
    await two.send(channels[i], { type: 'from.two' })
    await one.groupAdd(groups[i], `member.one-${i}`)
    await two.groupAdd(groups[i], `member.two-${i}`)
  }
  const keys = await keysByServer(prefix)
  t.comment(`keys under the prefix on A: ${keys[0].length}, on B: ${keys[1].length}`)
  t.equal(keys[0].length + keys[1].length, 60, 'one key per channel and two per group (its members set and its per-process hash), 60 in all')

  const spread = { channel: [0, 0], group: [0, 0] }
  for (const [kind, names] of [['channel', channels], ['group', groups]] as const) {
    for (const name of names) {
      const where = whereIs(keys, name)
      const expected = kind === 'channel' ? 1 : 2
      t.equal(where.keys.length, expected, `${kind} ${name}: ${expected} key(s) (${where.keys.join(', ')})`)
      t.equal(where.servers.length, 1, `${kind} ${name}: on exactly one server (${where.servers.map((s) => 'AB'[s]).join(', ')})`)
      if (where.keys.length !== expected || where.servers.length !== 1) continue
      spread[kind][where.servers[0]]++
      const set = where.keys.find((key) => !key.includes(':gk:')) as string
      t.equal(await zcard(servers[where.servers[0]], set), 2, `${kind} ${name}: both instances wrote to that same key on that same server`)
    }
  }
  t.comment(`20 channels: ${spread.channel[0]} on A, ${spread.channel[1]} on B; 20 groups: ${spread.group[0]} on A, ${spread.group[1]} on B`)
  t.ok(spread.channel[0] > 0 && spread.channel[1] > 0, `channels are spread over both servers (A ${spread.channel[0]} / B ${spread.channel[1]})`)
  t.ok(spread.group[0] > 0 && spread.group[1] > 0, `groups are spread over both servers (A ${spread.group[0]} / B ${spread.group[1]})`)

  // A message written by one instance is read by the other, whichever server holds it.
  for (const name of channels.slice(0, 4)) {
    t.same(await receiveWithin(two, name), { type: 'from.one' }, `instance two reads ${name}'s first message`)
    t.same(await receiveWithin(one, name), { type: 'from.two' }, `instance one reads ${name}'s second message`)
  }
})

t.test('keys contain the prefix and the name', async (t) => {
  const prefix = uniquePrefix()
  const [one] = await twoLayers(t, prefix)
  await one.send('keyed.channel-name', { type: 'x' })
  await one.groupAdd('keyed-group-name', 'keyed.member')
  const specific = await one.newChannel()
  await one.send(specific, { type: 'x' })
  const keys = (await keysByServer(prefix)).flat()
  t.equal(keys.length, 4, `four keys: the channel, the group's set and hash, the process key (${keys.join(', ')})`)
  t.ok(keys.every((key) => key.startsWith(`${prefix}:`)), 'every key starts with the prefix')
  t.ok(keys.some((key) => key.includes('keyed.channel-name')), 'the channel key names the channel')
  t.ok(keys.some((key) => key.includes('keyed-group-name')), 'the group key names the group')
  const processPart = specific.slice(0, specific.indexOf('!') + 1)
  t.ok(keys.some((key) => key.includes(processPart)), `the process channel's key names its part up to '!' (${processPart})`)
  t.notOk(keys.some((key) => key.includes(specific)), 'not the whole process-local channel name (one key per process)')
})

t.test('cross-instance delivery: send from one instance, received by the other', async (t) => {
  const prefix = uniquePrefix()
  const [one, two] = await twoLayers(t, prefix)
  const received = receiveWithin(two, 'cross.normal')
  await one.send('cross.normal', { type: 'hello', from: 'one' })
  t.same(await received, { type: 'hello', from: 'one' }, 'a normal channel')
  const specific = await two.newChannel()
  await one.send(specific, { type: 'hello', to: 'specific' })
  t.same(await receiveWithin(two, specific), { type: 'hello', to: 'specific' }, 'a process channel of the other instance (newChannel())')
})

t.test('a group on one server whose members live on both servers gets every groupSend to all members', async (t) => {
  const prefix = uniquePrefix()
  const [one, two] = await twoLayers(t, prefix)
  // newChannel(p) channels of both instances; the part up to '!' picks the server.
  // Probe each one to see where its key landed, until both servers hold members of both instances.
  const members: Array<{ layer: RedisChannelLayer, channel: string, server: number, owner: string }> = []
  const seen = new Set<string>()
  for (let i = 0; i < 16; i++) {
    for (const [owner, layer] of [['one', one], ['two', two]] as const) {
      const channel = await layer.newChannel(`member${i}`)
      const other = layer === one ? two : one
      await other.send(channel, { type: 'probe' })
      const where = whereIs(await keysByServer(prefix), channel.slice(0, channel.indexOf('!') + 1)).servers
      t.equal(where.length, 1, `the key of ${channel} is on exactly one server`)
      t.same(await receiveWithin(layer, channel), { type: 'probe' }, `${channel} got its probe from the other instance`)
      members.push({ layer, channel, server: where[0], owner })
      seen.add(`${owner}@${where[0]}`)
    }
    if (seen.size === 4 && members.length >= 8) break
  }
  t.comment(`members: ${members.map((m) => `${m.owner}:${m.server === 0 ? 'A' : 'B'}`).join(' ')}`)
  t.ok([0, 1].every((server) => members.some((m) => m.server === server)), 'members live on both servers')
  t.ok(['one', 'two'].every((owner) => members.some((m) => m.owner === owner)), 'members belong to both instances')

  for (const [index, member] of members.entries()) await (index % 2 === 0 ? one : two).groupAdd('mixed-group', member.channel)
  const group = whereIs(await keysByServer(prefix), 'mixed-group')
  t.equal(group.servers.length, 1, `the group lives on exactly one server (${group.servers.map((s) => 'AB'[s]).join(', ')})`)

  await one.groupSend('mixed-group', { type: 'group.hello', n: 1 })
  await two.groupSend('mixed-group', { type: 'group.hello', n: 2 })
  for (const member of members) {
    t.same(await receiveWithin(member.layer, member.channel), { type: 'group.hello', n: 1 }, `${member.owner}'s ${member.channel} (server ${member.server === 0 ? 'A' : 'B'}) got the first groupSend`)
    t.same(await receiveWithin(member.layer, member.channel), { type: 'group.hello', n: 2 }, 'and the second, in order')
  }
})
