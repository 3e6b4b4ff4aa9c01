import t from 'tap'
import Fastify from 'fastify'
import asyncViews, {
  path, rePath, include, registerConverter, JsonResponse, ImproperlyConfigured, NoReverseMatch, type HttpRequest
} from 'fastify-async-views'
import { build } from './helpers.ts'

const echo = (name: string) => {
  const view = async (request: HttpRequest, kwargs: Record<string, unknown>) =>
    new JsonResponse({ view: name, kwargs, args: request.resolverMatch?.args ?? [] })
  Object.defineProperty(view, 'name', { value: name })
  return view
}

t.test('converters turn URL parts into typed kwargs', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('int/<int:n>/', echo('int')),
      path('str/<str:s>/', echo('str')),
      path('bare/<s>/', echo('bare')),
      path('slug/<slug:s>/', echo('slug')),
      path('uuid/<uuid:u>/', echo('uuid')),
      path('path/<path:p>', echo('path'))
    ]
  })
  const get = async (url: string) => { const r = await app.inject(url); return { status: r.statusCode, body: r.statusCode === 200 ? r.json() : undefined } }
  t.same((await get('/int/42/')).body.kwargs, { n: 42 })
  t.equal(typeof (await get('/int/42/')).body.kwargs.n, 'number')
  t.equal((await get('/int/4x/')).status, 404)
  t.equal((await get('/int/-1/')).status, 404)
  t.equal((await get(`/int/${Number.MAX_SAFE_INTEGER}/`)).status, 200)
  t.equal((await get('/int/9007199254740993/')).status, 404, 'above MAX_SAFE_INTEGER does not convert')
  t.same((await get('/str/caf%C3%A9/')).body.kwargs, { s: 'café' }, 'percent-decoded')
  t.equal((await get('/str/a%2Fb/')).status, 404, 'str never holds a slash')
  t.same((await get('/bare/x/')).body.kwargs, { s: 'x' }, 'no converter means str')
  t.same((await get('/slug/a-b_C9/')).body.kwargs, { s: 'a-b_C9' })
  t.equal((await get('/slug/a.b/')).status, 404)
  const uuid = '6f1e0c3a-2b4d-4e5f-8a9b-0c1d2e3f4a5b'
  t.same((await get(`/uuid/${uuid}/`)).body.kwargs, { u: uuid })
  t.equal((await get(`/uuid/${uuid.toUpperCase()}/`)).status, 404, 'uuid is lower-case')
  t.same((await get('/path/a/b/c.txt')).body.kwargs, { p: 'a/b/c.txt' })
})

t.test('patterns of one shape share a Fastify route and are tried in order', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('articles/<int:year>/', echo('year')),
      path('articles/<slug:slug>/', echo('slug')),
      path('articles/<str:rest>/', echo('rest'))
    ]
  })
  t.equal((await app.inject('/articles/2024/')).json().view, 'year')
  t.equal((await app.inject('/articles/hello-world/')).json().view, 'slug')
  t.equal((await app.inject('/articles/a.b/')).json().view, 'rest')
  const routes = app.printRoutes({ commonPrefix: false })
  t.equal(routes.match(/articles\/:year\//g)?.length, 1, 'one Fastify route for the shape')
})

t.test('every pattern is a real Fastify route with its options', async (t) => {
  const seen: string[] = []
  const app = await build(t, {
    urlpatterns: [
      path('limited/', async (request) => ({ size: request.body.length }), {
        bodyLimit: 10,
        config: { tag: 'limited' },
        onRequest: async (request) => { seen.push((request.routeOptions.config as { tag?: string }).tag ?? '') }
      }),
      path('validated/', async (request) => ({ q: request.GET.get('n') }), {
        schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } }
      }),
      path('posted/', async (request) => ({ got: request.json() }), {
        schema: { body: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } }
      })
    ]
  })
  t.match(app.printRoutes(), /limited\//)
  t.ok(app.hasRoute({ method: 'GET', url: '/limited/' }))
  t.equal((await app.inject({ method: 'POST', url: '/limited/', payload: 'x'.repeat(50) })).statusCode, 413)
  t.same((await app.inject({ method: 'POST', url: '/limited/', payload: 'x'.repeat(5) })).json(), { size: 5 })
  t.same(seen, ['limited', 'limited'], 'route-level onRequest and config passed through')
  t.equal((await app.inject('/validated/')).statusCode, 400)
  t.same((await app.inject('/validated/?n=3')).json(), { q: '3' })
  const bad = await app.inject({ method: 'POST', url: '/posted/', payload: { a: 'x' } })
  t.equal(bad.statusCode, 400)
  const good = await app.inject({ method: 'POST', url: '/posted/', payload: { a: 1 } })
  t.same(good.json(), { got: { a: 1 } })
})

