// The Redis channel layer behind Redis Sentinel: a master, a replica and three
// sentinels of our own on free ports. The master is killed under a running app;
// the layer must follow the failover without hanging or delivering late.
import t from 'tap'
import Fastify from 'fastify'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import asyncViews, { RedisChannelLayer, ChannelLayerUnavailable, SentinelsUnreachable } from 'fastify-async-views'
import { WebsocketCommunicator } from 'fastify-async-views/testing'
import { sleep } from './helpers.ts'
import { roomApp, timed } from './fault-helpers.ts'
import { cli, freePort, ownRedis, type OwnRedis } from './fixtures/redis/own-redis.ts'

const COMMAND_TIMEOUT = 1000

async function poll (check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true
    await sleep(100)
  }
  return false
}

// Sentinels rewrite their config file: each gets its own, in a directory removed at the end.
const configDir = mkdtempSync(join(tmpdir(), 'fav-sentinel-'))
t.teardown(() => rmSync(configDir, { recursive: true, force: true }))
function sentinelConfig (port: number, masterPort: number): string {
  const file = join(configDir, `sentinel-${port}.conf`)
  writeFileSync(file, [
    `sentinel monitor mymaster 127.0.0.1 ${masterPort} 2`,
    'sentinel down-after-milliseconds mymaster 1000',
    'sentinel failover-timeout mymaster 5000',
    'sentinel parallel-syncs mymaster 1',
    ''
  ].join('\n'))
  return file
}

t.test('options: ioredis Sentinel options pass, also per entry of hosts', async (t) => {
  const sentinels = [{ host: '127.0.0.1', port: 1 }]
  for (const options of [
    { sentinels, name: 'mymaster', password: 'p', sentinelPassword: 's', sentinelUsername: 'u', tls: {}, enableTLSForSentinelMode: false, sentinelRetryStrategy: () => null, preferredSlaves: [], role: 'master' as const },
    { hosts: [{ sentinels, name: 'one', sentinelPassword: 's', password: 'p', tls: {} }, { sentinels, name: 'two' }] }
  ]) {
    const layer = new RedisChannelLayer(options)
    t.ok(layer, `accepted: ${Object.keys(options).join(', ')}`)
    await layer.close()
  }
  t.throws(() => new RedisChannelLayer({ hosts: [{ sentinels, name: 'x', sentinel: true } as never] }), /unknown option 'sentinel' \(hosts\[0\]\)/, 'a misspelt option per host is still refused')
})

t.test('no sentinel answers: register and send fail promptly, naming the sentinels', async (t) => {
  // One port with nothing listening, one sentinel frozen (it accepts, never answers).
  const frozen = await ownRedis(t, ['--sentinel'], (port) => sentinelConfig(port, 1))
  if (frozen === undefined) return
  frozen.pause()
  t.teardown(() => frozen.resume())
  const closed = await freePort()
  for (const [label, sentinels] of [
    ['refused', [{ host: '127.0.0.1', port: closed }]],
    ['frozen', [{ host: '127.0.0.1', port: frozen.port }]],
    ['both', [{ host: '127.0.0.1', port: closed }, { host: '127.0.0.1', port: frozen.port }]]
  ] as const) {
    const app = Fastify()
    const registered = app.register(asyncViews, { channelLayer: { backend: 'redis', sentinels: [...sentinels], name: 'mymaster', commandTimeout: COMMAND_TIMEOUT } })
    const { ms, error } = await timed(registered.ready())
    t.ok(error !== undefined, `${label}: register rejects`)
    t.ok(ms < COMMAND_TIMEOUT + 1000, `${label}: within the command bound (took ${ms} ms)`)
    t.type(error?.cause, SentinelsUnreachable, `${label}: caused by SentinelsUnreachable (${String(error?.message)})`)
    t.equal(error?.cause?.code, 'FAV_SENTINELS_UNREACHABLE')
    for (const { port } of sentinels) t.match(String(error?.message), `127.0.0.1:${port}`, `${label}: the message names sentinel :${port}`)
    await app.close().catch(() => {})

    const layer = new RedisChannelLayer({ sentinels: [...sentinels], name: 'mymaster', commandTimeout: COMMAND_TIMEOUT })
    for (const attempt of ['first', 'second']) {
      const sent = await timed(layer.send('sentinel.none', { type: 'x' }))
      t.type(sent.error, SentinelsUnreachable, `${label}: ${attempt} send rejects with SentinelsUnreachable`)
      t.ok(sent.error instanceof ChannelLayerUnavailable, 'which is a ChannelLayerUnavailable')
      t.ok(sent.ms < COMMAND_TIMEOUT + 1000, `${label}: ${attempt} send within the command bound (took ${sent.ms} ms)`)
    }
    await layer.close()
  }
})

