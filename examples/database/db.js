// @ts-check
// The synchronous data layer, Django's ORM in this example: better-sqlite3
// blocks its thread on every query. The server runs it on the bridge's
// thread-sensitive worker (one connection, calls one at a time, in call
// order), never on the main thread.
//
// JavaScript, not TypeScript, because the bridge's workers import() this file
// and tsx only hooks import() of .ts files on the main thread on Node 20
// (ERR_UNKNOWN_FILE_EXTENSION in the worker). Its types are in db.d.ts.
import Database from 'better-sqlite3'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isMainThread } from 'node:worker_threads'

/** @typedef {import('./db.js').Post} Post */

const SEED = [
  { title: 'Async views', body: 'An async view awaits; the event loop serves others meanwhile.' },
  { title: 'sync_to_async', body: 'Sync code runs on a worker thread and the view awaits it.' },
  { title: 'Thread-sensitive', body: 'One SQLite connection, one thread, calls in order.' }
]

/** @typedef {import('better-sqlite3').Statement} Statement */
/** @type {{ all: Statement, get: Statement, insert: Statement } | undefined} */
let statements

// Opened on first use, on the worker: a connection belongs to the thread that made it.
/** @returns {{ all: Statement, get: Statement, insert: Statement }} */
function open () {
  if (statements !== undefined) return statements
  if (isMainThread) throw new Error('db.js blocks: call it through syncToAsync(), not on the main thread')
  const db = new Database(process.env.DB_PATH ?? join(tmpdir(), 'fastify-async-views-example.db'))
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)')
  const insert = db.prepare('INSERT INTO posts (title, body) VALUES (?, ?) RETURNING id, title, body')
  // IMMEDIATE: a second process opening the same new file waits instead of seeding twice.
  db.transaction(() => {
    const row = /** @type {{ n: number }} */ (db.prepare('SELECT count(*) AS n FROM posts').get())
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
 * @param {{ delayMs?: number }} [options] `delayMs` simulates a slow query: it blocks this thread, as one would.
 * @returns {Post[]}
 */
export function allPosts (options = {}) {
  const { all } = open()
  if (options.delayMs !== undefined && options.delayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, options.delayMs)
  return /** @type {Post[]} */ (all.all())
}

/**
 * One post, or null.
 * @param {number} id
 * @returns {Post | null}
 */
export function getPost (id) {
  return /** @type {Post | undefined} */ (open().get.get(id)) ?? null
}

/**
 * Inserts a post and returns it with its id.
 * @param {{ title: string, body: string }} data
 * @returns {Post}
 */
export function createPost ({ title, body }) {
  return /** @type {Post} */ (open().insert.get(title, body))
}
