// The auth benchmark's server: `node bench/servers/auth-server.js <variant> [port]`.
//
//   nosession  the plugin without sessions: GET /user reads request.user (undefined)
//   cookie     secretKey + sessions (cookie store) + auth: GET /user reads the
//              logged-in user (decrypt the cookie, one getUser per request);
//              GET /login logs user 1 in and answers with its cookie
//
// Both serve the same URLs; the runner sends a Cookie header of the same size to both.
import Fastify from 'fastify'
import asyncViews, { path, login } from 'fastify-async-views'
import { serve } from './serve.js'

const [variant, portArg = '0'] = process.argv.slice(2)
const users = new Map([[1, { id: 1, username: 'alice', isActive: true }]])
const backend = {
  name: 'memory',
  async authenticate () { return null },
  async getUser (id) { return users.get(Number(id)) ?? null }
}
const urlpatterns = [
  path('user', async (request) => ({ user: request.user?.username ?? null })),
  path('login', async (request) => {
    if (variant === 'cookie') await login(request, { ...users.get(1) }, 'memory')
    return {}
  })
]
const app = Fastify({ logger: false })
if (variant === 'nosession') {
  await app.register(asyncViews, { urlpatterns })
} else if (variant === 'cookie') {
  await app.register(asyncViews, { urlpatterns, secretKey: 'bench-secret-key-'.repeat(3), sessions: {}, auth: { backends: [backend] } })
} else {
  console.error(`unknown variant ${JSON.stringify(variant)} (nosession | cookie)`)
  process.exit(2)
}
await serve(app, portArg, `auth-${variant}`)
