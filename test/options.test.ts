import t from 'tap'
import Fastify from 'fastify'
import asyncViews, { ImproperlyConfigured, type AsyncViewsOptions } from 'fastify-async-views'

async function register (options: unknown): Promise<void> {
  const app = Fastify()
  try {
    await app.register(asyncViews, options as AsyncViewsOptions)
    await app.ready()
  } finally {
    await app.close()
  }
}

t.test('bad options fail register with ImproperlyConfigured naming the option', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ nope: 1 }, /Unknown option 'nope'/],
    [{ urlpatterns: 'x' }, /Option 'urlpatterns'/],
    [{ urlpatterns: [], urlconf: './x.js' }, /'urlpatterns' and 'urlconf'/],
    [{ urlconf: 42 }, /Option 'urlconf'/],
    [{ middleware: 'x' }, /Option 'middleware'/],
    [{ middleware: [42] }, /Option 'middleware\[0\]'/],
    [{ appendSlash: 'yes' }, /Option 'appendSlash'/],
    [{ debug: 1 }, /Option 'debug'/],
    [{ handler404: 'x' }, /Option 'handler404'/],
    [{ handler500: {} }, /Option 'handler500'/]
  ]
  for (const [options, message] of cases) {
    await t.rejects(register(options), { name: 'ImproperlyConfigured', code: 'FAV_IMPROPERLY_CONFIGURED', message }, JSON.stringify(options))
  }
  const error = new ImproperlyConfigured('x')
  t.equal(error.name, 'ImproperlyConfigured')
  t.ok(error instanceof Error)
})

t.test('the plugin is wrapped with fastify-plugin and refuses double registration', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {})
  t.equal(typeof app.reverse, 'function', 'decorates the registering context')
  await t.rejects(async () => { await app.register(asyncViews, {}) }, { name: 'ImproperlyConfigured', message: /registered twice/ })
  const meta = (asyncViews as unknown as Record<symbol, { name: string, fastify: string }>)[Symbol.for('plugin-meta')]
  t.match(meta, { name: 'fastify-async-views', fastify: '5.x' })
})
