import type { FastifyReply, FastifyRequest } from 'fastify'
import { ImproperlyConfigured } from '../errors.js'
import type { HttpRequest } from '../http/request.js'
import { kCsrf, kCsrfToken, kReply } from '../symbols.js'
import type { CsrfSettings } from './options.js'

/** Django's CSRF_COOKIE_AGE: a year (both cookies). */
export const CSRF_COOKIE_AGE = 31449600

/** What the `csrf` option set up for an app: the settings and @fastify/csrf-protection's secret and tokens. */
export interface CsrfState {
  settings: CsrfSettings
  /** A new token for this request's secret (a secret made and stored first when there is none). */
  generate: (reply: FastifyReply) => string
  /** The request's valid secret, or undefined (none, or a bad signature). */
  secretOf: (req: FastifyRequest, reply: FastifyReply) => string | undefined
  /** Whether `token` was made from the request's secret. */
  verify: (req: FastifyRequest, reply: FastifyReply, token: string) => boolean
  /** Forgets the request's secret, so the next token comes from a new one. */
  forgetSecret: (req: FastifyRequest) => void
}

type Marked = FastifyRequest & { [kCsrfToken]?: string }
interface CookieReply { setCookie: (name: string, value: string, options: object) => unknown }

/** The app's CSRF state, or undefined when the `csrf` option is off. */
export function csrfStateOf (request: HttpRequest): CsrfState | undefined {
  return (request.fastify.server as unknown as { [kCsrf]?: CsrfState })[kCsrf]
}

/**
 * Django's `get_token`: a CSRF token for forms (`csrfmiddlewaretoken`) and
 * headers (`X-CSRFToken`). Also sets the readable `csrftoken` cookie holding a
 * token, so Django's JS recipe works. One token per request.
 */
export function getToken (request: HttpRequest): string {
  const req = request.fastify as Marked
  const made = req[kCsrfToken]
  if (made !== undefined) return made
  const state = csrfStateOf(request)
  if (state === undefined) throw new ImproperlyConfigured("getToken() needs the option 'csrf'")
  const reply = request[kReply]
  const token = state.generate(reply)
  ;(reply as unknown as CookieReply).setCookie(state.settings.cookieName, token, { path: '/', sameSite: 'lax', secure: 'auto', httpOnly: false, maxAge: CSRF_COOKIE_AGE })
  req[kCsrfToken] = token
  return token
}

/**
 * Django's `rotate_token`: a new secret (and token cookie) for this client, so
 * tokens made before stop working, as at login. Nothing without the `csrf` option.
 */
export function rotateToken (request: HttpRequest): void {
  const state = csrfStateOf(request)
  if (state === undefined) return
  state.forgetSecret(request.fastify)
  ;(request.fastify as Marked)[kCsrfToken] = undefined
  getToken(request)
}