t.test('rePath with Python and JS named groups, unnamed groups as args', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      rePath('^articles/(?P<year>[0-9]{4})/$', echo('py'), { name: 'py' }),
      rePath(/^months\/(?<month>0[1-9]|1[0-2])\/$/, echo('js'), { name: 'js' }),
      rePath('^pos/([a-z]+)/([0-9]+)/$', echo('pos'), { name: 'pos' }),
      rePath('^prefix/', echo('prefix'))
    ]
  })
  t.same((await app.inject('/articles/2020/')).json().kwargs, { year: '2020' })
  t.equal((await app.inject('/articles/20201/')).statusCode, 404)
  t.same((await app.inject('/months/12/')).json().kwargs, { month: '12' })
  t.equal((await app.inject('/months/13/')).statusCode, 404)
  const pos = (await app.inject('/pos/abc/12/')).json()
  t.same(pos.args, ['abc', '12'])
  t.same(pos.kwargs, {})
  t.equal((await app.inject('/prefix/anything/below')).json().view, 'prefix', 'no $ matches any path it starts')
  t.equal(app.reverse('py', { kwargs: { year: 1999 } }), '/articles/1999/')
  t.equal(app.reverse('pos', { args: ['ab', 3] }), '/pos/ab/3/')
  t.throws(() => app.reverse('py', { kwargs: { year: 99 } }), NoReverseMatch)
})

t.test('include: lists, modules, promises and namespaces', async (t) => {
  const inner = [path('<int:id>/', echo('detail'), { name: 'detail' })]
  const app = await build(t, {
    urlpatterns: [
      path('list/', include(inner, { namespace: 'lst' })),
      path('mod/', include({ urlpatterns: inner, appName: 'modapp' })),
      path('lazy/', include(Promise.resolve({ urlpatterns: inner }), { namespace: 'lazy' })),
      path('blog/', include(import('./fixtures/urls/blog-urls.ts'))),
      path('year/<int:year>/', include([path('<slug:s>/', echo('nested'), { name: 'nested' })], { namespace: 'y' }))
    ]
  })
  t.same((await app.inject('/list/3/')).json().kwargs, { id: 3 })
  t.same((await app.inject('/mod/4/')).json().kwargs, { id: 4 })
  t.same((await app.inject('/lazy/5/')).json().kwargs, { id: 5 })
  t.same((await app.inject('/blog/')).json(), { page: 'index' })
  t.same((await app.inject('/blog/my-post/')).json(), { slug: 'my-post' })
  t.same((await app.inject('/year/2021/intro/')).json().kwargs, { year: 2021, s: 'intro' })
  t.equal(app.reverse('lst:detail', { kwargs: { id: 1 } }), '/list/1/')
  t.equal(app.reverse('modapp:detail', { kwargs: { id: 2 } }), '/mod/2/', 'appName is the default namespace')
  t.equal(app.reverse('lazy:detail', { kwargs: { id: 3 } }), '/lazy/3/')
  t.equal(app.reverse('blog:post', { kwargs: { slug: 'x' } }), '/blog/x/')
  t.equal(app.reverse('y:nested', { kwargs: { year: 2000, s: 'a' } }), '/year/2000/a/')
  t.throws(() => app.reverse('detail', { kwargs: { id: 1 } }), NoReverseMatch, 'a namespaced name needs its namespace')
})

t.test('resolverMatch describes the match', async (t) => {
  let seen: unknown
  const app = await build(t, {
    urlpatterns: [path('shop/', include([path('<int:id>/', async function productDetail (request) {
      seen = request.resolverMatch
      return {}
    }, { name: 'product' })], { namespace: 'shop' }))]
  })
  await app.inject('/shop/7/')
  t.match(seen, { urlName: 'product', route: 'shop/<int:id>/', kwargs: { id: 7 }, args: [], namespaces: ['shop'], namespace: 'shop', viewName: 'shop:product' })
})

