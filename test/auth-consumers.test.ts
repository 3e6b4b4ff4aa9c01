import t, { type Test } from 'tap'
import Fastify from 'fastify'
import WebSocket from 'ws'
import asyncViews, { path, AsyncJsonWebsocketConsumer, login, logout, getUser, type HttpRequest, type AnyUser, type AuthBackend } from 'fastify-async-views'
import { Jar, secretKey, userTable, type User } from './auth-helpers.ts'
import { cli, ownRedis } from './fixtures/redis/own-redis.ts'

interface Opened { ws: WebSocket, setCookie: string[], messages: unknown[], closed: Promise<number> }
type Outcome = Opened | { status: number }

/** Opens a socket with `cookie`; resolves on the 101 (with its Set-Cookie) or the HTTP refusal. */
async function open (port: number, url: string, cookie?: string): Promise<Outcome> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${url}`, { headers: cookie === undefined ? {} : { cookie }, handshakeTimeout: 5000 })
  const messages: unknown[] = []
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  ws.on('message', (data) => messages.push(JSON.parse(String(data))))
  return await new Promise<Outcome>((resolve, reject) => {
    let setCookie: string[] = []
    ws.once('upgrade', (res) => { setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []) })
    ws.once('open', () => resolve({ ws, setCookie, messages, closed }))
    ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0 }); res.resume(); ws.terminate() })
    ws.on('error', (error) => { if (!/Unexpected server response/.test(error.message)) reject(error) })
  })
}

async function next (opened: Opened, count = 1): Promise<unknown> {
  for (let i = 0; i < 200 && opened.messages.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  return opened.messages[count - 1]
}

class Me extends AsyncJsonWebsocketConsumer {
  override async connect () {
    if (!(this.scope.user as unknown as AnyUser).isAuthenticated) return await this.close(4401)
    await this.accept()
    await this.sendJson({ id: (this.scope.user as unknown as User).id, visits: this.scope.session.get('visits') ?? null })
  }
}

let users: Map<number, User>
let backend: AuthBackend<User>

class LoginHere extends AsyncJsonWebsocketConsumer {
  override async connect () {
    const user = users.get(Number(this.scope.query.get('id')))!
    await login(this.scope, { ...user }, 'memory')
    this.scope.session.set('via', 'socket')
    await this.scope.session.save()
    await this.accept()
    await this.sendJson({ id: (this.scope.user as unknown as User).id })
  }
}

class LateLogin extends AsyncJsonWebsocketConsumer {
  override async connect () {
    await this.accept()
    try {
      await login(this.scope, { ...users.get(1)! }, 'memory')
      await this.sendJson({ error: null })
    } catch (error) {
      await this.sendJson({ error: (error as Error).name, code: (error as { code?: string }).code })
    }
    try {
      this.scope.session.set('late', 1)
      await this.scope.session.save()
    } catch (error) {
      await this.sendJson({ error: (error as Error).name })
    }
    await this.sendJson({ reloaded: (await getUser(this.scope)).isAuthenticated })
  }
}

class LogoutHere extends AsyncJsonWebsocketConsumer {
  override async connect () {
    await logout(this.scope)
    await this.accept()
  }
}

async function serve (t: Test, websocket = true) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    secretKey,
    sessions: { websocket },
    auth: { backends: [backend] },
    urlpatterns: [
      path('login/', async (request: HttpRequest) => {
        const { username, password } = Object.fromEntries(request.POST.entries())
        const user = await (await import('fastify-async-views')).authenticate(request, { username, password })
        if (user !== null) await login(request, user)
        request.session.set('visits', 1)
        return { ok: user !== null }
      }),
      path('logout/', async (request: HttpRequest) => { await logout(request); return {} }),
      path('whoami/', async (request: HttpRequest) => ({ id: (request.user as unknown as AnyUser).id, via: request.session.get('via') ?? null }))
    ],
    websocket: {
      urlpatterns: [path('ws/me/', Me.asHandler()), path('ws/login/', LoginHere.asHandler()), path('ws/late/', LateLogin.asHandler()), path('ws/logout/', LogoutHere.asHandler())],
      ...(websocket ? {} : { allowedOrigins: ['*'] })
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, port: address.port }
}

t.before(async () => { ({ users, backend } = await userTable()) })

t.test('scope.user and scope.session come from the HTTP cookie, before connect(); logout closes the sockets with 4003', async (t) => {
  const { app, port } = await serve(t)
  const refused = await open(port, '/ws/me/')
  t.same(refused, { status: 403 }, 'anonymous: close(4401) in connect() is an HTTP 403')
  const jar = new Jar()
  t.same((await jar.post(app, '/login/', { username: 'alice', password: 'wonderland' })).json(), { ok: true })
  const first = await open(port, '/ws/me/', jar.value) as Opened
  const second = await open(port, '/ws/me/', jar.value) as Opened
  t.same(await next(first), { id: 1, visits: 1 })
  t.same(await next(second), { id: 1, visits: 1 })
  const other = new Jar()
  await other.post(app, '/login/', { username: 'bob', password: 'builder' })
  const bobs = await open(port, '/ws/me/', other.value) as Opened
  t.same(await next(bobs), { id: 2, visits: 1 })
  await jar.post(app, '/logout/')
  t.equal(await first.closed, 4003)
  t.equal(await second.closed, 4003)
  t.equal(bobs.ws.readyState, WebSocket.OPEN, 'another login\'s socket stays open')
  bobs.ws.close()
  await bobs.closed
})

t.test('login(scope) before accept(): the cookie rides on the 101', async (t) => {
  const { app, port } = await serve(t)
  const opened = await open(port, '/ws/login/?id=2') as Opened
  t.same(await next(opened), { id: 2 })
  const line = opened.setCookie.find((l) => l.startsWith('sessionid='))
  t.ok(line, 'Set-Cookie on the 101')
  t.match(line, /; Path=\/; HttpOnly; SameSite=Lax/)
  const jar = new Jar()
  jar.value = line!.slice(0, line!.indexOf(';'))
  t.same((await jar.get(app, '/whoami/')).json(), { id: 2, via: 'socket' }, 'the HTTP side is logged in as that user')
  opened.ws.close()
  await opened.closed
})

t.test('after accept(), a change that needs a cookie is a SessionError (Channels loses it silently)', async (t) => {
  const { port } = await serve(t)
  const opened = await open(port, '/ws/late/') as Opened
  t.same(await next(opened, 1), { error: 'SessionError', code: 'FAV_SESSION_ERROR' })
  t.same(await next(opened, 2), { error: 'SessionError' })
  t.same(await next(opened, 3), { reloaded: false })
  opened.ws.close()
  await opened.closed
})

t.test('logout(scope) before accept clears the cookie on the 101', async (t) => {
  const { app, port } = await serve(t)
  const jar = new Jar()
  await jar.post(app, '/login/', { username: 'alice', password: 'wonderland' })
  const opened = await open(port, '/ws/logout/', jar.value) as Opened
  t.match(opened.setCookie.find((l) => l.startsWith('sessionid=')), /^sessionid=; Max-Age=0/)
  opened.ws.close()
  await opened.closed
})

t.test('sessions.websocket: false leaves consumers without a session (and allows \'*\' origins)', async (t) => {
  const { app, port } = await serve(t, false)
  const jar = new Jar()
  await jar.post(app, '/login/', { username: 'alice', password: 'wonderland' })
  const outcome = await open(port, '/ws/me/', jar.value)
  t.same(outcome, { status: 403 }, 'no session is read for sockets: scope.user is AnonymousUser')
})

class RedisLate extends AsyncJsonWebsocketConsumer {
  override async connect () {
    await this.accept()
    this.scope.session.set('fromSocket', true)
    await this.scope.session.save()
    await this.sendJson({ saved: true })
  }

  override async receiveJson () {
    try {
      await logout(this.scope)
      await this.sendJson({ loggedOut: true })
    } catch (error) {
      await this.sendJson({ error: (error as Error).name })
    }
  }
}

t.test('store redis after accept(): a change that keeps the key is saved; logout ends the session everywhere', async (t) => {
  const server = await ownRedis(t)
  if (server === undefined) return
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    secretKey,
    sessions: { store: 'redis', redis: { url: `redis://127.0.0.1:${server.port}`, prefix: 'tst' } },
    auth: { backends: [backend] },
    urlpatterns: [
      path('login/', async (request: HttpRequest) => {
        await login(request, { ...users.get(1)! }, 'memory')
        return {}
      }),
      path('whoami/', async (request: HttpRequest) => ({ id: (request.user as unknown as AnyUser).id, fromSocket: request.session.get('fromSocket') ?? null }))
    ],
    websocket: { urlpatterns: [path('ws/', RedisLate.asHandler()), path('ws/me/', Me.asHandler())] }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const jar = new Jar()
  await jar.post(app, '/login/')
  const watcher = await open(port, '/ws/me/', jar.value) as Opened
  const opened = await open(port, '/ws/', jar.value) as Opened
  t.same(await next(opened), { saved: true })
  t.same((await jar.get(app, '/whoami/')).json(), { id: 1, fromSocket: true }, 'saved under the same key, seen by HTTP')
  opened.ws.send('{}')
  t.same(await next(opened, 2), { loggedOut: true })
  t.equal(await watcher.closed, 4003, 'the other socket of that login is closed')
  t.equal((await cli(server.port, 'keys', 'tst:session:*')).trim(), '', 'the session key is gone')
  t.same((await jar.get(app, '/whoami/')).json(), { id: null, fromSocket: null }, 'the browser is logged out too')
  opened.ws.close()
  await opened.closed
})
