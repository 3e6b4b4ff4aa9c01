import t from 'tap'
import Fastify from 'fastify'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import asyncViews, {
  path, render, TemplateResponse, TemplateDoesNotExist, TemplateSyntaxError, ImproperlyConfigured,
  type AsyncViewsOptions, type HttpRequest, type HttpResponse
} from 'fastify-async-views'
import { build, captureLogs } from './helpers.ts'

const dirs = fileURLToPath(new URL('./fixtures/templates/', import.meta.url))
const secretKey = 's'.repeat(40)
const PRODUCTION_500 = { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' }

function urls (): NonNullable<AsyncViewsOptions['urlpatterns']> {
  return [
    path('page/', async (request: HttpRequest) => await render(request, 'page.html', { title: '<script>x</script>', items: ['a', 'b'] }, { status: 201 })),
    path('empty/', async (request: HttpRequest) => await render(request, 'page.html', { title: 'Empty', items: [] })),
    path('detail/<int:id>/', async () => ({}), { name: 'detail' }),
    path('form/', async (request: HttpRequest) => await render(request, 'form.html')),
    path('submit/', async () => ({ ok: true })),
    path('plain/', async (request: HttpRequest) => await render(request, 'plain.html', { greeting: 'hi' })),
    path('lazy/', async (request: HttpRequest) => new TemplateResponse(request, 'plain.html', { greeting: 'lazy' })),
    path('missing/', async (request: HttpRequest) => await render(request, 'nowhere.html')),
    path('lazy-missing/', async (request: HttpRequest) => new TemplateResponse(request, 'nowhere.html')),
    path('broken/', async (request: HttpRequest) => await render(request, 'broken.html')),
    path('failing/', async (request: HttpRequest) => await render(request, 'failing.html'))
  ]
}

const templates = { dirs, globals: { site: 'Example' }, filters: { shout: (value: string) => `${value.toUpperCase()}!` } }

t.test('render() fills the context Django gives templates, autoescaped', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.addHook('onRequest', async (req) => {
    if (req.headers['x-user'] !== undefined) (req as { user?: unknown }).user = { name: req.headers['x-user'] }
  })
  await app.register(asyncViews, { urlpatterns: urls(), templates })
  await app.ready()
  const res = await app.inject({ url: '/page/?q=1' })
  t.equal(res.statusCode, 201, 'the status option')
  t.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  t.match(res.body, '<h1>&lt;script&gt;x&lt;/script&gt;</h1>', 'autoescaped')
  t.match(res.body, '<p>GET /page/?q=1</p>', 'request, with method calls')
  t.match(res.body, 'user=anonymous', 'no user: undefined')
  t.match(res.body, '<a href="/detail/7/">', 'url() is reverse')
  t.match(res.body, '<li>a</li><li>b</li>')
  t.match((await app.inject({ url: '/empty/' })).body, '<li>none</li>', "Django's {% empty %} is {% else %}")
  t.match((await app.inject({ url: '/page/', headers: { 'x-user': '<b>ada</b>' } })).body, 'user=&lt;b&gt;ada&lt;/b&gt;', 'request.user, escaped')
  t.equal((await app.inject({ url: '/plain/' })).body, '<p>HI! Example</p>\n', 'globals and filters')
  t.equal((await app.inject({ url: '/form/' })).body.includes('csrfmiddlewaretoken'), false, 'no csrf option: the tag renders nothing')
})

t.test('{% csrf_token %} and csrfToken carry a token the CSRF check accepts', async (t) => {
  const app = await build(t, { urlpatterns: urls(), templates, secretKey, csrf: true })
  const page = await app.inject({ url: '/form/' })
  const field = /<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">/.exec(page.body)?.[1]
  const script = /const token = "([^"]+)"/.exec(page.body)?.[1]
  t.ok(field, page.body)
  t.equal(script, field, 'one token per request')
  const cookies = Object.fromEntries((page.cookies as Array<{ name: string, value: string }>).map((c) => [c.name, c.value]))
  t.equal(cookies.csrftoken, field)
  const ok = await app.inject({ method: 'POST', url: '/submit/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, cookies, payload: `csrfmiddlewaretoken=${encodeURIComponent(field as string)}` })
  t.equal(ok.statusCode, 200)
  // A page that never reads the token sets no CSRF cookie (Django's lazy csrf_token).
  t.equal((await app.inject({ url: '/plain/' })).cookies.length, 0)
})

t.test('TemplateResponse renders after the middleware\'s response phase', async (t) => {
  const seen: string[] = []
  const app = await build(t, {
    urlpatterns: urls(),
    templates,
    middleware: [(getResponse) => async (request) => {
      const response = await getResponse(request)
      if (response instanceof TemplateResponse) {
        seen.push(`rendered=${String(response.isRendered)}`)
        try {
          seen.push(`length=${response.content.length}`)
        } catch (error) {
          seen.push((error as { code: string }).code)
        }
        response.contextData = { ...response.contextData, greeting: 'changed by middleware' }
        response.headers.set('x-mw', '1')
      }
      return response
    }]
  })
  const res = await app.inject({ url: '/lazy/' })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '<p>CHANGED BY MIDDLEWARE! Example</p>\n')
  t.equal(res.headers['x-mw'], '1')
  t.same(seen, ['rendered=false', 'FAV_CONTENT_NOT_RENDERED'])
  // Setting content replaces the template, as in Django.
  const response = new TemplateResponse({} as HttpRequest, 'x.html')
  response.content = 'set'
  t.equal(response.isRendered, true)
  t.equal(response.text, 'set')
})

