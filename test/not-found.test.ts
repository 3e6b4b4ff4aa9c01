import t from 'tap'
import Fastify from 'fastify'
import asyncViews, { path, JsonResponse, type AsyncViewsOptions } from 'fastify-async-views'
import { captureLogs } from './helpers.ts'

// One 404 for the app's URL space: a path no route serves and a path a view
// route took but no converter accepted get the same body, the same handler404
// and, with debug, the same list of patterns tried.

const urlpatterns = [
  path('items/<int:id>/', async (_request, { id }) => ({ id }), { name: 'item' }),
  path('about/', async () => ({ about: true }))
]

async function app (options: Partial<AsyncViewsOptions> = {}, register: Record<string, unknown> = {}): Promise<ReturnType<typeof Fastify>> {
  const instance = Fastify()
  instance.get('/plain', async () => 'plain')
  await instance.register(asyncViews, { urlpatterns, ...options, ...register } as AsyncViewsOptions)
  return instance
}

const PRODUCTION_404 = { statusCode: 404, error: 'Not Found', message: 'The requested resource was not found on this server.' }

t.test('an unmatched path and a converter mismatch get one body', async (t) => {
  const instance = await app()
  t.teardown(() => instance.close())
  const unmatched = await instance.inject('/nowhere/')
  const mismatch = await instance.inject('/items/abc/')
  t.equal(unmatched.statusCode, 404)
  t.same(unmatched.json(), PRODUCTION_404, "no route at all: not Fastify's 'Route GET:/nowhere/ not found'")
  t.equal(mismatch.statusCode, 404)
  t.same(mismatch.json(), PRODUCTION_404, 'a converter mismatch: the same body, no mention of a list it does not show')
  t.equal(unmatched.headers['content-type'], mismatch.headers['content-type'])
  t.equal((await instance.inject('/plain')).statusCode, 200, 'plain routes are untouched')
})

t.test('handler404 answers both', async (t) => {
  const seen: string[] = []
  const instance = await app({
    handler404: async (request) => {
      seen.push(request.path)
      return new JsonResponse({ custom: true }, { status: 404 })
    }
  })
  t.teardown(() => instance.close())
  t.same((await instance.inject('/nowhere/')).json(), { custom: true })
  t.same((await instance.inject('/items/abc/')).json(), { custom: true })
  t.same(seen, ['/nowhere/', '/items/abc/'])
})

t.test('debug lists the patterns tried for both', async (t) => {
  const instance = await app({ debug: true })
  t.teardown(() => instance.close())
  for (const url of ['/nowhere/', '/items/abc/']) {
    const body = (await instance.inject(url)).json()
    t.equal(body.statusCode, 404)
    t.match(body.message, /didn't match any of these/, `${url}: Django's technical message`)
    t.same(body.tried, ["items/<int:id>/ [name='item']", 'about/'], `${url}: the patterns tried`)
  }
})

t.test("under a prefix, paths outside it keep Fastify's own 404", async (t) => {
  const instance = await app({}, { prefix: '/api' })
  t.teardown(() => instance.close())
  t.same((await instance.inject('/api/nowhere/')).json(), PRODUCTION_404)
  const outside = await instance.inject('/elsewhere/')
  t.equal(outside.statusCode, 404)
  t.match(outside.json().message, /Route GET:\/elsewhere\/ not found/)
})

t.test('APPEND_SLASH still comes first', async (t) => {
  const instance = await app()
  t.teardown(() => instance.close())
  const res = await instance.inject('/about')
  t.equal(res.statusCode, 301)
  t.equal(res.headers.location, '/about/')
})

t.test('a 500 from a body Fastify cannot serialise names the request and the view', async (t) => {
  const logs = captureLogs()
  const instance = Fastify(logs.options)
  await instance.register(asyncViews, { urlpatterns: [path('big/', async function bigView () { return { n: 1n } })] })
  t.teardown(() => instance.close())
  const res = await instance.inject('/big/')
  t.equal(res.statusCode, 500)
  const line = logs.lines.find((l) => l.level === 50)
  t.match(line?.msg, /GET \/big\//, 'the log names the request')
  t.match(line?.msg, /bigView/, 'and the view')
  t.match(line?.msg, /BigInt/, "and what went wrong (JSON's own message)")
})
