import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { InMemoryChannelLayer, RedisChannelLayer, channelWorker, AsyncConsumer, type LayerMessage, type ChannelLayer } from 'fastify-async-views'
import { redisAvailable, REDIS_URL } from './redis-helpers.ts'
import { startExample } from './helpers.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/cli.mjs', import.meta.url))

async function receive (layer: ChannelLayer, channel: string, ms = 3000): Promise<LayerMessage | 'TIMEOUT'> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), ms)
  try {
    return await layer.receive(channel, { signal: controller.signal })
  } catch {
    return 'TIMEOUT'
  } finally {
    clearTimeout(timer)
  }
}

class Slow extends AsyncConsumer {
  static log: string[] = []
  async jobRun (message: { n: number, ms?: number, fail?: boolean }): Promise<void> {
    Slow.log.push(`start ${message.n}`)
    await new Promise((resolve) => setTimeout(resolve, message.ms ?? 0))
    Slow.log.push(`end ${message.n}`)
    if (message.fail === true) throw new Error('job failed')
  }
}

t.test('channelWorker consumes named channels one message at a time, in order', async (t) => {
  Slow.log = []
  const errors: unknown[] = []
  const layer = new InMemoryChannelLayer({ log: { warn: () => {}, error: (obj) => { errors.push(obj) } } })
  t.teardown(() => layer.close())
  const worker = channelWorker(layer, { 'jobs.run': Slow })
  await layer.send('jobs.run', { type: 'job.run', n: 1, ms: 30 })
  await layer.send('jobs.run', { type: 'job.run', n: 2, fail: true })
  await layer.send('jobs.run', { type: 'job.run', n: 3 })
  for (let i = 0; i < 50 && Slow.log.length < 6; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(Slow.log, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'])
  t.equal(errors.length, 1, 'a failing job is logged and the worker goes on')
  await worker.stop()
})

t.test('stop(): the message in hand finishes, the rest stay queued', async (t) => {
  Slow.log = []
  const layer = new InMemoryChannelLayer()
  t.teardown(() => layer.close())
  const worker = channelWorker(layer, { 'jobs.run': Slow })
  await layer.send('jobs.run', { type: 'job.run', n: 1, ms: 150 })
  await layer.send('jobs.run', { type: 'job.run', n: 2 })
  await new Promise((resolve) => setTimeout(resolve, 30))
  await worker.stop()
  t.same(Slow.log, ['start 1', 'end 1'], 'the message in hand finished')
  t.same(await receive(layer, 'jobs.run', 500), { type: 'job.run', n: 2 }, 'the next one is still queued')
})

t.test('the worker stops when the layer closes; bad routes are refused', async (t) => {
  const layer = new InMemoryChannelLayer()
  const worker = channelWorker(layer, { 'jobs.run': Slow })
  await layer.close()
  await worker.done
  t.pass('done after the layer closed')
  t.throws(() => channelWorker(layer, {}), TypeError)
  t.throws(() => channelWorker(layer, { 'bad name': Slow }), TypeError)
  t.throws(() => channelWorker(layer, { 'local!x': Slow }), /named channels/)
})

t.test('the command line: errors exit 2 with the usage', async (t) => {
  for (const args of [[], ['nope'], ['worker'], ['worker', '--layer', 'memory']]) {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (c) => { err += c })
    const code = await new Promise((resolve) => child.on('exit', resolve))
    t.equal(code, 2, args.join(' '))
    t.match(err, /usage: fastify-async-views worker/)
  }
})

t.test('a worker process on Redis takes jobs an app sends, and exits 0 on SIGTERM', async (t) => {
  if (!await redisAvailable(t)) return
  const prefix = `test-worker-${process.pid}`
  const layer = new RedisChannelLayer({ url: REDIS_URL, prefix })
  await layer.connect()
  t.teardown(async () => { await layer.flush(); await layer.close() })
  const child = spawn(process.execPath, [cli, 'worker', '--layer', REDIS_URL, '--prefix', prefix, fileURLToPath(new URL('./fixtures/worker/consumers.mjs', import.meta.url))], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stderr.on('data', (c) => { out += c })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  for (let i = 0; i < 100 && !out.includes('worker listening'); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(out, /worker listening on jobs\.run/)
  const reply = await layer.newChannel()
  await layer.send('jobs.run', { type: 'job.run', n: 7, replyTo: reply })
  const done = await receive(layer, reply, 5000) as Record<string, unknown>
  t.match(done, { type: 'job.done', n: 7, channel: 'jobs.run', scope: { type: 'channel', channel: 'jobs.run' } })
  t.equal(done.pid, child.pid, 'handled in the worker process')
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM stops the worker, closes the layer and exits 0')
})

t.test('the worker example, in one process (memory layer)', async (t) => {
  const base = await startExample(t, 'examples/worker/server.ts')
  const { WebSocket } = await import('ws')
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws/thumbnails/`)
  t.teardown(() => ws.terminate())
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const done = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))))
  const started = performance.now()
  const res = await fetch(`${base}/thumbnails/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'cat', size: 64 }) })
  t.ok(performance.now() - started < 1000, 'the view returns at once')
  t.equal(res.status, 202)
  const { id } = await res.json() as { id: string }
  t.match(await done, { type: 'thumbnail.done', id, name: 'cat', thumbnail: /^cat\.64px\.[0-9a-f]{16}\.png$/ })
  t.equal((await fetch(`${base}/thumbnails/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"../x"}' })).status, 400)
})

t.test('the worker example scaled out: app and worker processes on Redis', async (t) => {
  if (!await redisAvailable(t)) return
  const prefix = `test-worker-example-${process.pid}`
  const base = await startExample(t, 'examples/worker/server.ts', { REDIS_URL, LAYER_PREFIX: prefix })
  const worker = spawn(process.execPath, [tsx, 'dist/cli.js', 'worker', '--layer', REDIS_URL, '--prefix', prefix, 'examples/worker/consumers.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  worker.stderr.on('data', (c) => { out += c })
  const exited = new Promise<number | null>((resolve) => worker.on('exit', resolve))
  t.teardown(async () => {
    if (worker.exitCode === null) worker.kill('SIGTERM')
    await exited
    const cleanup = new RedisChannelLayer({ url: REDIS_URL, prefix })
    await cleanup.flush()
    await cleanup.close()
  })
  for (let i = 0; i < 200 && !out.includes('worker listening'); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(out, /worker listening on thumbnails/)
  const { WebSocket } = await import('ws')
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws/thumbnails/`)
  t.teardown(() => ws.terminate())
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const done = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))))
  const res = await fetch(`${base}/thumbnails/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'dog', size: 32 }) })
  t.equal(res.status, 202)
  const result = await done
  t.match(result, { type: 'thumbnail.done', name: 'dog' })
  t.not(result.pid, undefined)
  worker.kill('SIGTERM')
  t.equal(await exited, 0)
})
