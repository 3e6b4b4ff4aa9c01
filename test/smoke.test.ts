import t from 'tap'
import { path, JsonResponse } from 'fastify-async-views'
import { build } from './helpers.ts'

t.test('a view answers through the plugin', async (t) => {
  const app = await build(t, { urlpatterns: [path('hello/', async () => new JsonResponse({ ok: true }))] })
  const res = await app.inject('/hello/')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { ok: true })
})
