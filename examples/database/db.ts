// The synchronous data layer, Django's ORM in this example: better-sqlite3
// blocks its thread on every query. The server runs it on the bridge's
// thread-sensitive worker (one connection, calls one at a time, in call
// order), never on the main thread.
import Database, { type Statement } from 'better-sqlite3'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isMainThread } from 'node:worker_threads'

export interface Post {
  id: number
  title: string
  body: string
}

const SEED = [
  { title: 'Async views', body: 'An async view awaits; the event loop serves others meanwhile.' },
  { title: 'sync_to_async', body: 'Sync code runs on a worker thread and the view awaits it.' },
  { title: 'Thread-sensitive', body: 'One SQLite connection, one thread, calls in order.' }
]

interface Statements { all: Statement, get: Statement, insert: Statement }

let statements: Statements | undefined

// Opened on first use, on the worker: a connection belongs to the thread that made it.
function open (): Statements {
  if (statements !== undefined) return statements
  if (isMainThread) throw new Error('db.ts blocks: call it through syncToAsync(), not on the main thread')
  const db = new Database(process.env.DB_PATH ?? join(tmpdir(), 'fastify-async-views-example.db'))
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)')
  const insert = db.prepare('INSERT INTO posts (title, body) VALUES (?, ?) RETURNING id, title, body')
  // IMMEDIATE: a second process opening the same new file waits instead of seeding twice.
  db.transaction(() => {
    const row = db.prepare('SELECT count(*) AS n FROM posts').get() as { n: number }
    if (row.n === 0) for (const post of SEED) insert.run(post.title, post.body)
  }).immediate()
  statements = {
    all: db.prepare('SELECT id, title, body FROM posts ORDER BY id'),
    get: db.prepare('SELECT id, title, body FROM posts WHERE id = ?'),
    insert
  }
  return statements
}

/**
 * Every post, oldest first (`Post.objects.all()`).
 * @param options `delayMs` simulates a slow query: it blocks this thread, as one would.
 */
export function allPosts (options: { delayMs?: number } = {}): Post[] {
  const { all } = open()
  if (options.delayMs !== undefined && options.delayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, options.delayMs)
  return all.all() as Post[]
}

/** One post, or null. */
export function getPost (id: number): Post | null {
  return (open().get.get(id) as Post | undefined) ?? null
}

/** Inserts a post and returns it with its id. */
export function createPost ({ title, body }: { title: string, body: string }): Post {
  return open().insert.get(title, body) as Post
}
