import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import { ImproperlyConfigured } from '../errors.js'
import type { HttpRequest } from '../http/request.js'
import type { HttpResponse } from '../http/response.js'
import { kCsrf, kCsrfCandidate, kRotateCsrf } from '../symbols.js'
import { checkView } from './check.js'
import type { CsrfSettings } from './options.js'
import { importPeer } from '../peers/index.js'
import { deriveKey, secretKeys } from './secret.js'
import { CSRF_COOKIE_AGE, rotateToken, type CsrfState } from './token.js'

/** The HttpOnly, signed cookie holding the secret (the readable one holds a token). */
export const SECRET_COOKIE = 'csrfsecret'
/** Django's CSRF_SESSION_KEY. */
export const SESSION_KEY = '_csrftoken'

type Candidate = FastifyRequest & { [kCsrfCandidate]?: string }
type Unsign = (value: string) => { valid: boolean, value: string | null }
interface CookieParts { cookies?: Record<string, string | undefined> }
interface SessionLike { get: (key: string) => unknown, set: (key: string, value: unknown) => void, delete?: (key: string) => void }
type Protection = (req: FastifyRequest, reply: FastifyReply, next: () => void) => void

/** Django's CsrfViewMiddleware: nothing in the request or response phase, the check in processView. */
export type CsrfMiddleware = (getResponse: (request: HttpRequest) => Promise<HttpResponse>) => {
  (request: HttpRequest): Promise<HttpResponse>
  processView: (request: HttpRequest, view: unknown) => HttpResponse | undefined
}

/**
 * Sets up the `csrf` option on the app: @fastify/cookie (adopted when the app
 * registered one with a secret) and @fastify/csrf-protection with Django's
 * names; returns the middleware that checks views and routes.
 */
export async function installCsrf (app: FastifyInstance, settings: CsrfSettings, secretKey: unknown): Promise<CsrfMiddleware> {
  const keys = secretKeys(secretKey, 'csrf')
  if (app.hasPlugin('@fastify/csrf-protection')) {
    // Its token source, cookie name and SameSite=Strict were fixed when it was registered.
    throw new ImproperlyConfigured("Option 'csrf': @fastify/csrf-protection is already registered in this context; remove that registration (the option registers it with Django's names and checks)")
  }
  if (settings.useSessions && !app.hasRequestDecorator('session')) {
    throw new ImproperlyConfigured("Option 'csrf.useSessions' needs sessions (request.session): set the option 'sessions'")
  }
  // The token cookie needs @fastify/cookie in either case; the signed secret cookie needs its secret.
  if (!app.hasPlugin('@fastify/cookie')) {
    const cookie = await importPeer<FastifyPluginCallback<{ secret: Buffer[] }>>('@fastify/cookie', 'csrf')
    await app.register(cookie, { secret: keys.map((key) => deriveKey(key, 'csrf cookie signing')) })
  } else if (!settings.useSessions && !app.hasReplyDecorator('unsignCookie')) {
    throw new ImproperlyConfigured("Option 'csrf': the @fastify/cookie registered before fastify-async-views has no 'secret', which the signed csrfsecret cookie needs; give it one, or let the plugin register it")
  }
  const protection = await importPeer<FastifyPluginCallback<Record<string, unknown>>>('@fastify/csrf-protection', 'csrf')
  await app.register(protection, {
    cookieKey: SECRET_COOKIE,
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, signed: true, secure: 'auto', maxAge: CSRF_COOKIE_AGE },
    sessionKey: SESSION_KEY,
    // Any session with get/set serves (@fastify/secure-session's, or a Django-style one).
    sessionPlugin: settings.useSessions ? '@fastify/secure-session' : '@fastify/cookie',
    getToken: (req: Candidate) => req[kCsrfCandidate],
    logLevel: 'trace'
  })
  const state = settings.useSessions ? sessionState(app, settings) : cookieState(app, settings)
  app.decorate(kCsrf, state)
  // login() (lib/auth, below this layer) rotates the secret through this door.
  app.decorate(kRotateCsrf, rotateToken)
  return function CsrfViewMiddleware (getResponse) {
    const middleware = (request: HttpRequest): Promise<HttpResponse> => getResponse(request)
    middleware.processView = (request: HttpRequest, view: unknown) => checkView(state, request, view)
    return middleware
  }
}

function common (app: FastifyInstance, settings: CsrfSettings): Pick<CsrfState, 'settings' | 'generate' | 'verify'> {
  const verifier = (app as unknown as { csrfProtection: Protection }).csrfProtection
  return {
    settings,
    generate: (reply) => (reply as unknown as { generateCsrf: () => string }).generateCsrf(),
    // The plugin's own check (its public onRequest hook), told the token and handed
    // the reply with `send` recording a refusal. Fails closed: no answer in time is a refusal.
    verify (req, reply, token) {
      let ok = false
      ;(req as Candidate)[kCsrfCandidate] = token
      const recorder = Object.create(reply) as FastifyReply
      recorder.send = () => recorder
      try {
        verifier(req, recorder, () => { ok = true })
      } finally {
        (req as Candidate)[kCsrfCandidate] = undefined
      }
      return ok
    }
  }
}

function cookieState (app: FastifyInstance, settings: CsrfSettings): CsrfState {
  return {
    ...common(app, settings),
    secretOf (req, reply) {
      const raw = (req as CookieParts).cookies?.[SECRET_COOKIE]
      if (raw === undefined || raw === '') return undefined
      const { valid, value } = (reply as unknown as { unsignCookie: Unsign }).unsignCookie(raw)
      return valid && value !== null && value !== '' ? value : undefined
    },
    forgetSecret (req) {
      const cookies = (req as CookieParts).cookies
      if (cookies !== undefined) cookies[SECRET_COOKIE] = undefined
    }
  }
}

function sessionState (app: FastifyInstance, settings: CsrfSettings): CsrfState {
  const sessionOf = (req: FastifyRequest): SessionLike | undefined => (req as { session?: SessionLike }).session
  return {
    ...common(app, settings),
    secretOf (req) {
      const secret = sessionOf(req)?.get(SESSION_KEY)
      return typeof secret === 'string' && secret !== '' ? secret : undefined
    },
    forgetSecret (req) {
      const session = sessionOf(req)
      if (session?.delete !== undefined) session.delete(SESSION_KEY)
      else session?.set(SESSION_KEY, undefined)
    }
  }
}
