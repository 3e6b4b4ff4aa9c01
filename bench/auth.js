// The auth suite (`node bench/run.js auth`):
//   user-cookie  a view reading request.user with the cookie store (decrypt +
//                one getUser per request) vs the same view without sessions
//   login-loop   the event loop's delay while 20 logins hash their passwords at
//                once (scrypt on libuv's pool), against the same logins hashing
//                on the loop (scryptSync), in this process
import { scryptSync } from 'node:crypto'
import { wrk, table } from './harness.js'

const server = (variant) => ['servers/auth-server.js', variant]
const cookies = new Map()

/** wrk with a Cookie header: the logged-in session for the cookie side, a same-size dummy for the other. */
async function withCookie ({ url, seconds, wrkArgs }) {
  const origin = new URL(url).origin
  if (!cookies.has(origin)) {
    const res = await fetch(`${origin}/login`)
    const line = res.headers.get('set-cookie')
    cookies.set(origin, line === null ? undefined : line.slice(0, line.indexOf(';')))
  }
  let cookie = cookies.get(origin)
  if (cookie === undefined) {
    const other = [...cookies.values()].find((c) => c !== undefined)
    cookie = `sessionid=${'x'.repeat(other === undefined ? 200 : other.length - 'sessionid='.length)}`
  }
  return await wrk(url, seconds, { extraArgs: [...wrkArgs, '-H', `Cookie: ${cookie}`] })
}

async function loginLoop () {
  const { default: Fastify } = await import('fastify')
  const { default: asyncViews, path, LoginView, makePassword, checkPassword } = await import('fastify-async-views')
  const password = await makePassword('wonderland')
  const run = async (hash) => {
    const app = Fastify()
    const backend = {
      name: 'memory',
      async authenticate (_request, { password: given }) { return await hash(given, password) ? { id: 1, isActive: true } : null },
      async getUser () { return { id: 1, isActive: true } }
    }
    await app.register(asyncViews, { secretKey: 'bench-secret-key-'.repeat(3), sessions: {}, auth: { backends: [backend] }, urlpatterns: [path('login/', LoginView.asView())] })
    await app.ready()
    // The loop's delay: how late a 1 ms timer fires, sampled all along (a blocked loop fires none, so gaps are measured).
    const delays = []
    let last = performance.now()
    const timer = setInterval(() => { const now = performance.now(); delays.push(Math.max(0, now - last - 1)); last = now }, 1)
    const started = performance.now()
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.inject({ method: 'POST', url: '/login/', payload: 'username=alice&password=wonderland', headers: { 'content-type': 'application/x-www-form-urlencoded' } })))
    const wall = performance.now() - started
    clearInterval(timer)
    // The stretch since the last tick counts too (a loop blocked to the end never ticked).
    delays.push(Math.max(0, performance.now() - last - 1))
    await app.close()
    if (answers.some((a) => a.statusCode !== 302)) throw new Error('a login failed')
    delays.sort((a, b) => a - b)
    return { p99Ms: delays[Math.floor(delays.length * 0.99)] ?? 0, maxMs: delays.at(-1) ?? 0, wallMs: wall }
  }
  // Django's format, verified on the loop: what a naive port would do.
  const onLoop = async (given, encoded) => {
    const [, n, salt, r, p, b64] = encoded.split('$')
    return scryptSync(given, salt, 64, { N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024 }).toString('base64') === b64
  }
  return { name: 'login-loop', pool: await run(checkPassword), loop: await run(onLoop) }
}

export const scenarios = [
  {
    name: 'user-cookie',
    about: 'GET /user reading request.user: the plugin without sessions vs secretKey + sessions (cookie store) + auth with a logged-in cookie',
    target: 0.5,
    bare: { server: server('nosession'), path: '/user' },
    plugin: { server: server('cookie'), path: '/user' },
    load: withCookie
  },
  {
    name: 'login-loop',
    about: "event-loop delay during 20 concurrent logins (scrypt N=2^14 r=8 p=5, Django's parameters): checkPassword on libuv's pool vs scryptSync on the loop",
    run: async () => {
      try {
        return await loginLoop()
      } catch (error) {
        return { name: 'login-loop', error }
      }
    }
  }
]

export function report (results) {
  const wrkResults = results.filter((r) => r.name !== 'login-loop')
  const loop = results.find((r) => r.name === 'login-loop')
  const f = (n) => n.toFixed(1)
  const lines = [table(wrkResults)]
  if (loop !== undefined && loop.error === undefined) {
    lines.push('', '| 20 concurrent logins | loop delay p99 | loop delay max | wall time |', '| --- | ---: | ---: | ---: |',
      `| checkPassword (libuv pool) | ${f(loop.pool.p99Ms)} ms | ${f(loop.pool.maxMs)} ms | ${Math.round(loop.pool.wallMs)} ms |`,
      `| scryptSync on the loop | ${f(loop.loop.p99Ms)} ms | ${f(loop.loop.maxMs)} ms | ${Math.round(loop.loop.wallMs)} ms |`)
  }
  return { markdown: lines.join('\n'), warning: '', legend: 'user-cookie: medians over rounds, paired ratio judged (see http.md); login-loop: lateness of a 1 ms interval timer during the logins, in one process.', details: [] }
}