t.test('reverse: kwargs, args, query, encoding and NoReverseMatch', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('p/<int:id>/<slug:s>/', echo('p'), { name: 'p' }),
      path('files/<path:f>', echo('f'), { name: 'f' }),
      path('s/<str:q>/', echo('s'), { name: 's' }),
      path('x/', echo('x1'), { name: 'multi' }),
      path('x/<int:n>/', echo('x2'), { name: 'multi' })
    ]
  })
  t.equal(app.reverse('p', { kwargs: { id: 1, s: 'a-b' } }), '/p/1/a-b/')
  t.equal(app.reverse('p', { args: [2, 'c'] }), '/p/2/c/')
  t.equal(app.reverse('f', { kwargs: { f: 'a b/c d.txt' } }), '/files/a%20b/c%20d.txt', 'path keeps slashes, encodes the rest')
  t.equal(app.reverse('s', { kwargs: { q: 'ça va?' } }), '/s/%C3%A7a%20va%3F/')
  t.equal(app.reverse('s', { kwargs: { q: 'x' }, query: { a: 1, b: ['x', 'y'] } }), '/s/x/?a=1&b=x&b=y')
  t.equal(app.reverse('multi'), '/x/')
  t.equal(app.reverse('multi', { kwargs: { n: 3 } }), '/x/3/', 'several patterns of one name are tried')
  const unknown = t.throws(() => app.reverse('nope')) as unknown as NoReverseMatch
  t.type(unknown, NoReverseMatch)
  t.match(unknown.message, /not a valid view function or pattern name/)
  const wrong = t.throws(() => app.reverse('p', { kwargs: { id: 'abc', s: 'x' } })) as unknown as NoReverseMatch
  t.match(wrong.message, /1 pattern\(s\) tried: \['p\/<int:id>\/<slug:s>\/'\]/)
  t.throws(() => app.reverse('p', { kwargs: { id: 1 } }), NoReverseMatch, 'missing kwarg')
  t.throws(() => app.reverse('p', { kwargs: { id: 1, s: 'x', extra: 1 } }), NoReverseMatch, 'extra kwarg')
  t.throws(() => app.reverse('p', { args: [1], kwargs: { s: 'x' } }), TypeError, 'args and kwargs do not mix')
  t.throws(() => app.reverse('s', { kwargs: { q: 'a/b' } }), NoReverseMatch, 'str never takes a slash')
})

t.test('request.reverse and the Fastify prefix', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(async (api) => {
    await api.register(asyncViews, {
      prefix: '/v1',
      urlpatterns: [
        path('', async (request) => ({ self: request.reverse('root') }), { name: 'root' }),
        path('items/<int:id>/', async (request, { id }) => ({ self: request.reverse('item', { kwargs: { id } }), pathInfo: request.pathInfo, path: request.path }), { name: 'item' })
      ]
    })
  }, { prefix: '/api' })
  await app.ready()
  t.same((await app.inject('/api/v1/items/9/')).json(), { self: '/api/v1/items/9/', pathInfo: '/items/9/', path: '/api/v1/items/9/' })
  t.same((await app.inject('/api/v1/')).json(), { self: '/api/v1/' })
  t.equal((await app.inject('/api/v1')).statusCode, 301, 'the prefix root without slash is appendSlash-redirected')
})

t.test('registerConverter: custom converters, toJs throwing means no match', async (t) => {
  registerConverter('fourdigit', {
    regex: '[0-9]{4}',
    toJs: (value) => {
      const n = Number(value)
      if (n < 1900) throw new Error('too old')
      return n
    },
    toUrl: (value: number) => String(value).padStart(4, '0')
  })
  t.throws(() => registerConverter('int', { regex: 'x', toJs: String, toUrl: String }), ImproperlyConfigured)
  t.throws(() => registerConverter('fourdigit', { regex: 'x', toJs: String, toUrl: String }), /already registered/)
  t.throws(() => registerConverter('bad regex', { regex: 'x', toJs: String, toUrl: String }), ImproperlyConfigured)
  t.throws(() => registerConverter('badre', { regex: '(', toJs: String, toUrl: String }), /invalid regex/)
  const app = await build(t, { urlpatterns: [path('y/<fourdigit:year>/', echo('y'), { name: 'y' })] })
  t.same((await app.inject('/y/2024/')).json().kwargs, { year: 2024 })
  t.equal((await app.inject('/y/1800/')).statusCode, 404, 'toJs threw')
  t.equal((await app.inject('/y/20245/')).statusCode, 404)
  t.equal(app.reverse('y', { kwargs: { year: 2001 } }), '/y/2001/')
})

