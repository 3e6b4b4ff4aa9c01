// The HTTP suite: the same endpoint served by bare Fastify and through the
// plugin. Every server is bench/servers/http-server.js with a variant name;
// `target` is the minimum plugin/bare req/s ratio we accept.
const server = (variant) => ['servers/http-server.js', variant]

export const scenarios = [
  {
    // A view returning JsonResponse vs a Fastify handler returning an object.
    name: 'json',
    about: "bare `app.get('/json')` vs view `path('json')` returning a JsonResponse",
    target: 0.90,
    bare: { server: server('bare'), path: '/json' },
    plugin: { server: server('plugin'), path: '/json' }
  },
  {
    // Adds the <int:id> converter (match + toJs) against Fastify's :id.
    name: 'int',
    about: "bare `app.get('/items/:id')` vs view `path('items/<int:id>')`, GET /items/42",
    target: 0.90,
    bare: { server: server('bare'), path: '/items/42' },
    plugin: { server: server('plugin'), path: '/items/42' }
  },
  {
    // The cost of a 3-deep Django middleware chain around a view.
    name: 'mw-view',
    about: 'bare /json vs the json view behind 3 no-op middlewares',
    target: 0.90,
    bare: { server: server('bare'), path: '/json' },
    plugin: { server: server('plugin-mw'), path: '/json' }
  },
  {
    // Middleware also wraps plain Fastify routes: the cost it adds to them.
    // Both sides have the plugin registered; only the middleware differs.
    name: 'mw-plain',
    about: "plain route /plain; the 'bare' side is the plugin with no middleware, the 'plugin' side the plugin with 3 no-op middlewares",
    target: 0.85,
    bare: { server: server('plugin'), path: '/plain' },
    plugin: { server: server('plugin-mw'), path: '/plain' }
  }
]
