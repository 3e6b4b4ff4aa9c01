// examples/chat with Django's auth: a login page, rooms only for logged-in
// users, messages signed with the session's user, logout closing that user's
// sockets (4003), and an avatar upload.
//
//   INSTALLED_APPS = [..., 'django.contrib.sessions', 'django.contrib.auth', 'channels']
//   MIDDLEWARE = [SessionMiddleware, CsrfViewMiddleware, AuthenticationMiddleware]
//   application = ProtocolTypeRouter({'websocket': AuthMiddlewareStack(URLRouter(websocket_urlpatterns))})
//
// Run: npx tsx examples/auth-chat/server.ts, open http://127.0.0.1:3000/ and
//      log in as alice / wonderland (and as bob / builder in another browser).
import Fastify from 'fastify'
import asyncViews from 'fastify-async-views'
import { MAX_AVATAR, SECRET_KEY } from './settings.ts'
import { urlpatterns, websocketUrlpatterns } from './urls.ts'
import { createUser, modelBackend } from './users.ts'

await createUser('alice', 'wonderland')
await createUser('bob', 'builder')

const app = Fastify({ logger: true })
await app.register(asyncViews, {
  urlpatterns,
  secretKey: SECRET_KEY,
  sessions: {},
  auth: { backends: [modelBackend], loginRedirectUrl: '/' },
  csrf: true,
  templates: { dirs: [new URL('./templates/', import.meta.url).pathname] },
  uploads: { maxFileSize: MAX_AVATAR, maxFiles: 1 },
  websocket: { urlpatterns: websocketUrlpatterns },
  channelLayer: process.env.REDIS_URL ? { backend: 'redis', url: process.env.REDIS_URL } : { backend: 'memory' }
})
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
