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

t.test('urls.py: a converter, a regex pattern and a namespaced include, reversed by name', async (t) => {
  const base = await startExample(t, 'examples/async-view/server.ts')
  const year = await fetch(`${base}/archive/2024/`)
  t.equal(year.status, 200)
  const months = Array.from({ length: 12 }, (_, i) => `/archive/2024/${String(i + 1).padStart(2, '0')}/`)
  t.same(await year.json(), { year: 2024, months }, "the int converter gives a number; reverse('archive:month') builds each URL")
  const month = await fetch(`${base}/archive/2024/03/`)
  t.equal(month.status, 200)
  t.same(await month.json(), { year: '2024', month: '03', yearUrl: '/archive/2024/' }, "rePath kwargs are strings; reverse('archive:year') goes back")
  t.equal((await fetch(`${base}/archive/2024/13/`)).status, 404, 'the regex admits months 01 to 12 only')
  t.equal((await fetch(`${base}/archive/twenty/`)).status, 404, 'the int converter admits digits only')
})
