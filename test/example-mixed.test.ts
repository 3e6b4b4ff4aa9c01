import t, { type Test } from 'tap'
import { pbkdf2Sync } from 'node:crypto'
import { startExample } from './helpers.ts'

interface Mixed { sync_result: string, async_result: { now: string } }

function checkMixed (t: Test, body: Mixed): void {
  t.same(Object.keys(body).sort(), ['async_result', 'sync_result'])
  const [algorithm, iterations, salt, hash] = body.sync_result.split('$')
  t.equal(algorithm, 'pbkdf2_sha256')
  t.equal(iterations, '600000')
  t.match(salt, /^[a-zA-Z0-9]{22}$/)
  t.equal(hash, pbkdf2Sync('correct horse battery staple', salt, 600_000, 32, 'sha256').toString('base64'), 'a hash Django\'s check_password accepts')
  t.ok(Math.abs(Date.parse(body.async_result.now) - Date.now()) < 10_000, 'the clock/ view answered the fetch')
}

async function timed (url: string): Promise<{ ms: number, body: Mixed }> {
  const started = performance.now()
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${await response.text()}`)
  const body = await response.json() as Mixed
  return { ms: performance.now() - started, body }
}

t.test('the guide\'s mixed_view: a blocking sync function and an async one', async (t) => {
  const base = await startExample(t, 'examples/mixed/server.ts')

  const sequential = [await timed(`${base}/mixed/`), await timed(`${base}/mixed/`), await timed(`${base}/mixed/`)]
  const concurrent = [await timed(`${base}/mixed/concurrent/`), await timed(`${base}/mixed/concurrent/`), await timed(`${base}/mixed/concurrent/`)]
  checkMixed(t, sequential[0].body)
  checkMixed(t, concurrent[0].body)
  t.not(sequential[0].body.sync_result, sequential[1].body.sync_result, 'a random salt each time')

  // Sequential costs hash + 200 ms of clock; Promise.all about the longer of the two.
  const seq = Math.min(...sequential.map((r) => r.ms))
  const conc = Math.min(...concurrent.map((r) => r.ms))
  t.ok(seq >= 200, `mixed/ took ${Math.round(seq)} ms: the hash, then the 200 ms fetch`)
  // At least half the hash's time saved (the hash takes ~80 ms on Node 24, more on 20).
  const hash = seq - 200
  t.ok(conc < seq - hash / 2, `mixed/concurrent/ took ${Math.round(conc)} ms against ${Math.round(seq)} ms (a ${Math.round(hash)} ms hash): both at once`)
})

t.test('the hashing runs off the event loop', async (t) => {
  const base = await startExample(t, 'examples/mixed/server.ts')
  await timed(`${base}/mixed/`) // starts the pool's workers

  const busy = Promise.all(Array.from({ length: 4 }, async () => await timed(`${base}/mixed/concurrent/`)))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const started = performance.now()
  const clock = await fetch(`${base}/clock/`)
  const clockMs = performance.now() - started
  t.equal(clock.status, 200)
  await clock.json()
  const results = await busy
  results.forEach((r) => checkMixed(t, r.body))
  t.ok(clockMs < 600, `clock/ (a 200 ms timer) answered in ${Math.round(clockMs)} ms while four hashes ran`)
})
