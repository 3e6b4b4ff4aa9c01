// django.contrib.auth's user table and ModelBackend, in short: passwords in
// Django's hash format (a Django auth_user table's hashes verify here too).
import { createHmac } from 'node:crypto'
import Database from 'better-sqlite3'
import { checkPassword, makePassword, type AnyUser, type AuthBackend } from 'fastify-async-views'
import { SECRET_KEY } from './settings.ts'

export interface User {
  id: number
  username: string
  password: string
  isActive: boolean
}

interface Row { id: number, username: string, password: string, is_active: number }

const db = new Database(':memory:')
db.exec('CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, password TEXT NOT NULL, is_active INTEGER NOT NULL DEFAULT 1)')
const byName = db.prepare<[string], Row>('SELECT * FROM auth_user WHERE username = ?')
const byId = db.prepare<[number], Row>('SELECT * FROM auth_user WHERE id = ?')
const insert = db.prepare<[string, string]>('INSERT INTO auth_user (username, password) VALUES (?, ?)')

const toUser = (row: Row | undefined): User | null =>
  row === undefined ? null : { id: row.id, username: row.username, password: row.password, isActive: row.is_active === 1 }

/** `manage.py createsuperuser`, in short. */
export async function createUser (username: string, password: string): Promise<void> {
  insert.run(username, await makePassword(password))
}

/** request.user / scope.user of this app (a backend's User, or AnonymousUser). */
export function userOf (holder: { user: unknown }): AnyUser<User> {
  return holder.user as AnyUser<User>
}

// checkPassword hashes on libuv's pool, off the event loop; an unknown user
// is checked against an unusable hash, which still costs one hash.
export const modelBackend: AuthBackend<User> = {
  name: 'users.ModelBackend',
  async authenticate (_request, credentials) {
    const { username, password } = credentials as { username?: unknown, password?: unknown }
    if (typeof username !== 'string' || typeof password !== 'string') return null
    const user = toUser(byName.get(username))
    const ok = await checkPassword(password, user?.password ?? null)
    return ok && user !== null ? user : null
  },
  async getUser (id) {
    return toUser(byId.get(Number(id)))
  },
  // Django's get_session_auth_hash: an HMAC of the password hash, so a new
  // password logs the user out everywhere.
  getSessionAuthHash (user) {
    return createHmac('sha256', SECRET_KEY).update(user.password).digest('hex')
  }
}
