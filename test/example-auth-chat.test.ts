// examples/auth-chat over real HTTP and WebSocket, as its header comment runs it:
// login with CSRF, next= kept safe, rooms and sockets only for logged-in users.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { startExample } from './helpers.ts'

const SECRET_KEY = 'a-test-secret-key-of-more-than-32-characters'

/** A tiny cookie jar over fetch (no redirects followed). */
function client (base: string) {
  const jar = new Map<string, string>()
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
  return {
    jar,
    cookie,
    async request (path: string, init: RequestInit = {}): Promise<Response> {
      const response = await fetch(base + path, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> ?? {}), cookie: cookie() } })
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';')
        const at = pair.indexOf('=')
        const value = pair.slice(at + 1)
        if (value === '' || /max-age=0/i.test(line)) jar.delete(pair.slice(0, at))
        else jar.set(pair.slice(0, at), value)
      }
      return response
    }
  }
}

const tokenIn = (html: string): string => /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(html)?.[1] ?? ''

function openSocket (url: string, cookie: string): Promise<{ status: number } | WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { cookie } })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0 }); ws.terminate() })
    ws.once('error', reject)
  })
}

t.test('login with CSRF, safe next, rooms and sockets for logged-in users only', async (t) => {
  const media = await mkdtemp(join(tmpdir(), 'auth-chat-media-'))
  t.teardown(() => rm(media, { recursive: true, force: true }))
  const base = await startExample(t, 'examples/auth-chat/server.ts', { MEDIA_ROOT: media, SECRET_KEY })
  const wsBase = base.replace('http', 'ws')
  const alice = client(base)

  const anonymous = await alice.request('/rooms/lobby/')
  t.equal(anonymous.status, 302)
  t.equal(anonymous.headers.get('location'), '/accounts/login/?next=/rooms/lobby/', 'anonymous: to the login page, next kept')
  const refused = await openSocket(`${wsBase}/ws/chat/lobby/`, '')
  t.same(refused, { status: 403 }, 'an anonymous socket is refused before the 101')

  const form = await alice.request('/accounts/login/?next=/rooms/lobby/')
  const token = tokenIn(await form.text())
  t.ok(token, 'the login form carries a CSRF token')

  const noToken = await alice.request('/accounts/login/', { method: 'POST', body: new URLSearchParams({ username: 'alice', password: 'wonderland' }) })
  t.equal(noToken.status, 403)
  t.match(await noToken.json(), { reason: 'CSRF token missing.' }, "Django's reason")

  const wrong = await alice.request('/accounts/login/', { method: 'POST', body: new URLSearchParams({ csrfmiddlewaretoken: token, username: 'alice', password: 'nope' }) })
  t.equal(wrong.status, 200, 'a wrong password shows the form again')
  t.match(await wrong.text(), 'id="login-error"')

  const evil = await alice.request('/accounts/login/', { method: 'POST', body: new URLSearchParams({ csrfmiddlewaretoken: token, username: 'alice', password: 'wonderland', next: '//evil.example/' }) })
  t.equal(evil.status, 302)
  t.equal(evil.headers.get('location'), '/', 'next=//evil.example is not followed (loginRedirectUrl instead)')
  t.ok(alice.jar.has('sessionid'), 'the session cookie is set')

  const page = await alice.request('/rooms/lobby/')
  t.equal(page.status, 200)
  t.match(await page.text(), 'Signed in as <strong>alice</strong>')

  const ws = await openSocket(`${wsBase}/ws/chat/lobby/`, alice.cookie())
  t.ok(ws instanceof WebSocket, "the session's socket is accepted")
  const socket = ws as WebSocket
  const messages: Array<{ type: string, user?: string, text?: string }> = []
  socket.on('message', (data) => messages.push(JSON.parse(String(data))))
  socket.send(JSON.stringify({ text: 'hi', user: 'mallory' }))
  await t.resolves(waitFor(() => messages.some((m) => m.type === 'chat.message')))
  t.match(messages.find((m) => m.type === 'chat.message'), { user: 'alice', text: 'hi' }, 'signed with the session user, not what the client says')

  // A multipart form's csrfmiddlewaretoken counts (uploads fill request.POST before the check).
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)])
  const upload = (fields: Record<string, string>) => {
    const body = new FormData()
    for (const [k, v] of Object.entries(fields)) body.append(k, v)
    body.append('avatar', new Blob([png], { type: 'image/png' }), 'me.png')
    return alice.request('/avatar/', { method: 'POST', body })
  }
  t.equal((await upload({})).status, 403, 'an upload without a token is refused')
  const fieldToken = tokenIn(await (await alice.request('/')).text())
  const uploaded = await upload({ csrfmiddlewaretoken: fieldToken })
  t.equal(uploaded.status, 200, 'the multipart form field carries the token')
  const { url } = await uploaded.json() as { url: string }
  t.same(Buffer.from(await (await alice.request(url)).arrayBuffer()), png, 'the avatar is served back')
  const big = new FormData()
  big.append('csrfmiddlewaretoken', fieldToken)
  big.append('avatar', new Blob([Buffer.alloc(1024 * 1024 + 1)], { type: 'image/png' }), 'big.png')
  const tooBig = await alice.request('/avatar/', { method: 'POST', body: big })
  t.equal(tooBig.status, 413, 'over the 1 MB limit: 413 before the view')

  t.equal((await alice.request('/accounts/logout/')).status, 405, 'logout is POST only')
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  const home = tokenIn(await (await alice.request('/')).text())
  const out = await alice.request('/accounts/logout/', { method: 'POST', body: new URLSearchParams({ csrfmiddlewaretoken: home }) })
  t.equal(out.status, 302)
  t.equal(await closed, 4003, "logout closes the user's sockets with 4003")
  t.equal((await alice.request('/rooms/lobby/')).status, 302, 'anonymous again')
})

async function waitFor (check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
