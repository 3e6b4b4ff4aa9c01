// The Redis channel layer on a Redis Cluster of three masters of our own on
// free ports: the whole layer contract, two app processes sharing a group, and
// slots moved under traffic without losing an acknowledged message.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { RedisChannelLayer, ChannelLayerUnavailable, ImproperlyConfigured } from 'fastify-async-views'
import { layerContract } from './layer-contract.ts'
import { startExample, sleep } from './helpers.ts'
import { cli, freePort, migrateSlot, ownCluster, type OwnRedis } from './fixtures/redis/own-redis.ts'
import { timed } from './fault-helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'fav-cluster-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const servers = await ownCluster(t, dir)
let run = 0

/** The node serving `slot` now (as that node itself says). */
async function ownerOf (slot: number, nodes: OwnRedis[]): Promise<OwnRedis> {
  for (const node of nodes) {
    const mine = (await cli(node.port, 'cluster', 'nodes')).split('\n').find((line) => line.includes('myself'))
    if (mine !== undefined && ownsSlot(mine, slot)) return node
  }
  throw new Error(`no node owns slot ${slot}`)
}

function ownsSlot (line: string, slot: number): boolean {
  return line.split(' ').slice(8).some((range) => {
    if (range.startsWith('[')) return false
    const [low, high = low] = range.split('-').map(Number)
    return slot >= low && slot <= high
  })
}

if (servers !== undefined) {
  const nodes = servers.map(({ port }) => ({ host: '127.0.0.1', port }))

  t.test('the contract on a 3-master Cluster', async (t) => {
    layerContract(t, async (options) => {
      const layer = new RedisChannelLayer({ cluster: [nodes[0]], prefix: `test-cluster-${process.pid}-${++run}`, ...options })
      await layer.connect()
      return layer
    })
  })

  t.test('a group spans slots: its keys share one slot, its members\' process keys do not need to', async (t) => {
    const prefix = `test-cluster-keys-${process.pid}-${++run}`
    const layers = [0, 1, 2, 3].map(() => new RedisChannelLayer({ cluster: nodes, prefix }))
    for (const layer of layers) {
      t.teardown(() => layer.close())
      await layer.connect()
    }
    t.teardown(() => layers[0].flush())
    const channels = await Promise.all(layers.map(async (layer) => await layer.newChannel()))
    for (const [i, layer] of layers.entries()) await layer.groupAdd('spread', channels[i])
    const slots = new Set<number>()
    for (const channel of channels) slots.add(Number(await cli(servers[0].port, 'cluster', 'keyslot', `${prefix}:ch:${channel.slice(0, channel.indexOf('!') + 1)}`)))
    t.comment(`4 process keys in ${slots.size} slots`)
    t.equal(await cli(servers[0].port, 'cluster', 'keyslot', `${prefix}:gr:{spread}`), await cli(servers[0].port, 'cluster', 'keyslot', `${prefix}:gk:{spread}`), 'the group\'s two keys are in one slot')
    await layers[3].groupSend('spread', { type: 'hello', n: 1 })
    for (const [i, layer] of layers.entries()) t.same(await layer.receive(channels[i]), { type: 'hello', n: 1 }, `process ${i} got the group message`)
  })

  t.test('two app processes share a group; slots move under traffic, nothing acknowledged is lost', async (t) => {
    const prefix = `test-cluster-apps-${process.pid}-${++run}`
    const env = { CLUSTER_NODES: servers.map(({ port }) => `127.0.0.1:${port}`).join(','), LAYER_PREFIX: prefix }
    const apps = await Promise.all([0, 1].map(async () => await startExample(t, 'test/fixtures/redis/cluster-app.mjs', env)))
    const sockets: Array<{ ws: WebSocket, got: Set<number> }> = []
    for (const app of apps) {
      for (let i = 0; i < 3; i++) {
        const ws = new WebSocket(`${app.replace('http', 'ws')}/ws/room/`)
        const got = new Set<number>()
        ws.on('message', (data) => { got.add((JSON.parse(String(data)) as { n: number }).n) })
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
        sockets.push({ ws, got })
      }
    }
    t.teardown(() => { for (const { ws } of sockets) ws.terminate() })
    const send = async (n: number): Promise<boolean> => (await fetch(`${apps[Math.abs(n) % 2]}/send/?n=${n}`)).status === 202
    // Memberships are in place once a message reaches all six.
    let warm = -1
    for (let i = 0; i < 50 && !sockets.every(({ got }) => got.has(warm)); i++) {
      warm = -1 - i
      await send(warm)
      await sleep(100)
    }
    t.ok(sockets.every(({ got }) => got.has(warm)), 'all six sockets on both processes are in the group')

    // The slots to move: the group's, and those of the process keys (named by the group's hash; often empty, as readers pop them).
    const fields = (await cli(servers[0].port, '-c', 'hkeys', `${prefix}:gk:{room}`)).split('\n').filter((field) => field !== '')
    const keys = [`${prefix}:gr:{room}`, ...fields.map((field) => `${prefix}:ch:${field}`)]
    t.equal(fields.length, 2, `two process keys hold the members (${fields.join(', ')})`)
    const slots = [...new Set(await Promise.all(keys.map(async (key) => Number(await cli(servers[0].port, 'cluster', 'keyslot', key)))))]

    const acknowledged: number[] = []
    let refused = 0
    const sending = { on: true }
    const traffic = (async () => {
      for (let n = 1; sending.on; n++) {
        if (await send(n).catch(() => false)) acknowledged.push(n)
        else refused++
        await sleep(5)
      }
    })()
    let movedKeys = 0
    for (const slot of slots) {
      const from = await ownerOf(slot, servers)
      const to = servers[(servers.indexOf(from) + 1) % servers.length]
      movedKeys += await migrateSlot(slot, from, to, servers, async () => { await sleep(50) })
      await sleep(300)
    }
    await sleep(500)
    sending.on = false
    await traffic
    t.comment(`moved ${slots.length} slots (${movedKeys} keys) under traffic; ${acknowledged.length} sends acknowledged, ${refused} refused`)
    t.ok(acknowledged.length > 20, 'traffic flowed during the moves')
    const deadline = Date.now() + 10000
    const missing = (): number => sockets.reduce((sum, { got }) => sum + acknowledged.filter((n) => !got.has(n)).length, 0)
    while (missing() > 0 && Date.now() < deadline) await sleep(100)
    t.equal(missing(), 0, 'every acknowledged message reached all six sockets')
  })
}

