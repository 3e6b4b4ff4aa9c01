// sessions.store 'redis': @fastify/session reads the signed cookie and loads
// the data through a store (ours on ioredis: `<prefix>:session:<id>` with a
// TTL); we write it back ourselves, so a 500 saves nothing and the cookie is
// Django's. ioredis runs without an offline queue: with Redis down a request
// gets a 503 within a second, never a 20 s hang (TRAPS 43).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { ImproperlyConfigured, SessionStoreUnavailable } from '../errors.js'
import { messageOf } from '../http/problems.js'
import { serializeCookie } from '../http/cookies.js'
import { registerPeer } from '../peers/index.js'
import { cookiesOf } from './cookie-store.js'
import { checkCookieDeliverable, sendCookie, type CookieSettings } from './cookie-line.js'
import { deriveKeys } from './secret-key.js'
import { Session, type SessionEngine } from './session.js'

const TIMEOUT_MS = 1000
const OWN = new Set(['cookie', 'sessionId', 'encryptedSessionId'])

type Callback<T = void> = (error?: Error | null, value?: T) => void

/** @fastify/session's store interface, on ioredis. */
export class RedisSessionStore {
  readonly client: Redis
  readonly prefix: string
  readonly #defaultTtl: number

  constructor (url: string, prefix: string, defaultTtl: number) {
    this.prefix = prefix
    this.#defaultTtl = defaultTtl
    this.client = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: TIMEOUT_MS,
      commandTimeout: TIMEOUT_MS,
      retryStrategy: (times) => Math.min(times * 100, 1000),
      disconnectTimeout: 100
    })
    // Errors surface per command (503); the connection keeps retrying.
    this.client.on('error', () => {})
  }

  key (id: string): string {
    return `${this.prefix}:session:${id}`
  }

  async #run<T> (command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (error) {
      throw new SessionStoreUnavailable('Session store unavailable', { cause: error })
    }
  }

  get (id: string, callback: Callback<Record<string, unknown> | null>): void {
    this.#run(() => this.client.get(this.key(id))).then((text) => {
      let data: Record<string, unknown> | null = null
      try {
        data = text === null ? null : JSON.parse(text) as Record<string, unknown>
      } catch {}
      callback(null, data)
    }, callback)
  }

  set (id: string, session: Record<string, unknown>, callback: Callback): void {
    this.write(id, session, this.#defaultTtl).then(() => { callback() }, callback)
  }

  destroy (id: string, callback: Callback): void {
    this.#run(() => this.client.del(this.key(id))).then(() => { callback() }, callback)
  }

  /** Writes the data (without @fastify/session's own fields) with a TTL in seconds. */
  async write (id: string, session: Record<string, unknown>, ttl: number): Promise<void> {
    const data: Record<string, unknown> = {}
    for (const key of Object.keys(session)) if (!OWN.has(key)) data[key] = session[key]
    await this.#run(() => this.client.set(this.key(id), JSON.stringify(data), 'EX', Math.max(1, ttl)))
  }

  async remove (ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.#run(() => this.client.del(...ids.map((id) => this.key(id))))
  }
}

/** @fastify/session's per-request object, as far as we use it. */
interface FastifySessionObject {
  sessionId: string
  encryptedSessionId: string
  regenerate (): Promise<void>
}

function deliverable (request: FastifyRequest): boolean {
  try {
    checkCookieDeliverable(request)
    return true
  } catch {
    return false
  }
}

function ownSession (request: FastifyRequest): FastifySessionObject {
  return (request as unknown as { session: FastifySessionObject }).session
}

class RedisEngine implements SessionEngine {
  readonly #store: RedisSessionStore
  readonly #settings: CookieSettings

  constructor (store: RedisSessionStore, settings: CookieSettings) {
    this.#store = store
    this.#settings = settings
  }

