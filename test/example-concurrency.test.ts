import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { startExample } from './helpers.ts'

async function timed (url: string): Promise<{ status: number, body: any, ms: number, doneAt: number }> {
  const started = performance.now()
  const response = await fetch(url)
  const body = await response.json()
  const doneAt = performance.now()
  return { status: response.status, body, ms: doneAt - started, doneAt }
}

t.test('50 requests to a 500 ms async view, all at once', async (t) => {
  const base = await startExample(t, 'examples/concurrency/server.ts')
  await timed(`${base}/ping/`) // the first request pays for nothing but itself

  const started = performance.now()
  const results = await Promise.all(Array.from({ length: 50 }, async () => await timed(`${base}/slow/`)))
  const total = performance.now() - started
  t.comment(`50 concurrent requests to slow/ (500 ms each) took ${Math.round(total)} ms in all; one after the other would be 25000 ms`)
  t.ok(results.every((r) => r.status === 200 && r.body.slept === 0.5), 'all 50 answered')
  t.ok(total >= 490, 'each one did wait its 500 ms')
  t.ok(total < 2000, `all done in ${Math.round(total)} ms (< 2000 ms)`)
})

t.test('CPU-bound work: on a worker (syncView) the loop stays free; on the loop it blocks', async (t) => {
  const base = await startExample(t, 'examples/concurrency/server.ts')
  t.match((await timed(`${base}/primes/?below=100`)).body, { below: 100, primes: 25 }, 'warm-up: 25 primes below 100, and a started worker')
  t.equal((await timed(`${base}/primes/?below=nope`)).status, 400, 'BadRequest thrown on the worker is a 400')
  t.equal((await timed(`${base}/primes/blocking/?below=nope`)).status, 400)

  t.test('syncView: ping/ answers while the primes are counted', async (t) => {
    const primes = timed(`${base}/primes/?below=3000000`)
    await sleep(200)
    const pings = []
    for (let i = 0; i < 5; i++) pings.push(await timed(`${base}/ping/`))
    const counted = await primes
    t.equal(counted.status, 200)
    t.equal(counted.body.primes, 216816, 'the right count')
    t.comment(`primes below 3,000,000 took ${counted.body.ms} ms on a worker; 5 pings meanwhile took ${pings.map((p) => Math.round(p.ms)).join(', ')} ms`)
    t.ok(pings.every((p) => p.doneAt < counted.doneAt), 'every ping answered before the primes did')
    t.ok(pings.every((p) => p.ms < 200), 'and each at once')
  })

  t.test('on the event loop (the mistake): ping/ waits for the count', async (t) => {
    const primes = timed(`${base}/primes/blocking/?below=3000000`)
    await sleep(200)
    const ping = await timed(`${base}/ping/`)
    const counted = await primes
    t.equal(counted.body.primes, 216816)
    t.comment(`primes below 3,000,000 took ${counted.body.ms} ms on the loop; a ping sent meanwhile took ${Math.round(ping.ms)} ms`)
    t.ok(ping.doneAt > counted.doneAt, 'the ping could only be answered after the count')
  })
})
