// One HTTP benchmark server: `node bench/servers/http-server.js <variant> [port]`.
//
//   bare       plain Fastify: /json, /items/:id, /plain
//   plugin     the same endpoints, /json and /items/<int:id> as views, /plain a plain route
//   plugin-mw  as `plugin`, with 3 no-op middlewares (they also wrap /plain)
//
// Every variant serves the same URLs so the router trees are comparable.
// Port 0 (the default) takes a free port; the chosen one is announced on stdout
// as a single JSON line `{"ready":true,"port":N}`, which run.js waits for.
import Fastify from 'fastify'
import asyncViews, { path, JsonResponse } from 'fastify-async-views'
import { serve } from './serve.js'

const [variant, portArg = '0'] = process.argv.slice(2)

// Django's simplest new-style middleware: pass the request on, return the response.
const noop = (getResponse) => async (request) => getResponse(request)

const app = Fastify({ logger: false })

if (variant === 'bare') {
  app.get('/json', async () => ({ hello: 'world' }))
  app.get('/items/:id', async (req) => ({ id: Number(req.params.id) }))
} else if (variant === 'plugin' || variant === 'plugin-mw') {
  await app.register(asyncViews, {
    urlpatterns: [
      path('json', async () => new JsonResponse({ hello: 'world' })),
      path('items/<int:id>', async (request, { id }) => new JsonResponse({ id }))
    ],
    middleware: variant === 'plugin-mw' ? [noop, noop, noop] : []
  })
} else {
  console.error(`unknown variant ${JSON.stringify(variant)} (bare | plugin | plugin-mw)`)
  process.exit(2)
}
// Registered after the plugin so that, in plugin-mw, the middleware wraps it too.
app.get('/plain', async () => ({ hello: 'world' }))

await serve(app, portArg, `http-${variant}`)