  load (request: FastifyRequest): Session {
    const own = (request as { session?: FastifySessionObject & Record<string, unknown> }).session
    const data: Record<string, unknown> = {}
    if (own !== undefined && own !== null) for (const key of Object.keys(own)) if (!OWN.has(key)) data[key] = own[key]
    return new Session(this, request, data, own?.sessionId ?? null, this.#settings.cookieAge)
  }

  /** A new id (and its signed form) from @fastify/session, after flush or cycleKey. */
  async #freshId (request: FastifyRequest): Promise<FastifySessionObject> {
    const own = ownSession(request)
    // regenerate() destroys its current id and stores an empty session under a new one.
    await own.regenerate()
    return ownSession(request)
  }

  async persist (session: Session): Promise<void> {
    if (session.sessionKey !== null && !session.isEmpty()) await this.#store.write(session.sessionKey, session.data, session.getExpiryAge())
  }

  async save (session: Session, request: FastifyRequest, reply: FastifyReply | null): Promise<void> {
    const settings = this.#settings
    const hadCookie = cookiesOf(request)[settings.cookieName] !== undefined
    if (session.isEmpty()) {
      // Logged out or emptied: the old keys go (everywhere), and the browser's cookie.
      await this.#store.remove([...session.staleKeys.splice(0), ...(session.sessionKey === null ? [] : [session.sessionKey])])
      // After a WebSocket's accept() the stale cookie stays in the browser, pointing at nothing.
      if (hadCookie && (reply !== null || deliverable(request))) settings.deliver(serializeCookie(settings.cookieName, '', { path: '/', maxAge: 0, httpOnly: true, sameSite: 'Lax', secure: request.protocol === 'https' }), request, reply)
      return
    }
    let own = ownSession(request)
    if (session.sessionKey === null) {
      if (reply === null) checkCookieDeliverable(request)
      await this.#store.remove(session.staleKeys.splice(0))
      own = await this.#freshId(request)
      session.useKey(own.sessionId)
    }
    await this.#store.write(own.sessionId, session.data, session.getExpiryAge())
    const line = sendCookie(settings, session, request, own.encryptedSessionId)
    // A server-side save that keeps the key needs no new cookie (a consumer after accept()).
    if (reply !== null || cookiesOf(request)[settings.cookieName] !== own.encryptedSessionId) settings.deliver(line, request, reply)
  }
}

/** Registers @fastify/cookie and @fastify/session on our store; the engine for the session hooks. */
export async function installRedisStore (app: FastifyInstance, settings: CookieSettings, secrets: readonly string[], redis: { url?: string, prefix?: string } | undefined): Promise<{ load: (request: FastifyRequest) => Session, save: (session: Session, request: FastifyRequest, reply: FastifyReply) => Promise<void> }> {
  if (redis === undefined) throw new ImproperlyConfigured("Option 'sessions.store': 'redis' needs sessions.redis ({ url, prefix }) or a Redis channel layer")
  const store = new RedisSessionStore(redis.url ?? 'redis://127.0.0.1:6379', redis.prefix ?? 'asgi', settings.cookieAge)
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no answer within ${TIMEOUT_MS} ms`)) }, TIMEOUT_MS)
      store.client.connect().then(() => { clearTimeout(timer); resolve() }, (error: unknown) => { clearTimeout(timer); reject(error) })
    })
  } catch (error) {
    store.client.disconnect()
    throw new ImproperlyConfigured(`Option 'sessions.store': Redis at ${redis.url ?? 'redis://127.0.0.1:6379'} is unavailable: ${messageOf(error)}`, { cause: error })
  }
  app.addHook('onClose', async () => { store.client.disconnect() })
  await registerPeer(app, { package: '@fastify/cookie', option: 'sessions' }, {})
  await registerPeer(app, {
    package: '@fastify/session',
    option: 'sessions',
    conflicts: ['@fastify/secure-session'],
    checkAdopted: () => 'sessions.store \'redis\' registers @fastify/session itself, on its own Redis store'
  }, () => ({
    secret: deriveKeys(secrets, 'sessions.redis').map((key) => key.toString('base64')),
    cookieName: settings.cookieName,
    store,
    // Its defaults: a Redis key per anonymous visitor, no cookie over http, a save on every request.
    saveUninitialized: false,
    rolling: false,
    cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: settings.cookieAge * 1000 }
  }))
  const engine = new RedisEngine(store, settings)
  return { load: (request) => engine.load(request), save: (session, request, reply) => engine.save(session, request, reply) }
}
