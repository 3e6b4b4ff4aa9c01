// The /db work of the sync suite: one 10-row better-sqlite3 query, the same
// module inline on the event loop or on a bridge worker (each thread its own
// in-memory database), and a call that blocks its thread 50 ms.
import Database from 'better-sqlite3'

const db = new Database(':memory:')
db.exec('CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT)')
const insert = db.prepare('INSERT INTO posts (title, body) VALUES (?, ?)')
for (let i = 1; i <= 10; i++) insert.run(`post ${i}`, 'lorem ipsum '.repeat(8))
const tenRows = db.prepare('SELECT id, title, body FROM posts ORDER BY id LIMIT 10')

export function posts () {
  return tenRows.all()
}

export function postsView () {
  return { posts: tenRows.all() }
}

export function block50 () {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
  return true
}
