import t from 'tap'
import { startExample } from './helpers.ts'

t.test('the guide\'s async view: 20 sleeping requests finish in about one sleep', async (t) => {
  const base = await startExample(t, 'examples/async-view/server.ts')
  const first = await fetch(`${base}/async/`)
  t.equal(first.status, 200)
  t.same(await first.json(), { message: 'This is an async view.' })
  const started = performance.now()
  const bodies = await Promise.all(Array.from({ length: 20 }, async () => await (await fetch(`${base}/async/`)).json() as { message: string }))
  const elapsed = performance.now() - started
  t.equal(bodies.length, 20)
  t.ok(bodies.every((b) => b.message === 'This is an async view.'))
  t.ok(elapsed >= 950, `took ${Math.round(elapsed)} ms (at least one sleep)`)
  t.ok(elapsed < 3000, `took ${Math.round(elapsed)} ms, about one sleep, not twenty`)
})
