// Django's django.contrib.auth functions: authenticate, login, logout,
// update_session_auth_hash, get_user, for views (HttpRequest) and consumers
// (their scope), over the session.
import type { FastifyRequest } from 'fastify'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { ERR_NO_AUTH, ERR_UNKNOWN_BACKEND } from '../errors.js'
import type { HttpRequest } from '../http/request.js'
import { kAuth, kRotateCsrf, kSession } from '../symbols.js'
import type { Session } from '../sessions/session.js'
import { checkCookieDeliverable } from '../sessions/cookie-line.js'
import { AnonymousUser, backendOf, markUser, type AnyUser, type AuthBackend, type AuthenticatedUser, type BaseUser } from './users.js'

export const SESSION_KEY = '_auth_user_id'
export const BACKEND_SESSION_KEY = '_auth_user_backend'
export const HASH_SESSION_KEY = '_auth_user_hash'
/** A random id per login: its consumers' group is `auth.login.<id>`. */
export const LOGIN_ID_KEY = '_auth_login_id'

/** What the `auth` option became. */
export interface AuthRuntime {
  readonly backends: ReadonlyArray<AuthBackend<any>>
  readonly loginUrl: string
  readonly loginRedirectUrl: string
  readonly byName: ReadonlyMap<string, AuthBackend<any>>
}

/** A view's request, or a consumer's scope (whose `request` is the upgrade's). */
export type AuthTarget = HttpRequest | { readonly type: 'websocket', readonly request: FastifyRequest }

function fastifyOf (target: AuthTarget): FastifyRequest {
  return 'fastify' in target ? target.fastify : target.request
}

/** The auth runtime of the app serving `request`. */
export function authOf (request: FastifyRequest): AuthRuntime {
  const runtime = (request.server as { [kAuth]?: AuthRuntime })[kAuth]
  if (runtime === undefined) throw new ERR_NO_AUTH('Authentication needs the option `auth` (with `sessions` and `secretKey`)')
  return runtime
}

function sessionOf (request: FastifyRequest): Session {
  const session = (request as { [kSession]?: Session })[kSession]
  if (session === undefined) throw new ERR_NO_AUTH('Authentication needs the option `sessions`')
  return session
}

function setUser (request: FastifyRequest, user: AnyUser): void {
  (request as { user?: unknown }).user = user
}

