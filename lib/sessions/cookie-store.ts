// The default store: the whole session in a cookie encrypted and authenticated
// by @fastify/secure-session (libsodium secretbox). Its onRequest hook decodes;
// we encode and set the cookie ourselves, so a 500 saves nothing, the size is
// checked, and the attributes are Django's (Path=/, Max-Age), which its
// defaults are not.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ERR_SESSION_TOO_BIG } from '../errors.js'
import { serializeCookie } from '../http/cookies.js'
import { EXPIRY_KEY, Session, type SessionEngine } from './session.js'
import { sendCookie, type CookieSettings } from './cookie-line.js'

/** Browsers drop bigger cookies silently (Django warns at 4093 for the whole header). */
export const MAX_COOKIE_BYTES = 4000

interface SecureSessionObject {
  get (key: string): unknown
  data (): Record<string, unknown>
}

interface SecureSessionApp {
  createSecureSession (data: Record<string, unknown>): unknown
  encodeSecureSession (session: unknown): string
}

export class CookieEngine implements SessionEngine {
  readonly #app: SecureSessionApp
  readonly #settings: CookieSettings

  constructor (app: FastifyInstance, settings: CookieSettings) {
    this.#app = app as unknown as SecureSessionApp
    this.#settings = settings
  }

  /** The session a request came with: empty when it had no cookie, or a bad or expired one. */
  load (request: FastifyRequest): Session {
    const settings = this.#settings
    let data: Record<string, unknown> = {}
    if (cookiesOf(request)[settings.cookieName] !== undefined) {
      const raw = (request as unknown as { session?: SecureSessionObject | null }).session
      if (raw !== null && raw !== undefined && typeof raw.data === 'function') {
        const decoded = raw.data()
        if (!expired(decoded, raw.get('__ts'), settings.cookieAge)) data = decoded
      }
    }
    return new Session(this, request, data, null, settings.cookieAge)
  }

  save (session: Session, request: FastifyRequest, reply: FastifyReply | null): void {
    const settings = this.#settings
    let line: string
    if (session.isEmpty()) {
      // Django deletes the cookie of an emptied session, and sets none for a new empty one.
      if (cookiesOf(request)[settings.cookieName] === undefined) return
      line = serializeCookie(settings.cookieName, '', { path: '/', maxAge: 0, httpOnly: true, sameSite: 'Lax', secure: request.protocol === 'https' })
    } else {
      const value = this.#app.encodeSecureSession(this.#app.createSecureSession({ ...session.data }))
      line = sendCookie(settings, session, request, value)
      const size = Buffer.byteLength(line.slice(0, line.indexOf(';')))
      if (size > MAX_COOKIE_BYTES) {
        throw new ERR_SESSION_TOO_BIG(`The session cookie is ${size} bytes, over ${MAX_COOKIE_BYTES} (browsers drop it silently): keep less in the session, or use sessions.store 'redis'`)
      }
    }
    settings.deliver(line, request, reply)
  }
}

/** @fastify/cookie's parsed cookies (an optional peer: not typed here). */
export function cookiesOf (request: FastifyRequest): Record<string, string | undefined> {
  return (request as { cookies?: Record<string, string | undefined> }).cookies ?? {}
}

function expired (data: Record<string, unknown>, ts: unknown, cookieAge: number): boolean {
  if (typeof ts !== 'number') return true
  const expiry = data[EXPIRY_KEY]
  const now = Date.now()
  if (typeof expiry === 'string') return Date.parse(expiry) <= now
  const age = typeof expiry === 'number' && expiry > 0 ? expiry : cookieAge
  return (ts + age) * 1000 <= now
}
