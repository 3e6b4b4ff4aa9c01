// The chat example run unchanged as two processes sharing one Redis: a message
// sent on one reaches clients (and a browser) on the other.
import t from 'tap'
import { existsSync } from 'node:fs'
import WebSocket from 'ws'
import { chromium } from 'playwright-core'
import { RedisChannelLayer } from 'fastify-async-views'
import { startExample } from './helpers.ts'
import { redisAvailable, REDIS_URL } from './redis-helpers.ts'

const chromiumPath = '/usr/bin/chromium'

async function open (url: string): Promise<{ ws: WebSocket, next: () => Promise<Record<string, unknown>> }> {
  const ws = new WebSocket(url)
  const frames: Array<Record<string, unknown>> = []
  const waiters: Array<(frame: Record<string, unknown>) => void> = []
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>
    const waiter = waiters.shift()
    if (waiter !== undefined) waiter(frame)
    else frames.push(frame)
  })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const next = async (): Promise<Record<string, unknown>> => {
    const frame = frames.shift()
    if (frame !== undefined) return frame
    return await Promise.race([
      new Promise<Record<string, unknown>>((resolve) => waiters.push(resolve)),
      new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('no frame within 5 s')), 5000))
    ])
  }
  return { ws, next }
}

async function until (next: () => Promise<Record<string, unknown>>, match: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (;;) {
    const frame = await next()
    if (match(frame)) return frame
  }
}

if (await redisAvailable(t)) {
  const prefix = `test-chat-scaleout-${process.pid}`
  t.teardown(async () => {
    const layer = new RedisChannelLayer({ url: REDIS_URL, prefix })
    await layer.flush()
    await layer.close()
  })

  t.test('two chat processes on one Redis share a room', async (t) => {
    const env = { REDIS_URL, LAYER_PREFIX: prefix }
    const [one, two] = await Promise.all([startExample(t, 'examples/chat/server.ts', env), startExample(t, 'examples/chat/server.ts', env)])
    t.not(one, two, 'two processes, two ports')
    const a = await open(`${one.replace('http', 'ws')}/ws/chat/shared/?user=ann`)
    const b = await open(`${two.replace('http', 'ws')}/ws/chat/shared/?user=ben`)
    t.teardown(() => { a.ws.terminate(); b.ws.terminate() })
    a.ws.send(JSON.stringify({ text: 'from process one' }))
    t.match(await until(b.next, (f) => f.type === 'chat.message'), { text: 'from process one', user: 'ann' }, 'reached the other process')
    const announced = await fetch(`${two}/rooms/shared/announce/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'via process two' }) })
    t.equal(announced.status, 202)
    t.match(await until(a.next, (f) => JSON.stringify(f).includes('via process two')), {}, 'an HTTP view on one process reaches a socket on the other')
  })

  t.test('a browser on process two shows what a client on process one sent', { skip: existsSync(chromiumPath) ? false : `${chromiumPath} not found` }, async (t) => {
    const env = { REDIS_URL, LAYER_PREFIX: prefix }
    const [one, two] = await Promise.all([startExample(t, 'examples/chat/server.ts', env), startExample(t, 'examples/chat/server.ts', env)])
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'] })
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    page.setDefaultTimeout(10000)
    await page.goto(two)
    await page.fill('#user', 'bea')
    await page.fill('#room', 'scaleout')
    await page.click('#join')
    await page.locator('#status', { hasText: 'In room scaleout' }).waitFor()
    const a = await open(`${one.replace('http', 'ws')}/ws/chat/scaleout/?user=al`)
    t.teardown(() => a.ws.terminate())
    a.ws.send(JSON.stringify({ text: 'hello across processes' }))
    await page.locator('#messages li', { hasText: 'al: hello across processes' }).waitFor()
    t.pass('the browser on the other process shows it')
  })
}