t.test('conflicts and bad patterns are reported at registration', async (t) => {
  const attempt = async (urlpatterns: unknown[]) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(asyncViews, { urlpatterns: urlpatterns as never })
    await app.ready()
  }
  const view = echo('v')
  await t.rejects(attempt([path('a/<int:x>/', view, { name: 'first' }), path('a/<int:y>/', view, { name: 'second' })]), {
    name: 'ImproperlyConfigured', message: /first.*second.*match exactly the same URLs/
  })
  await t.rejects(attempt([path('a/<str:x>/', view), path('a/<str:x>/', view)]), ImproperlyConfigured)
  await t.rejects(attempt([path('a/<nope:x>/', view)]), { message: /invalid converter 'nope'/ })
  await t.rejects(attempt([path('a/<int: x>/', view)]), { message: /whitespace/ })
  await t.rejects(attempt([path('a/<int:x>/<int:x>/', view)]), { message: /twice/ })
  await t.rejects(attempt([rePath('^a/(?P<x>[0-9]+$', view)]), { message: /not a valid regular expression/ })
  await t.rejects(attempt(['not a pattern']), { message: /holds a string/ })
  await t.rejects(attempt([path('b/', include(Promise.reject(new Error('boom'))))]), { message: /failed to load: boom/ })
  // A plain Fastify route already on the URL.
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/taken/', async () => ({}))
  await t.rejects((async () => {
    await app.register(asyncViews, { urlpatterns: [path('taken/', view)] })
    await app.ready()
  })(), { name: 'ImproperlyConfigured', message: /taken\/.*another route already serves/ })
})

t.test('pattern and include arguments are checked', async (t) => {
  t.throws(() => path('a/', 'not a view' as never), ImproperlyConfigured)
  t.throws(() => path('a/', echo('v'), { name: 'bad:name' }), ImproperlyConfigured)
  t.throws(() => include([], { namespace: 'a:b' }), ImproperlyConfigured)
  t.throws(() => rePath(/a/i, echo('v')), /flags/)
  t.throws(() => path('a/', include([]), { name: 'x' } as never), /only the kwargs option/)
})

t.test('urlconf option loads a module', async (t) => {
  const app = await build(t, { urlconf: new URL('./fixtures/urls/root-urls.ts', import.meta.url) })
  t.same((await app.inject('/hello/')).json(), { hello: 'from urlconf' })
  t.same((await app.inject('/blog/x/')).json(), { slug: 'x' })
  t.equal(app.reverse('blog:post', { kwargs: { slug: 'y' } }), '/blog/y/')
  const bad = Fastify()
  t.teardown(() => bad.close())
  await t.rejects((async () => {
    await bad.register(asyncViews, { urlconf: '/nonexistent/urls.js' })
    await bad.ready()
  })(), { name: 'ImproperlyConfigured', message: /urlconf: could not import/ })
})

t.test('appendSlash redirects GET/HEAD to the slashed pattern only', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/plain', async () => ({ plain: true }))
  await app.register(asyncViews, {
    urlpatterns: [path('posts/', echo('posts')), path('posts/<int:id>/', echo('post')), path('exact', echo('exact')), path('plain/', echo('plain-view'))]
  })
  const r1 = await app.inject('/posts?page=2')
  t.equal(r1.statusCode, 301)
  t.equal(r1.headers.location, '/posts/?page=2', 'query kept')
  t.equal((await app.inject('/posts/12')).headers.location, '/posts/12/')
  t.equal((await app.inject({ method: 'HEAD', url: '/posts' })).statusCode, 301)
  t.equal((await app.inject({ method: 'POST', url: '/posts' })).statusCode, 404, 'other methods get the 404')
  t.equal((await app.inject('/posts/abc')).statusCode, 404, 'only when the slashed URL resolves')
  t.equal((await app.inject('/exact')).statusCode, 200)
  t.equal((await app.inject('/nothing')).statusCode, 404)
  t.same((await app.inject('/plain')).json(), { plain: true }, 'a plain Fastify route is served, not redirected')
  const off = await build(t, { appendSlash: false, urlpatterns: [path('posts/', echo('posts'))] })
  t.equal((await off.inject('/posts')).statusCode, 404)
})

t.test('appendSlash never makes a protocol-relative redirect', async (t) => {
  const app = await build(t, { urlpatterns: [path('<path:rest>/', echo('any'))] })
  for (const url of ['//evil.com', '/\\evil.com', '//evil.com/x']) {
    const res = await app.inject(url)
    if (res.statusCode === 301) {
      t.notMatch(res.headers.location, /^\/\//, `${url} -> ${res.headers.location}`)
      t.notMatch(res.headers.location, /^\/\\/, `${url} -> ${res.headers.location}`)
    } else {
      t.equal(res.statusCode, 404)
    }
  }
})
