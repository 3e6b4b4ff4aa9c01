import t from 'tap'
import Fastify from 'fastify'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import asyncViews, { type Middleware } from 'fastify-async-views'
import { avatarPatterns } from '../examples/auth-chat/avatars.ts'
import { sleep } from './helpers.ts'

// The auth-chat example's avatar upload over real HTTP. Until the example's
// login lands, a stand-in middleware makes `X-Test-User: <id>` a logged-in user.
const standInUser: Middleware = (getResponse) => async (request) => {
  const id = request.headers.get('x-test-user')
  // (Another test file types request.user for the whole program: set it untyped.)
  ;(request as unknown as { user: unknown }).user = id === undefined ? { isAuthenticated: false } : { id, username: `user${id}`, isAuthenticated: true }
  return await getResponse(request)
}

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 7)])
const GIF = Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(50, 1)])

t.test('a logged-in user uploads an avatar and it is served back; nothing else is kept', async (t) => {
  const spool = mkdtempSync(join(tmpdir(), 'fav-avatar-spool-'))
  const avatars = mkdtempSync(join(tmpdir(), 'fav-avatars-'))
  t.teardown(() => { rmSync(spool, { recursive: true, force: true }); rmSync(avatars, { recursive: true, force: true }) })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    uploads: { tmpdir: spool, maxFileSize: 64 * 1024 },
    middleware: [standInUser],
    urlpatterns: avatarPatterns(avatars)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const upload = async (user: string | undefined, data: Buffer | undefined, type = 'image/png'): Promise<Response> => {
    const form = new FormData()
    if (data !== undefined) form.append('avatar', new Blob([data], { type }), 'me.png')
    return await fetch(`${base}/avatar/`, { method: 'POST', body: form, headers: user === undefined ? {} : { 'x-test-user': user } })
  }

  const ok = await upload('7', PNG)
  t.equal(ok.status, 200)
  t.same(await ok.json(), { url: '/avatars/7/', size: PNG.length })
  const shown = await fetch(`${base}/avatars/7/`)
  t.equal(shown.status, 200)
  t.equal(shown.headers.get('content-type'), 'image/png')
  t.same(Buffer.from(await shown.arrayBuffer()), PNG)

  // A GIF replaces the PNG.
  t.equal((await upload('7', GIF, 'image/gif')).status, 200)
  t.same(readdirSync(avatars), ['7.gif'])
  t.equal((await fetch(`${base}/avatars/7/`)).headers.get('content-type'), 'image/gif')

  t.equal((await upload(undefined, PNG)).status, 403, 'anonymous users cannot upload')
  const fake = await upload('8', Buffer.from('<script>alert(1)</script>'), 'image/png')
  t.equal(fake.status, 400, 'a Content-Type is not a proof')
  t.match(await fake.json(), { error: /PNG, JPEG or GIF/ })
  t.equal((await upload('8', undefined)).status, 400, 'no file')
  const big = await upload('8', Buffer.concat([PNG, Buffer.alloc(64 * 1024)]))
  t.equal(big.status, 413)
  t.match(await big.json(), { message: /uploads\.maxFileSize/ })
  t.equal((await fetch(`${base}/avatar/`)).status, 405, 'GET is not allowed')
  t.equal((await fetch(`${base}/avatars/8/`)).status, 404)

  for (let i = 0; i < 100 && readdirSync(spool).length > 0; i++) await sleep(20)
  t.same(readdirSync(spool), [], 'the spool is empty')
  t.same(readdirSync(avatars), ['7.gif'], 'only the kept avatar')
})