t.test('options: connection options go to every node, Cluster options pass, what cannot go with cluster is refused', async (t) => {
  const cluster = [{ host: '127.0.0.1', port: 1 }]
  const layer = new RedisChannelLayer({ cluster, password: 'p', username: 'u', tls: {}, natMap: {}, slotsRefreshTimeout: 500, maxRedirections: 4, retryDelayOnTryAgain: 50 })
  t.ok(layer, 'accepted')
  await layer.close()
  for (const [options, message] of [
    [{ cluster, sentinels: cluster, name: 'x' }, /'sentinels' cannot go with 'cluster'/],
    [{ cluster, url: 'redis://127.0.0.1:1' }, /'url' cannot go with 'cluster'/],
    [{ cluster, scaleReads: 'slave' }, /'scaleReads' would send/],
    [{ cluster: [] }, /cluster must be a non-empty array/],
    [{ slotsRefreshTimeout: 500 }, /unknown option 'slotsRefreshTimeout'/]
  ] as const) t.throws(() => new RedisChannelLayer(options as never), { constructor: ImproperlyConfigured, message }, JSON.stringify(Object.keys(options)))
})

t.test('no node answers: connect and send fail within the command bound, naming the nodes', async (t) => {
  const port = await freePort()
  const layer = new RedisChannelLayer({ cluster: [{ host: '127.0.0.1', port }], commandTimeout: 1000 })
  t.teardown(() => layer.close())
  for (const [name, call] of [['connect', () => layer.connect()], ['send', () => layer.send('cluster.none', { type: 'x' })]] as const) {
    const { ms, error } = await timed(call())
    t.type(error, ChannelLayerUnavailable, `${name} rejects with ChannelLayerUnavailable (${String(error?.message)})`)
    t.match(String(error?.message), `127.0.0.1:${port}`, `${name}: the message names the node`)
    t.ok(ms < 2000, `${name} within the command bound (took ${ms} ms)`)
  }
})