t.test('a missing template or a render error is the production 500, without path or source', async (t) => {
  const logs = captureLogs('error')
  const app = await build(t, { urlpatterns: urls(), templates }, logs.options)
  for (const url of ['/missing/', '/lazy-missing/', '/broken/', '/failing/']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 500, url)
    t.same(res.json(), PRODUCTION_500, url)
    t.notMatch(res.body, dirs)
  }
  const logged = logs.lines.map((line) => JSON.stringify(line)).join('\n')
  t.match(logged, 'TemplateDoesNotExist', 'the log has the details')
  t.match(logged, 'TemplateSyntaxError')
})

t.test('with debug, the body names the template, line and column', async (t) => {
  const app = await build(t, { urlpatterns: urls(), templates, debug: true })
  const missing = (await app.inject({ url: '/missing/' })).json()
  t.equal(missing.message, 'nowhere.html')
  t.equal(missing.name, 'TemplateDoesNotExist')
  const failing = (await app.inject({ url: '/failing/' })).json()
  t.equal(failing.name, 'TemplateSyntaxError')
  t.match(failing.message, /^failing\.html, line \d+, column \d+: Unable to call `missingFunction`/)
  const broken = (await app.inject({ url: '/broken/' })).json()
  t.match(broken.message, /^broken\.html, line 2, column \d+: /)
  const lazy = (await app.inject({ url: '/lazy-missing/' })).json()
  t.equal(lazy.message, 'nowhere.html', 'a TemplateResponse too')
  t.ok(TemplateDoesNotExist !== TemplateSyntaxError)
})

t.test('noCache (default: debug) re-reads templates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fav-templates-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const view = async (request: HttpRequest): Promise<HttpResponse> => await render(request, 'x.html')
  for (const [options, changes] of [[{ debug: true }, true], [{ templates: { dirs: dir, noCache: false }, debug: true }, false], [{}, false]] as const) {
    writeFileSync(join(dir, 'x.html'), 'one')
    const app = await build(t, { urlpatterns: [path('x/', view)], templates: { dirs: dir }, ...options })
    t.equal((await app.inject({ url: '/x/' })).body, 'one')
    writeFileSync(join(dir, 'x.html'), 'two')
    t.equal((await app.inject({ url: '/x/' })).body, changes ? 'two' : 'one', JSON.stringify(options))
    await app.close()
  }
})

t.test('an @fastify/view the app registered first is adopted', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register((await import('@fastify/view')).default, { engine: { nunjucks: (await import('nunjucks')).default }, templates: dirs })
  await app.register(asyncViews, { urlpatterns: urls(), templates: {} })
  await app.ready()
  const res = await app.inject({ url: '/page/' })
  t.match(res.body, '<a href="/detail/7/">', 'our context, their engine')

  const conflict = Fastify()
  t.teardown(() => conflict.close())
  await conflict.register((await import('@fastify/view')).default, { engine: { nunjucks: (await import('nunjucks')).default }, templates: dirs })
  const error = await conflict.register(asyncViews, { urlpatterns: urls(), templates: { dirs } }).ready().then(() => undefined, (e: unknown) => e)
  t.ok(error instanceof ImproperlyConfigured)
  t.match((error as Error).message, /templates\.dirs.*registered before fastify-async-views/)
})

t.test('bad templates options fail register', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{}, /Option 'templates.dirs' is required/],
    ['templates', /Option 'templates' must be an object/],
    [{ dirs: [] }, /templates.dirs' must be a directory/],
    [{ dirs, extra: 1 }, /Unknown option 'templates.extra'/],
    [{ dirs, filters: { f: 'x' } }, /templates.filters.f' must be a function/],
    [{ dirs, noCache: 'yes' }, /templates.noCache' must be a boolean/]
  ]
  for (const [option, message] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    const error = await app.register(asyncViews, { templates: option } as AsyncViewsOptions).ready().then(() => undefined, (e: unknown) => e)
    t.ok(error instanceof ImproperlyConfigured, JSON.stringify(option))
    t.match((error as Error).message, message)
  }
  // render() without the option: a 500 whose log says which option is missing.
  const logs = captureLogs('error')
  const app = await build(t, { urlpatterns: urls() }, logs.options)
  t.equal((await app.inject({ url: '/page/' })).statusCode, 500)
  t.match(JSON.stringify(logs.lines), "Rendering a template needs the option 'templates'")
})

t.test('a missing optional peer names the package to install', async (t) => {
  const { importPeer } = await import('../dist/peers/index.js')
  const error = await importPeer('@fastify/not-installed-peer', 'templates').then(() => undefined, (e: unknown) => e)
  t.ok(error instanceof ImproperlyConfigured)
  t.equal((error as Error).message, "Option 'templates' needs the package @fastify/not-installed-peer: npm install @fastify/not-installed-peer")
})