function sameString (a: unknown, b: string): boolean {
  if (typeof a !== 'string') return false
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * Loads `request.user` from the session with one `getUser`; anonymous (and the
 * session flushed) when the user is gone, inactive, or changed their password.
 */
export function loadUser (runtime: AuthRuntime, request: FastifyRequest): Promise<void> | undefined {
  const session = (request as { [kSession]?: Session })[kSession]
  const id = session?.get(SESSION_KEY)
  if (session === undefined || typeof id !== 'string') {
    // Without a session (a WebSocket under sessions.websocket: false), the user is left as hooks set it.
    if (session !== undefined || (request as { user?: unknown }).user === null) setUser(request, AnonymousUser)
    return undefined
  }
  return resolveUser(runtime, request, session, id)
}

async function resolveUser (runtime: AuthRuntime, request: FastifyRequest, session: Session, id: string): Promise<void> {
  const backend = runtime.byName.get(session.get(BACKEND_SESSION_KEY) as string)
  const user: BaseUser | null = backend === undefined ? null : await backend.getUser(id)
  if (backend === undefined || user === null || user === undefined || user.isActive === false ||
      (backend.getSessionAuthHash !== undefined && !sameString(session.get(HASH_SESSION_KEY), backend.getSessionAuthHash(user)))) {
    await session.flush()
    setUser(request, AnonymousUser)
    return
  }
  setUser(request, markUser(user, backend.name))
}

/** Channels' `get_user(scope)` / Django's `auser()`: the session's user, reloaded. */
export async function getUser (target: AuthTarget): Promise<AnyUser> {
  const request = fastifyOf(target)
  await loadUser(authOf(request), request)
  return (request as { user?: AnyUser }).user ?? AnonymousUser
}

/**
 * Django's authenticate(): each backend in turn; the first user it gives (an
 * active one) or null.
 */
export async function authenticate<U extends BaseUser = BaseUser> (request: HttpRequest, credentials: object): Promise<AuthenticatedUser<U> | null> {
  for (const backend of authOf(request.fastify).backends as Array<AuthBackend<U>>) {
    const user = await backend.authenticate(request, credentials)
    if (user !== null && user !== undefined && user.isActive !== false) return markUser(user, backend.name)
  }
  return null
}

function backendFor (runtime: AuthRuntime, user: BaseUser, name: string | undefined): AuthBackend<any> {
  const wanted = name ?? backendOf(user) ?? (runtime.backends.length === 1 ? runtime.backends[0].name : undefined)
  const backend = wanted === undefined ? undefined : runtime.byName.get(wanted)
  if (backend === undefined) {
    throw new ERR_UNKNOWN_BACKEND(wanted === undefined
      ? 'login(): this user did not come from authenticate() and there are several backends: pass the backend name as the third argument'
      : `login(): no backend named ${JSON.stringify(wanted)} in the option auth.backends`)
  }
  return backend
}

/**
 * Django's login(): the user's id, backend and password hash in the session,
 * under a new key (flushed when someone else was logged in), a new CSRF
 * secret. A consumer's session is saved at once (before accept(): the cookie
 * rides on the 101).
 */
export async function login<U extends BaseUser> (target: AuthTarget, user: U, backend?: string): Promise<void> {
  const request = fastifyOf(target)
  const runtime = authOf(request)
  const session = sessionOf(request)
  const chosen = backendFor(runtime, user, backend)
  // A consumer past accept() cannot take the new cookie: fail before anything changes.
  checkCookieDeliverable(request)
  const hash = chosen.getSessionAuthHash?.(user) ?? ''
  const id = String(user.id)
  const current = session.get(SESSION_KEY)
  if (current !== undefined && (current !== id || (hash !== '' && !sameString(session.get(HASH_SESSION_KEY), hash)))) await session.flush()
  else await session.cycleKey()
  session.set(SESSION_KEY, id)
  session.set(BACKEND_SESSION_KEY, chosen.name)
  session.set(HASH_SESSION_KEY, hash)
  session.set(LOGIN_ID_KEY, randomBytes(16).toString('hex'))
  // Django's rotate_token, when the app has `csrf` (an HTTP login only: a 101 sets no CSRF cookie).
  if ('fastify' in target) (request.server as { [kRotateCsrf]?: (request: HttpRequest) => void })[kRotateCsrf]?.(target)
  setUser(request, markUser(user, chosen.name))
  if ((request as { ws?: boolean }).ws === true) await session.save()
}

/**
 * Django's logout(): the session flushed, the user anonymous, and the
 * consumers of that login closed (4003) through group `auth.login.<id>`.
 */
export async function logout (target: AuthTarget): Promise<void> {
  const request = fastifyOf(target)
  const session = sessionOf(request)
  const loginId = session.get(LOGIN_ID_KEY)
  await session.flush()
  setUser(request, AnonymousUser)
  if ((request as { ws?: boolean }).ws === true) await session.save()
  if (typeof loginId === 'string') {
    const layer = (request.server as { channelLayer?: { groupSend (group: string, message: { type: string }): Promise<void> } }).channelLayer
    try {
      await layer?.groupSend(`auth.login.${loginId}`, { type: 'auth.logout' })
    } catch (error) {
      request.log.warn({ err: error }, 'logout(): could not tell the consumers of this login (channel layer)')
    }
  }
}

/** Django's update_session_auth_hash: the session survives this user's password change (under a new key). */
export async function updateSessionAuthHash<U extends BaseUser> (request: HttpRequest, user: U): Promise<void> {
  const runtime = authOf(request.fastify)
  const session = sessionOf(request.fastify)
  await session.cycleKey()
  const backend = runtime.byName.get(session.get(BACKEND_SESSION_KEY) as string)
  if (session.get(SESSION_KEY) !== String(user.id) || backend?.getSessionAuthHash === undefined) return
  session.set(HASH_SESSION_KEY, backend.getSessionAuthHash(user))
}

/** Django's user.has_perm through the backend the user came from (no hasPerm: denied). */
export async function hasPerm (request: FastifyRequest, user: AnyUser, perm: string): Promise<boolean> {
  if (!user.isAuthenticated) return false
  const backend = authOf(request).byName.get(backendOf(user) ?? '')
  if (backend?.hasPerm === undefined) return false
  return await backend.hasPerm(user, perm) === true
}
