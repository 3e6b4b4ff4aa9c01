import t from 'tap'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import {
  path, View, AnonymousUser, LoginView, LogoutView, loginRequired, permissionRequired, userPassesTest,
  LoginRequiredMixin, PermissionRequiredMixin, UserPassesTestMixin, isSafeUrl, makePassword, checkPassword,
  isPasswordUsable, login, logout, authenticate, updateSessionAuthHash, type HttpRequest, type AnyUser
} from 'fastify-async-views'
import { build, captureLogs } from './helpers.ts'
import { Jar, secretKey, userTable, type User } from './auth-helpers.ts'

// Expected values computed with Python's hashlib, which Django's hashers call:
// base64(hashlib.scrypt(pw, salt=salt, n=2**14, r=8, p=5, maxmem=0, dklen=64)) and
// base64(hashlib.pbkdf2_hmac('sha256', pw, salt, iterations)).
const DJANGO = {
  scrypt: 'scrypt$16384$seasalt$8$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==',
  pbkdf2: 'pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=',
  pbkdf2Old: 'pbkdf2_sha256$260000$seasalt2$UCGMhrOoaq1ghQPArIBK5RkI6IZLRxlIwHWA1dMy7y8='
}

t.test('passwords: Django\'s formats byte for byte', async (t) => {
  t.equal(await makePassword('lètmein', 'seasalt'), DJANGO.scrypt)
  t.equal(await makePassword('lètmein', 'seasalt', 'pbkdf2_sha256'), DJANGO.pbkdf2)
  for (const encoded of Object.values(DJANGO)) {
    t.equal(await checkPassword('lètmein', encoded), true, encoded.slice(0, 20))
    t.equal(await checkPassword('letmein', encoded), false, 'wrong password ' + encoded.slice(0, 20))
  }
  const made = await makePassword('secret')
  t.match(made, /^scrypt\$16384\$[A-Za-z0-9]{22}\$8\$5\$[A-Za-z0-9+/]{86}==$/)
  t.not(made, await makePassword('secret'), 'a random salt each time')
  const unusable = await makePassword(null)
  t.equal(isPasswordUsable(unusable), false)
  t.equal(await checkPassword('', unusable), false)
  t.equal(await checkPassword('x', null), false)
  await t.rejects(checkPassword('x', 'argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA'), { name: 'TypeError', message: /argon2/ })
  t.equal(await checkPassword('x', 'scrypt$16384$salt$8$5$'), false, 'a truncated hash is false')
})

t.test('an unknown user costs one hash; hashing leaves the event loop free', async (t) => {
  let start = performance.now()
  await checkPassword('lètmein', DJANGO.scrypt)
  const known = performance.now() - start
  start = performance.now()
  await checkPassword('lètmein', null)
  const unknown = performance.now() - start
  t.ok(unknown > known * 0.5, `unknown user ${unknown.toFixed(0)} ms vs known ${known.toFixed(0)} ms`)
  const histogram = monitorEventLoopDelay({ resolution: 5 })
  histogram.enable()
  await Promise.all(Array.from({ length: 8 }, () => checkPassword('lètmein', DJANGO.scrypt)))
  histogram.disable()
  t.ok(histogram.max / 1e6 < 100, `event loop max delay ${(histogram.max / 1e6).toFixed(1)} ms during 8 hashes`)
})

t.test('isSafeUrl is Django\'s url_has_allowed_host_and_scheme', async (t) => {
  const hosts = { allowedHosts: ['testserver'] }
  for (const url of ['/view/?param=http://example.com', '/view/?param=https://example.com', '/view?param=ftp://example.com', 'view/?param=//example.com',
    'https://testserver/', 'HTTPS://testserver/', '//testserver/', 'http://testserver/confirm?email=me@example.com', '/url%20with%20spaces/', 'path/http:2222222222']) {
    t.ok(isSafeUrl(url, hosts), `safe: ${url}`)
  }
  for (const url of ['http://example.com', 'http:///example.com', 'https://example.com', 'ftp://example.com', '\\\\example.com', '\\\\\\example.com', '/\\//example.com',
    '\\\\//example.com', '///example.com', '////example.com', 'http:/\\//example.com', 'http:\\/example.com', 'http:/\\example.com', 'javascript:alert("XSS")',
    '\njavascript:alert(x)', '\x08//example.com', 'http://otherserver\\@example.com', 'http:999999999', 'ftp:9999999999', '\n', 'http://[2001:cdba:0000:0000:0000:0000:3257:9652/',
    '//evil.example', '/\\evil.example', '', '  ', null]) {
    t.notOk(isSafeUrl(url as string, hosts), `unsafe: ${JSON.stringify(url)}`)
  }
  t.notOk(isSafeUrl('http://testserver/', { allowedHosts: ['testserver'], requireHttps: true }), 'https required')
  t.ok(isSafeUrl('https://testserver/', { allowedHosts: ['testserver'], requireHttps: true }))
})