t.test('a failover under a running app', async (t) => {
  const master = await ownRedis(t)
  if (master === undefined) return
  // A replica writes the RDB it is sent: into the temporary directory, not the working one.
  const replica = await ownRedis(t, ['--replicaof', '127.0.0.1', String(master.port), '--dir', configDir])
  if (replica === undefined) return
  const sentinels: OwnRedis[] = []
  for (let i = 0; i < 3; i++) {
    const sentinel = await ownRedis(t, ['--sentinel'], (port) => sentinelConfig(port, master.port))
    if (sentinel === undefined) return
    sentinels.push(sentinel)
  }
  const ready = await poll(async () => {
    if (!(await cli(replica.port, 'info', 'replication')).includes('master_link_status:up')) return false
    for (const sentinel of sentinels) {
      const info = (await cli(sentinel.port, 'sentinel', 'master', 'mymaster')).split('\n')
      if (info[info.indexOf('num-other-sentinels') + 1] !== '2' || info[info.indexOf('num-slaves') + 1] !== '1') return false
    }
    return true
  }, 20000)
  t.ok(ready, 'the replica is synced and the sentinels know each other')
  if (!ready) return

  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })

  const { app, alice, bob } = await roomApp(t, { backend: 'redis', sentinels: sentinels.map(({ port }) => ({ host: '127.0.0.1', port })), name: 'mymaster', commandTimeout: COMMAND_TIMEOUT, prefix: `test-sentinel-${process.pid}` })
  const layer = app.channelLayer

  const got = { alice: [] as string[], bob: [] as string[] }
  const drain = async (): Promise<void> => {
    for (const [who, c] of [['alice', alice], ['bob', bob]] as const) {
      for (;;) {
        try {
          got[who].push((await c.receiveJsonFrom(20)).text)
        } catch {
          break
        }
      }
    }
  }

  // Kill the master by pid; send every 100 ms until both consumers get a message again.
  const killedAt = Date.now()
  process.kill(master.pid!, 'SIGKILL')
  await master.stop()
  const rejected: string[] = []
  const acknowledged: string[] = []
  let slowest = 0
  let resumedAt: number | undefined
  for (let i = 0; Date.now() - killedAt < 30000; i++) {
    const text = `during-${i}`
    const { ms, error } = await timed(layer.groupSend('room', { type: 'room.message', text }))
    slowest = Math.max(slowest, ms)
    if (error === undefined) acknowledged.push(text)
    else {
      rejected.push(text)
      if (!(error instanceof ChannelLayerUnavailable)) t.fail(`a send during the failover rejected with ${String(error?.message)}`)
    }
    await sleep(100)
    await drain()
    if (got.alice.includes(text) && got.bob.includes(text)) {
      resumedAt = Date.now()
      break
    }
  }
  t.ok(resumedAt !== undefined, 'delivery resumed')
  if (resumedAt === undefined) return
  t.comment(`delivery resumed ${resumedAt - killedAt} ms after the kill; ${rejected.length} sends rejected, the slowest call took ${slowest} ms`)
  t.ok(resumedAt - killedAt < 20000, `within seconds (${resumedAt - killedAt} ms)`)
  t.ok(rejected.length > 0, 'sends during the failover were rejected')
  t.ok(slowest < COMMAND_TIMEOUT + 500, `no send waited past the command bound (slowest ${slowest} ms)`)
  const promoted = await cli(replica.port, 'info', 'replication')
  t.match(promoted, 'role:master', 'the replica is the master now')

  // Memberships of live consumers, and a consumer joining after the failover.
  const carol = new WebsocketCommunicator(app, '/ws/room/')
  t.teardown(() => carol.disconnect())
  t.equal((await carol.connect()).connected, true, 'carol connects after the failover')
  await layer.groupSend('room', { type: 'room.message', text: 'after' })
  await sleep(500)
  await drain()
  t.same(await carol.receiveJsonFrom(3000), { text: 'after' }, 'carol joined the group on the new master')
  t.ok(got.alice.includes('after') && got.bob.includes('after'), 'alice and bob are still members')

  await sleep(1000)
  await drain()
  const late = [...got.alice, ...got.bob].filter((text) => rejected.includes(text))
  t.same(late, [], 'no rejected send was delivered (late or at all)')
  for (const [who, texts] of Object.entries(got)) {
    const missing = acknowledged.filter((text) => !texts.includes(text))
    t.same(missing, [], `${who} got every acknowledged send`)
  }
  t.equal(alice.closeCode, undefined, 'alice stayed connected')
  t.equal(bob.closeCode, undefined, 'bob stayed connected')
  t.same(unhandled, [], 'no unhandled rejection')
})
