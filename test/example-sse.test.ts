import t, { type Test } from 'tap'
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { startExample } from './helpers.ts'

interface Stream {
  headers: http.IncomingHttpHeaders
  /** The next event (`event`, parsed `data`), skipping comments. */
  next: (ms?: number) => Promise<{ event: string, data: any }>
  /** Resolves if no event arrives within `ms`. */
  nothing: (ms?: number) => Promise<boolean>
  /** Every comment line seen so far (`: keep-alive`). */
  comments: string[]
  close: () => void
}

/** GET events/ with node:http, parsing the text/event-stream as it arrives. */
async function open (t: Test, base: string): Promise<Stream> {
  const events: Array<{ event: string, data: any }> = []
  const comments: string[] = []
  const waiters: Array<() => void> = []
  let buffer = ''
  const req = http.get(`${base}/events/`, { headers: { accept: 'text/event-stream' } })
  t.teardown(() => { req.destroy() })
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  req.on('error', () => {}) // destroy() on close
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => {
    buffer += chunk
    let end
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const event: { event: string, data: any } = { event: 'message', data: undefined }
      let isEvent = false
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments.push(line)
        else if (line.startsWith('event: ')) { event.event = line.slice(7); isEvent = true } else if (line.startsWith('data: ')) { event.data = JSON.parse(line.slice(6)); isEvent = true }
      }
      if (isEvent) {
        events.push(event)
        waiters.shift()?.()
      }
    }
  })
  const arrival = (ms: number): Promise<boolean> => new Promise((resolve) => {
    const waiter = (): void => { clearTimeout(timer); resolve(true) }
    const timer = setTimeout(() => { waiters.splice(waiters.indexOf(waiter), 1); resolve(false) }, ms)
    waiters.push(waiter)
  })
  return {
    headers: res.headers,
    comments,
    async next (ms = 5000) {
      if (events.length === 0 && !await arrival(ms)) throw new Error(`no event within ${ms} ms`)
      return events.shift() as { event: string, data: any }
    },
    async nothing (ms = 300) {
      return events.length === 0 && !await arrival(ms)
    },
    close () { req.destroy() }
  }
}

async function publish (base: string, title: string): Promise<{ status: number, body: any }> {
  const response = await fetch(`${base}/news/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title }) })
  return { status: response.status, body: await response.json() }
}

async function listening (base: string): Promise<number> {
  return ((await (await fetch(`${base}/news/`)).json()) as { listening: number }).listening
}

t.test('two SSE streams on the news group; one leaves', async (t) => {
  const base = await startExample(t, 'examples/sse/server.ts') // keepAlive 15 s: no tick ends a stream here
  const alice = await open(t, base)
  const bob = await open(t, base)
  t.match(alice.headers['content-type'], /^text\/event-stream/)
  t.equal(alice.headers['cache-control'], 'no-cache')
  t.same(await alice.next(), { event: 'subscribed', data: { group: 'news' } }, 'alice is in the group')
  t.same(await bob.next(), { event: 'subscribed', data: { group: 'news' } }, 'bob is in the group')
  t.equal(await listening(base), 2)

  const first = await publish(base, 'Django 6.0 released')
  const second = await publish(base, 'Channels 5 is out')
  t.equal(first.status, 202)
  t.match(first.body, { published: true, title: 'Django 6.0 released' })
  for (const [name, stream] of [['alice', alice], ['bob', bob]] as const) {
    t.same(await stream.next(), { event: 'news', data: { title: 'Django 6.0 released', publishedAt: first.body.publishedAt } }, `${name}: first`)
    t.same(await stream.next(), { event: 'news', data: { title: 'Channels 5 is out', publishedAt: second.body.publishedAt } }, `${name}: second, in order`)
  }

  // Alice leaves: request.signal ends her receive() and `finally` leaves the group.
  alice.close()
  const left = performance.now()
  let count = await listening(base)
  while (count !== 1 && performance.now() - left < 3000) {
    await sleep(20)
    count = await listening(base)
  }
  t.equal(count, 1, `alice's stream left the group after ${Math.round(performance.now() - left)} ms (no keep-alive tick needed)`)

  const third = await publish(base, 'Still here?')
  t.equal(third.status, 202, 'publishing to a group one listener left still works')
  t.same(await bob.next(), { event: 'news', data: { title: 'Still here?', publishedAt: third.body.publishedAt } }, 'bob still gets the news')
  t.ok(await bob.nothing(), 'and only once')

  t.test('a new listener joins and gets only what is published after', async (t) => {
    const carol = await open(t, base)
    t.same(await carol.next(), { event: 'subscribed', data: { group: 'news' } })
    t.ok(await carol.nothing(), 'no backlog')
    const fourth = await publish(base, 'Welcome, Carol')
    t.equal((await carol.next()).data.title, fourth.body.title)
    t.equal((await bob.next()).data.title, fourth.body.title)
    carol.close()
  })

  t.test('bad input', async (t) => {
    const empty = await publish(base, '')
    t.equal(empty.status, 400)
    t.same(empty.body, { statusCode: 400, error: 'Bad Request', message: 'Expected JSON { "title": "1 to 200 characters" }' })
    const malformed = await fetch(`${base}/news/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
    t.equal(malformed.status, 400)
    t.equal((await fetch(`${base}/news/`, { method: 'DELETE' })).status, 405, 'View: no delete()')
    t.ok(await bob.nothing(), 'nothing published')
  })
})

t.test('keepAlive: an idle stream gets a comment every KEEP_ALIVE_MS', async (t) => {
  const base = await startExample(t, 'examples/sse/server.ts', { KEEP_ALIVE_MS: '150' })
  const stream = await open(t, base)
  t.same(await stream.next(), { event: 'subscribed', data: { group: 'news' } })
  await sleep(700)
  t.ok(stream.comments.length >= 3, `${stream.comments.length} keep-alive comments in 700 ms`)
  t.ok(stream.comments.every((c) => c === ': keep-alive'))
  const item = await publish(base, 'After the quiet')
  t.equal((await stream.next()).data.title, item.body.title, 'events still flow between keep-alives')
  stream.close()
})