t.test('views, decorators and mixins with a real backend', async (t) => {
  const { users, backend } = await userTable()
  const userOf = (request: HttpRequest): AnyUser => request.user as unknown as AnyUser
  const who = async (request: HttpRequest) => {
    const user = userOf(request)
    return { id: user.id, isAuthenticated: user.isAuthenticated, anonymous: user === AnonymousUser, cart: request.session.get('cart') ?? null }
  }
  class Mixed extends LoginRequiredMixin(View) { async get () { return { mixin: true } } }
  class Perm extends PermissionRequiredMixin(View) { override permissionRequired = 'app.edit'; async get () { return { edit: true } } }
  class Test extends UserPassesTestMixin(View) { override testFunc () { return (this.request.user as unknown as User).username === 'bob' }; async get () { return { bob: true } } }
  const logs = captureLogs('error')
  const app = await build(t, {
    secretKey,
    sessions: {},
    auth: { backends: [backend] },
    urlpatterns: [
      path('accounts/login/', LoginView.asView()),
      path('accounts/logout/', LogoutView.asView()),
      path('whoami/', who),
      path('auser/', async (request: HttpRequest) => ({ id: (await request.auser() as unknown as AnyUser).id })),
      path('cart/', async (request: HttpRequest) => { request.session.set('cart', [1, 2]); return {} }),
      path('secret/', loginRequired(who)),
      path('secret-custom/', loginRequired(who, { loginUrl: '/login/?a=1', redirectFieldName: 'to' })),
      path('perm/', permissionRequired('app.view')(who)),
      path('perms/', permissionRequired(['app.view', 'app.edit'])(who)),
      path('bob/', userPassesTest((user) => (user as unknown as User).username === 'bob')(who)),
      path('mixin/', Mixed.asView()),
      path('pmixin/', Perm.asView()),
      path('tmixin/', Test.asView()),
      path('password/', async (request: HttpRequest) => {
        const user = users.get(userOf(request).id as number)!
        user.password = await makePassword(request.POST.get('password')!, undefined, 'pbkdf2_sha256')
        if (request.POST.get('keep') === '1') await updateSessionAuthHash(request, user)
        return {}
      }),
      path('api-login/', async (request: HttpRequest) => {
        const user = await authenticate(request, { username: request.POST.get('username'), password: request.POST.get('password') })
        if (user === null) return { ok: false }
        await login(request, user)
        return { ok: true }
      }),
      path('api-logout/', async (request: HttpRequest) => { await logout(request); return {} })
    ]
  }, logs.options)

  await t.test('anonymous', async (t) => {
    const jar = new Jar()
    t.same((await jar.get(app, '/whoami/')).json(), { id: null, isAuthenticated: false, anonymous: true, cart: null })
    t.ok(Object.isFrozen(AnonymousUser))
    const secret = await jar.get(app, '/secret/?a=1&b=caf%C3%A9')
    t.equal(secret.statusCode, 302)
    t.equal(secret.headers.location, '/accounts/login/?next=/secret/%3Fa%3D1%26b%3Dcaf%25C3%25A9')
    t.equal((await jar.get(app, '/secret-custom/')).headers.location, '/login/?a=1&to=/secret-custom/')
    for (const url of ['/perm/', '/perms/', '/bob/', '/mixin/', '/pmixin/', '/tmixin/']) t.equal((await jar.get(app, url)).statusCode, 302, url)
    const form = await jar.get(app, '/accounts/login/?next=/whoami/')
    t.equal(form.statusCode, 200)
    t.match(form.body, /name="next" value="\/whoami\/"/)
    const logoutGet = await jar.get(app, '/accounts/logout/')
    t.equal(logoutGet.statusCode, 405, 'LogoutView is POST only')
  })

  await t.test('login with LoginView; next followed only when safe', async (t) => {
    const jar = new Jar()
    const bad = await jar.post(app, '/accounts/login/', { username: 'alice', password: 'nope' })
    t.equal(bad.statusCode, 200)
    t.match(bad.body, /Please enter a correct username and password/)
    t.equal(jar.value, undefined, 'no session for a failed login')
    const unknown = await jar.post(app, '/accounts/login/', { username: 'nobody', password: 'x' })
    t.equal(unknown.statusCode, 200)
    const good = await jar.post(app, '/accounts/login/?next=/whoami/', { username: 'alice', password: 'wonderland' })
    t.equal(good.statusCode, 302)
    t.equal(good.headers.location, '/whoami/')
    t.same((await jar.get(app, '/whoami/')).json(), { id: 1, isAuthenticated: true, anonymous: false, cart: null })
    t.same((await jar.get(app, '/auser/')).json(), { id: 1 })
    for (const next of ['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '\x01//evil.example']) {
      const again = new Jar()
      const res = await again.post(app, '/accounts/login/', { username: 'alice', password: 'wonderland', next })
      t.equal(res.headers.location, '/accounts/profile/', `next=${JSON.stringify(next)} not followed`)
    }
    t.equal((await jar.get(app, '/secret/')).statusCode, 200)
    t.equal((await jar.get(app, '/perm/')).statusCode, 200)
    t.equal((await jar.get(app, '/perms/')).statusCode, 403, 'authenticated without the permission: 403')
    t.equal((await jar.get(app, '/bob/')).statusCode, 403)
    t.equal((await jar.get(app, '/mixin/')).statusCode, 200)
    t.equal((await jar.get(app, '/pmixin/')).statusCode, 403)
    t.equal((await jar.get(app, '/tmixin/')).statusCode, 403)
    const out = await jar.post(app, '/accounts/logout/', { next: '/whoami/' })
    t.equal(out.statusCode, 302)
    t.equal(out.headers.location, '/whoami/')
    t.equal(jar.value, undefined, 'the cookie is cleared')
    t.same((await jar.get(app, '/whoami/')).json().anonymous, true)
  })

  await t.test('login keeps the visitor\'s data (new key); another user\'s login flushes it', async (t) => {
    const jar = new Jar()
    await jar.get(app, '/cart/')
    await jar.post(app, '/api-login/', { username: 'alice', password: 'wonderland' })
    t.same((await jar.get(app, '/whoami/')).json(), { id: 1, isAuthenticated: true, anonymous: false, cart: [1, 2] })
    await jar.post(app, '/api-login/', { username: 'bob', password: 'builder' })
    t.same((await jar.get(app, '/whoami/')).json(), { id: 2, isAuthenticated: true, anonymous: false, cart: null })
    t.equal((await jar.get(app, '/pmixin/')).statusCode, 200)
    t.equal((await jar.get(app, '/tmixin/')).statusCode, 200)
    await jar.post(app, '/api-logout/')
    t.same((await jar.get(app, '/whoami/')).json().anonymous, true)
  })

  await t.test('a deactivated user, or a changed password, is anonymous on the next request', async (t) => {
    const jar = new Jar()
    await jar.post(app, '/api-login/', { username: 'bob', password: 'builder' })
    users.get(2)!.isActive = false
    t.same((await jar.get(app, '/whoami/')).json().anonymous, true, 'deactivated')
    t.equal(jar.value, undefined, 'its session cookie is cleared')
    users.get(2)!.isActive = true
    t.same((await jar.post(app, '/api-login/', { username: 'bob', password: 'builder' })).json(), { ok: true })
    const other = new Jar()
    await other.post(app, '/api-login/', { username: 'bob', password: 'builder' })
    await jar.post(app, '/password/', { password: 'newpass', keep: '1' })
    t.same((await jar.get(app, '/whoami/')).json().id, 2, 'updateSessionAuthHash keeps this session')
    t.same((await other.get(app, '/whoami/')).json().anonymous, true, 'the other session is logged out')
    const login = await other.post(app, '/accounts/login/', { username: 'bob', password: 'newpass' })
    t.equal(login.statusCode, 302, 'the new password (pbkdf2_sha256) works')
  })
})
