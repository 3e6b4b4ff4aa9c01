import { createHmac } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { checkPassword, makePassword, type AuthBackend } from 'fastify-async-views'

export const secretKey = 's3cret-'.repeat(6)

export interface User { id: number, username: string, password: string, isActive: boolean, perms: string[] }

/** An in-memory user table with Django-format hashes, and its backend. */
export async function userTable (): Promise<{ users: Map<number, User>, backend: AuthBackend<User> }> {
  const users = new Map<number, User>()
  users.set(1, { id: 1, username: 'alice', password: await makePassword('wonderland'), isActive: true, perms: ['app.view'] })
  users.set(2, { id: 2, username: 'bob', password: await makePassword('builder'), isActive: true, perms: ['app.view', 'app.edit'] })
  const backend: AuthBackend<User> = {
    name: 'memory',
    async authenticate (_request, credentials) {
      const { username, password } = credentials as { username: string, password: string }
      const user = [...users.values()].find((u) => u.username === username)
      // An unknown user costs one hash too.
      const ok = await checkPassword(password, user?.password)
      return ok && user !== undefined ? { ...user } : null
    },
    async getUser (id) {
      const user = users.get(Number(id))
      return user === undefined ? null : { ...user }
    },
    getSessionAuthHash: (user) => createHmac('sha256', secretKey).update(user.password).digest('hex'),
    hasPerm: (user, perm) => user.perms.includes(perm)
  }
  return { users, backend }
}

/** A one-cookie jar: follows Set-Cookie for `name`. */
export class Jar {
  value: string | undefined
  constructor (readonly name = 'sessionid') {}
  take (res: LightMyRequestResponse): LightMyRequestResponse {
    const raw = res.headers['set-cookie']
    for (const line of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
      if (!line.startsWith(this.name + '=')) continue
      const pair = line.slice(0, line.indexOf(';'))
      this.value = /Max-Age=0(;|$)/.test(line) ? undefined : pair
    }
    return res
  }

  get headers (): Record<string, string> {
    return this.value === undefined ? {} : { cookie: this.value }
  }

  async get (app: FastifyInstance, url: string): Promise<LightMyRequestResponse> {
    return this.take(await app.inject({ url, headers: this.headers }))
  }

  async post (app: FastifyInstance, url: string, form: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.take(await app.inject({ method: 'POST', url, payload: new URLSearchParams(form).toString(), headers: { ...this.headers, 'content-type': 'application/x-www-form-urlencoded' } }))
  }
}
