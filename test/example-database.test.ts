import t, { type Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { startExample } from './helpers.ts'

interface Post { id: number, title: string, body: string }

async function tempDbPath (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fav-example-db-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'posts.db')
}

t.test('the guide\'s async_db_view: a sync SQLite layer through syncToAsync', async (t) => {
  const base = await startExample(t, 'examples/database/server.ts', { DB_PATH: await tempDbPath(t) })

  const list = await fetch(`${base}/posts/`)
  t.equal(list.status, 200)
  const { posts } = await list.json() as { posts: Post[] }
  t.equal(posts.length, 3, 'seeded on first open')
  t.same(posts.map((p) => p.id), [1, 2, 3])
  t.ok(posts.every((p) => typeof p.title === 'string' && typeof p.body === 'string'))

  const one = await fetch(`${base}/posts/2/`)
  t.equal(one.status, 200)
  t.same(await one.json(), posts[1])

  const missing = await fetch(`${base}/posts/999/`)
  t.equal(missing.status, 404)
  t.match(await missing.json(), { statusCode: 404, message: 'No Post matches the given query.' })

  const created = await fetch(`${base}/posts/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'From the test', body: 'Created through the worker.' })
  })
  t.equal(created.status, 201)
  const post = await created.json() as Post
  t.same(post, { id: 4, title: 'From the test', body: 'Created through the worker.' })
  t.equal(created.headers.get('location'), '/posts/4/')
  const after = await (await fetch(`${base}/posts/`)).json() as { posts: Post[] }
  t.same(after.posts.at(-1), post, 'the new post is listed')
  t.same(await (await fetch(`${base}/posts/4/`)).json(), post)

  const bad = await fetch(`${base}/posts/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"title": 1}' })
  t.equal(bad.status, 400)
  t.equal((await fetch(`${base}/posts/`, { method: 'DELETE' })).status, 405)
})

t.test('slow queries run one at a time on one worker while the event loop stays free', async (t) => {
  // One thread-sensitive worker: every request's calls queue on its one connection.
  const base = await startExample(t, 'examples/database/server.ts', { DB_PATH: await tempDbPath(t), SYNC_THREADS: '1' })
  await fetch(`${base}/posts/`) // opens and seeds the database first

  const started = performance.now()
  let lastDb = 0
  const db = Promise.all(Array.from({ length: 10 }, async () => {
    const response = await fetch(`${base}/posts/?delay=100`)
    const body = await response.json() as { posts: Post[] }
    lastDb = performance.now() - started
    return body.posts.length
  }))
  await new Promise((resolve) => setTimeout(resolve, 100))
  const pingStarted = performance.now()
  const ping = await fetch(`${base}/ping/`)
  const pingMs = performance.now() - pingStarted
  const pingDone = performance.now() - started
  t.same(await ping.json(), { pong: true })
  t.same(await db, Array(10).fill(3))
  t.ok(pingMs < 300, `a trivial view answered in ${Math.round(pingMs)} ms during the queries`)
  t.ok(pingDone < lastDb, `it answered before the last query finished (${Math.round(pingDone)} < ${Math.round(lastDb)} ms)`)
  t.ok(lastDb >= 950, `ten 100 ms queries took ${Math.round(lastDb)} ms: one at a time, on one connection`)
})

t.test('a client that goes away drops its call still queued for the worker', async (t) => {
  // One worker, so the second call queues behind the first (with more, it would start at once).
  const base = await startExample(t, 'examples/database/server.ts', { DB_PATH: await tempDbPath(t), SYNC_THREADS: '1' })
  await fetch(`${base}/posts/`)

  const started = performance.now()
  const running = fetch(`${base}/posts/?delay=500`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  // node:http on a socket of its own: after an aborted fetch, fetch's pool keeps
  // a connection that the server's close() waits on for ~70 s (plain Fastify too).
  const controller = new AbortController()
  const leaving = new Promise((resolve, reject) => {
    get(`${base}/posts/?delay=500`, { agent: false, signal: controller.signal }, resolve).once('error', reject)
  })
  await new Promise((resolve) => setTimeout(resolve, 50))
  controller.abort()
  await t.rejects(leaving, { name: 'AbortError' })
  const next = await fetch(`${base}/posts/`)
  const elapsed = performance.now() - started
  t.equal(next.status, 200)
  t.equal((await running).status, 200)
  t.ok(elapsed < 900, `the next query waited ${Math.round(elapsed)} ms: only for the running one, not the dropped one`)
})

// The pg variant needs the local PostgreSQL; CI must have it.
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const PG_WHERE = new URL(PG_URL).host
async function postgresError (): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return (error as Error).message
  } finally {
    await client.end().catch(() => {})
  }
}

const pgDown = await postgresError()
const pgSkip = pgDown !== undefined && process.env.CI !== 'true' ? `PostgreSQL is not answering on ${PG_WHERE} (${pgDown})` : false

t.test('the same view with an async driver (pg), no bridge', { skip: pgSkip }, async (t) => {
  if (pgDown !== undefined) {
    t.fail(`CI=true and PostgreSQL is not answering on ${PG_WHERE}: ${pgDown}`)
    return
  }
  const table = `example_posts_test_${process.pid}`
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    await client.query(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(table)}`)
    await client.end()
  })
  const base = await startExample(t, 'examples/database/pg.ts', { DATABASE_URL: PG_URL, PG_TABLE: table })

  const list = await fetch(`${base}/posts/`)
  t.equal(list.status, 200)
  const { posts } = await list.json() as { posts: Post[] }
  t.equal(posts.length, 3, 'created and seeded')
  t.same(await (await fetch(`${base}/posts/${posts[0].id}/`)).json(), posts[0])
  const missing = await fetch(`${base}/posts/999999/`)
  t.equal(missing.status, 404)

  const started = performance.now()
  const bodies = await Promise.all(Array.from({ length: 10 }, async () => await (await fetch(`${base}/posts/`)).json() as { posts: Post[] }))
  t.ok(bodies.every((b) => b.posts.length === 3), `10 concurrent queries in ${Math.round(performance.now() - started)} ms`)
})
