import t from 'tap'
import {
  path, View, RedirectView, JsonResponse, HttpResponse, Http404,
  requireHttpMethods, requireGET, requirePOST, requireSAFE, redirect, getObjectOr404, getListOr404,
  type HttpRequest, type ViewFunction
} from 'fastify-async-views'
import { build, captureLogs } from './helpers.ts'

t.test('function views return responses, objects or arrays', async (t) => {
  const logs = captureLogs('error')
  const app = await build(t, {
    urlpatterns: [
      path('resp/', async () => new HttpResponse('hi', { status: 201, headers: { 'x-a': '1' } })),
      path('obj/', async () => ({ a: 1 })),
      path('arr/', async () => [1, 2]),
      path('sync/', () => ({ sync: true })),
      path('nullproto/', async () => Object.assign(Object.create(null), { n: 1 })),
      path('str/', async function stringView () { return 'nope' as never }),
      path('undef/', async function forgetfulView () { return undefined as never }),
      path('date/', async function dateView () { return new Date() })
    ]
  }, logs.options)
  const resp = await app.inject('/resp/')
  t.equal(resp.statusCode, 201)
  t.equal(resp.body, 'hi')
  t.equal(resp.headers['x-a'], '1')
  t.same((await app.inject('/obj/')).json(), { a: 1 })
  t.same((await app.inject('/arr/')).json(), [1, 2])
  t.same((await app.inject('/sync/')).json(), { sync: true })
  t.same((await app.inject('/nullproto/')).json(), { n: 1 })
  for (const [url, name] of [['/str/', 'stringView'], ['/undef/', 'forgetfulView'], ['/date/', 'dateView']]) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 500, url)
    t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
    t.ok(logs.lines.some((line) => line.level === 50 && String(line.err?.message).includes(`The view ${name} didn't return an HttpResponse object`)), `log names ${name}`)
  }
})

class ItemView extends View<{ id: number }> {
  greeting = 'hello'
  async get (request: HttpRequest, { id }: { id: number }): Promise<JsonResponse> {
    return new JsonResponse({ id, greeting: this.greeting, same: this.request === request, kwargs: this.kwargs })
  }

  async post (_request: HttpRequest, { id }: { id: number }): Promise<JsonResponse> {
    return new JsonResponse({ created: id }, { status: 201 })
  }
}

class HeadView extends View {
  async get (): Promise<HttpResponse> { return new HttpResponse('from get') }
  async head (): Promise<HttpResponse> { return new HttpResponse('', { headers: { 'x-head': 'own' } }) }
}

class PostOnly extends View {
  async post (): Promise<object> { return { ok: true } }
}

t.test('class views: asView, dispatch, 405, OPTIONS, HEAD', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('items/<int:id>/', ItemView.asView()),
      path('hi/<int:id>/', ItemView.asView({ greeting: 'bonjour' })),
      path('head/', HeadView.asView()),
      path('post-only/', PostOnly.asView())
    ]
  })
  t.same((await app.inject('/items/3/')).json(), { id: 3, greeting: 'hello', same: true, kwargs: { id: 3 } })
  t.same((await app.inject('/hi/3/')).json().greeting, 'bonjour')
  t.equal((await app.inject({ method: 'POST', url: '/items/3/' })).statusCode, 201)
  const put = await app.inject({ method: 'PUT', url: '/items/3/' })
  t.equal(put.statusCode, 405)
  t.equal(put.headers.allow, 'GET, POST, HEAD, OPTIONS')
  const options = await app.inject({ method: 'OPTIONS', url: '/items/3/' })
  t.equal(options.statusCode, 200)
  t.equal(options.headers.allow, 'GET, POST, HEAD, OPTIONS')
  t.equal(options.body, '')
  const head = await app.inject({ method: 'HEAD', url: '/items/3/' })
  t.equal(head.statusCode, 200, 'HEAD falls back to get')
  t.equal(head.body, '')
  t.equal((await app.inject({ method: 'HEAD', url: '/head/' })).headers['x-head'], 'own', 'an own head() wins')
  const get = await app.inject('/post-only/')
  t.equal(get.statusCode, 405)
  t.equal(get.headers.allow, 'POST, OPTIONS', 'no HEAD without get')
  t.equal((await app.inject({ method: 'DELETE', url: '/post-only/' })).statusCode, 405)
})

t.test('asView checks initkwargs and gives a fresh instance per request', async (t) => {
  t.throws(() => ItemView.asView({ get: 1 } as never), /method name get is not accepted/)
  t.throws(() => ItemView.asView({ nope: 1 } as never), /invalid keyword 'nope'/)
  const seen = new Set<unknown>()
  class Counter extends View {
    async get (): Promise<object> {
      seen.add(this)
      return {}
    }
  }
  const view = Counter.asView()
  t.equal(view.viewClass, Counter)
  t.equal(view.name, 'Counter')
  const app = await build(t, { urlpatterns: [path('c/', view)] })
  await app.inject('/c/')
  await app.inject('/c/')
  t.equal(seen.size, 2)
})

