import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { startExample } from './helpers.ts'

/** A `ws` client whose JSON frames queue up until read. */
async function listen (t: Test, url: string): Promise<{ next: (ms?: number) => Promise<any>, nothing: (ms?: number) => Promise<boolean> }> {
  const ws = new WebSocket(url)
  const frames: unknown[] = []
  const waiters: Array<() => void> = []
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()))
    waiters.shift()?.()
  })
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  t.teardown(async () => {
    if (ws.readyState !== WebSocket.CLOSED) ws.close()
    await closed
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const arrival = (ms: number): Promise<boolean> => new Promise((resolve) => {
    const waiter = (): void => { clearTimeout(timer); resolve(true) }
    const timer = setTimeout(() => { waiters.splice(waiters.indexOf(waiter), 1); resolve(false) }, ms)
    waiters.push(waiter)
  })
  return {
    async next (ms = 5000) {
      if (frames.length === 0 && !await arrival(ms)) throw new Error(`no frame within ${ms} ms`)
      return frames.shift()
    },
    async nothing (ms = 300) {
      return frames.length === 0 && !await arrival(ms)
    }
  }
}

const order = (base: string, body: string): Promise<Response> =>
  fetch(`${base}/orders/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })

t.test('async_to_sync: a sync view on a worker calls channelLayer.groupSend on the main loop', async (t) => {
  const base = await startExample(t, 'examples/async-to-sync/server.ts')
  const ws = base.replace(/^http/, 'ws') + '/ws/orders/'
  const alice = await listen(t, ws)
  const bob = await listen(t, ws)

  const response = await order(base, '{"item":"espresso","quantity":2}')
  t.equal(response.status, 201)
  const created = await response.json() as { id: string, item: string, quantity: number }
  t.match(created, { item: 'espresso', quantity: 2, id: /^[0-9a-f-]{36}$/ })

  // The group_send completed before the sync view returned, so the frames are already on their way.
  t.same(await alice.next(), { type: 'order.created', order: created }, 'the WebSocket client got the order')
  t.same(await bob.next(), { type: 'order.created', order: created }, 'every member of the group did')

  const second = await (await order(base, '{"item":"tea","quantity":1}')).json() as { id: string }
  t.equal((await alice.next()).order.id, second.id, 'a second order, in order')
  t.equal((await bob.next()).order.id, second.id)

  t.test('bad input never reaches the group', async (t) => {
    t.equal((await order(base, '{"item":"tea"}')).status, 400, 'missing quantity: the sync view\'s 400')
    t.equal((await order(base, 'not json')).status, 400, 'malformed JSON: BadRequest raised on the worker is still a 400')
    t.equal((await fetch(`${base}/orders/`)).status, 405, 'requirePOST')
    t.ok(await alice.nothing(), 'no frame for a refused order')
  })
})

t.test('async_to_sync: a sync getWeather() calling an async fetchTemperature()', async (t) => {
  const base = await startExample(t, 'examples/async-to-sync/server.ts')

  const paris = await fetch(`${base}/weather/paris/`)
  t.equal(paris.status, 200)
  t.same(await paris.json(), { city: 'paris', celsius: 23, summary: 'warm' }, 'the number came back through asyncToSync, not a Promise')

  // Ten at once, on a pool of one thread per CPU: each answer reaches its own caller.
  const cities = ['oslo', 'rome', 'lima', 'cairo', 'delhi', 'quito', 'sofia', 'baku', 'riga', 'doha']
  const answers = await Promise.all(cities.map(async (city) => await (await fetch(`${base}/weather/${city}/`)).json() as { city: string, celsius: number }))
  t.same(answers.map((a) => a.city), cities)
  for (const a of answers) t.ok(Number.isInteger(a.celsius) && a.celsius >= 5 && a.celsius < 30, `${a.city}: ${a.celsius} °C`)
  t.same(await (await fetch(`${base}/weather/paris/`)).json(), { city: 'paris', celsius: 23, summary: 'warm' }, 'the same city, the same answer')
  t.equal((await fetch(`${base}/weather/not%20a%20slug/`)).status, 404, 'slug converter')
})
