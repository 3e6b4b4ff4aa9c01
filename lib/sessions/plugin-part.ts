// The `sessions` option: its checks, and its wiring into the app (the store's
// plugin, a hook that makes `request.session`, a hook that saves it).
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, onSendHookHandler } from 'fastify'
import { ImproperlyConfigured } from '../errors.js'
import { describe } from '../describe.js'
import { registerPeer } from '../peers/index.js'
import { kSession, kSessions } from '../symbols.js'
import { CookieEngine } from './cookie-store.js'
import { deliverCookie, type CookieSettings } from './cookie-line.js'
import { deriveKeys } from './secret-key.js'
import type { Session } from './session.js'

/** The `sessions` option (Django's SESSION_* settings). */
export interface SessionsOptions {
  /** `cookie` (default: encrypted cookie, no infrastructure) or `redis`. */
  store?: 'cookie' | 'redis'
  /** SESSION_COOKIE_NAME. Default `sessionid`. */
  cookieName?: string
  /** SESSION_COOKIE_AGE in seconds. Default 1209600 (two weeks). */
  cookieAge?: number
  /** SESSION_EXPIRE_AT_BROWSER_CLOSE. Default false. */
  expireAtBrowserClose?: boolean
  /** The Redis store's server and key prefix; default: the Redis channel layer's. */
  redis?: { url?: string, prefix?: string }
  /** Load the session (and user) for WebSocket consumers. Default true. */
  websocket?: boolean
}

/** What the rest of the package reads about the sessions of an app. */
export interface SessionRuntime {
  readonly cookieName: string
  readonly websocket: boolean
  /** The Session of a request (undefined before the sessions hook ran). */
  of (request: FastifyRequest): Session | undefined
}

const KEYS = ['store', 'cookieName', 'cookieAge', 'expireAtBrowserClose', 'redis', 'websocket']

export function checkSessionsOptions (sessions: unknown, hasSecretKey: boolean): void {
  if (sessions === undefined) return
  if (sessions === null || typeof sessions !== 'object') throw new ImproperlyConfigured(`Option 'sessions' must be an object (got ${describe(sessions)})`)
  const options = sessions as SessionsOptions
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) throw new ImproperlyConfigured(`Unknown option 'sessions.${key}'`)
  }
  if (!hasSecretKey) throw new ImproperlyConfigured("Option 'sessions' needs the option 'secretKey'")
  if (options.store !== undefined && options.store !== 'cookie' && options.store !== 'redis') throw new ImproperlyConfigured(`Option 'sessions.store' must be 'cookie' or 'redis' (got ${describe(options.store)})`)
  if (options.cookieName !== undefined && (typeof options.cookieName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(options.cookieName))) {
    throw new ImproperlyConfigured(`Option 'sessions.cookieName' must be a cookie name (got ${describe(options.cookieName)})`)
  }
  if (options.cookieAge !== undefined && (!Number.isInteger(options.cookieAge) || options.cookieAge < 1)) throw new ImproperlyConfigured(`Option 'sessions.cookieAge' must be a positive integer of seconds (got ${describe(options.cookieAge)})`)
  for (const key of ['expireAtBrowserClose', 'websocket'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new ImproperlyConfigured(`Option 'sessions.${key}' must be a boolean (got ${describe(options[key])})`)
  }
  const redis = options.redis
  if (redis !== undefined && (redis === null || typeof redis !== 'object' || (redis.url !== undefined && typeof redis.url !== 'string') || (redis.prefix !== undefined && typeof redis.prefix !== 'string'))) {
    throw new ImproperlyConfigured(`Option 'sessions.redis' must be { url?: string, prefix?: string } (got ${describe(redis)})`)
  }
}

/** What the Redis store needs from the channel layer when `sessions.redis` is not given. */
export interface LayerRedisDefaults { url?: string, prefix?: string }

/** Registers the store's plugin and the session hooks in `app`. */
export async function installSessions (app: FastifyInstance, options: SessionsOptions, secrets: readonly string[], layerRedis: LayerRedisDefaults | undefined): Promise<SessionRuntime> {
  const settings: CookieSettings = {
    cookieName: options.cookieName ?? 'sessionid',
    cookieAge: options.cookieAge ?? 1209600,
    expireAtBrowserClose: options.expireAtBrowserClose ?? false,
    deliver: deliverCookie
  }
  let load: (request: FastifyRequest) => Session | Promise<Session>
  let save: (session: Session, request: FastifyRequest, reply: FastifyReply) => void | Promise<void>
  if (options.store === 'redis') {
    const { installRedisStore } = await import('./redis-store.js')
    const engine = await installRedisStore(app, settings, secrets, options.redis ?? layerRedis)
    load = (request) => engine.load(request)
    save = (session, request, reply) => engine.save(session, request, reply)
  } else {
    await registerPeer(app, {
      package: '@fastify/secure-session',
      option: 'sessions',
      conflicts: ['@fastify/session'],
      checkAdopted: (app) => app.hasRequestDecorator('session') ? undefined : 'it must keep its session at request.session (the default sessionName)'
    }, () => ({
      key: deriveKeys(secrets, 'sessions.cookie'),
      cookieName: settings.cookieName,
      // The age is ours to check (custom expiries may be longer); this is only its upper bound.
      expiry: Math.max(settings.cookieAge, 400 * 86400)
    }))
    const engine = new CookieEngine(app, settings)
    load = (request) => engine.load(request)
    save = (session, request, reply) => { engine.save(session, request, reply) }
  }

  const websocket = options.websocket !== false
  const makeSession: onRequestHookHandler = function (request, _reply, done) {
    if (!websocket && isUpgrade(request)) {
      done()
      return
    }
    const session = load(request)
    if (session instanceof Promise) {
      session.then((s) => { (request as { [kSession]?: Session })[kSession] = s; done() }, done)
      return
    }
    (request as { [kSession]?: Session })[kSession] = session
    done()
  }
  // Saved with any response but a 500 (Django's SessionMiddleware).
  const saveSession: onSendHookHandler = function (request, reply, payload, done) {
    const session = (request as { [kSession]?: Session })[kSession]
    if (session === undefined || !session.modified || reply.statusCode === 500) {
      done(null, payload)
      return
    }
    session.modified = false
    try {
      const saving = save(session, request, reply)
      if (saving instanceof Promise) {
        saving.then(() => { done(null, payload) }, (error: Error) => { done(error) })
        return
      }
    } catch (error) {
      done(error as Error)
      return
    }
    done(null, payload)
  }
  app.decorateRequest(kSession as unknown as string, undefined)
  app.addHook('onRequest', makeSession)
  app.addHook('onSend', saveSession)

  const runtime: SessionRuntime = {
    cookieName: settings.cookieName,
    websocket,
    of: (request) => (request as { [kSession]?: Session })[kSession]
  }
  ;(app as unknown as { [kSessions]?: SessionRuntime })[kSessions] = runtime
  return runtime
}

/** A WebSocket handshake (@fastify/websocket sets `request.ws` only after our hooks). */
export function isUpgrade (request: FastifyRequest): boolean {
  const upgrade = request.headers.upgrade
  return upgrade !== undefined && upgrade.toLowerCase() === 'websocket'
}