t.test('RedirectView', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('target/<int:id>/', async () => ({}), { name: 'target' }),
      path('to-url/<int:id>/', RedirectView.asView({ url: '/elsewhere/%(id)s/' })),
      path('to-name/<int:id>/', RedirectView.asView({ patternName: 'target', permanent: true, queryString: true })),
      path('gone/', RedirectView.asView())
    ]
  })
  const a = await app.inject('/to-url/4/')
  t.equal(a.statusCode, 302)
  t.equal(a.headers.location, '/elsewhere/4/')
  const b = await app.inject('/to-name/5/?x=1')
  t.equal(b.statusCode, 301)
  t.equal(b.headers.location, '/target/5/?x=1')
  t.equal((await app.inject({ method: 'POST', url: '/to-url/4/' })).statusCode, 302)
  t.equal((await app.inject('/gone/')).statusCode, 410)
})

t.test('requireHttpMethods and friends', async (t) => {
  const ok: ViewFunction = async () => ({ ok: true })
  const app = await build(t, {
    urlpatterns: [
      path('gp/', requireHttpMethods(['GET', 'post'])(ok)),
      path('get/', requireGET(ok)),
      path('post/', requirePOST(ok)),
      path('safe/', requireSAFE(ok))
    ]
  })
  t.equal((await app.inject('/gp/')).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/gp/' })).statusCode, 200)
  const put = await app.inject({ method: 'PUT', url: '/gp/' })
  t.equal(put.statusCode, 405)
  t.equal(put.headers.allow, 'GET, POST')
  t.equal((await app.inject({ method: 'POST', url: '/get/' })).statusCode, 405)
  t.equal((await app.inject('/post/')).statusCode, 405)
  t.equal((await app.inject({ method: 'HEAD', url: '/safe/' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/safe/' })).headers.allow, 'GET, HEAD')
})

t.test('redirect() to URLs, names and objects', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('post/<int:id>/', async () => ({}), { name: 'post' }),
      path('blog/', async () => ({}), { name: 'blog.index' }),
      path('r-url/', async () => redirect('/somewhere/')),
      path('r-abs/', async () => redirect('https://example.com/x')),
      path('r-name/', async () => redirect('post', { kwargs: { id: 9 } })),
      path('r-perm/', async () => redirect('post', { args: [1], permanent: true })),
      path('r-dotted/', async () => redirect('blog.index')),
      path('r-relfile/', async () => redirect('page.html')),
      path('r-obj/', async () => redirect({ getAbsoluteUrl: () => '/from/object/' })),
      path('r-bad/', async () => redirect('no-such-name')),
      path('r-js/', async () => redirect('javascript://alert(1)'))
    ]
  })
  const loc = async (url: string) => { const r = await app.inject(url); return [r.statusCode, r.headers.location] }
  t.same(await loc('/r-url/'), [302, '/somewhere/'])
  t.same(await loc('/r-abs/'), [302, 'https://example.com/x'])
  t.same(await loc('/r-name/'), [302, '/post/9/'])
  t.same(await loc('/r-perm/'), [301, '/post/1/'])
  t.same(await loc('/r-dotted/'), [302, '/blog/'], 'a name with a dot is reversed first')
  t.same(await loc('/r-relfile/'), [302, 'page.html'], 'unknown dotted names are URLs')
  t.same(await loc('/r-obj/'), [302, '/from/object/'])
  t.equal((await app.inject('/r-bad/')).statusCode, 500, 'an unknown name is a server error (NoReverseMatch)')
  t.equal((await app.inject('/r-js/')).statusCode, 400, 'unsafe scheme refused')
})

t.test('getObjectOr404 and getListOr404', async (t) => {
  const posts = new Map([[1, { id: 1, title: 'one' }]])
  const app = await build(t, {
    urlpatterns: [
      path('p/<int:id>/', async (_request, { id }) => getObjectOr404(Promise.resolve(posts.get(id)))),
      path('list/<int:n>/', async (_request, { n }) => getListOr404(Array.from({ length: n }, (_, i) => i)))
    ]
  })
  t.same((await app.inject('/p/1/')).json(), { id: 1, title: 'one' })
  const missing = await app.inject('/p/2/')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().message, 'No object matches the given query.')
  t.same((await app.inject('/list/2/')).json(), [0, 1])
  t.equal((await app.inject('/list/0/')).statusCode, 404)
  await t.rejects(getObjectOr404(null, 'custom'), new Http404('custom'))
})
