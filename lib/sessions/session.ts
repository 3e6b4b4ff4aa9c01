// Django's SessionBase over a store engine: a dict of JSON values, saved with
// the response when modified. The engine (cookie or Redis) only loads and writes.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ERR_SESSION_VALUE } from '../errors.js'
import { describe } from '../describe.js'

/** What a store does for a Session. */
export interface SessionEngine {
  /** Writes a modified session (`reply` null on a WebSocket, where no cookie can be set after the 101). */
  save (session: Session, request: FastifyRequest, reply: FastifyReply | null): Promise<void> | void
  /** The Set-Cookie value the saved session needs now (for the WebSocket 101), undefined when none. */
  setCookieLine? (session: Session, request: FastifyRequest): string | undefined
  /** Writes the data to a server-side store now, the cookie waiting for the response (Redis). */
  persist? (session: Session): Promise<void>
}

// Keys @fastify/session keeps on its own object.
const RESERVED = new Set(['cookie', 'sessionId', 'encryptedSessionId'])
/** Django's key for a custom expiry. */
export const EXPIRY_KEY = '_session_expiry'

/** Django's `request.session`: JSON values under string keys. */
export class Session {
  #data: Record<string, unknown>
  #key: string | null
  /** Keys to delete from the store at the next save (flush, cycleKey). */
  readonly staleKeys: string[] = []
  /** Set by set/delete/flush/cycleKey/setExpiry: the session is saved with the response. */
  modified = false
  /** True once `flush()` ran: an empty flushed session clears its cookie. */
  flushed = false
  readonly #engine: SessionEngine
  readonly #request: FastifyRequest
  readonly #cookieAge: number

  constructor (engine: SessionEngine, request: FastifyRequest, data: Record<string, unknown>, key: string | null, cookieAge: number) {
    this.#engine = engine
    this.#request = request
    this.#data = data
    this.#key = key
    this.#cookieAge = cookieAge
  }

  /** The store key (Redis), or null (cookie store, or not saved yet). */
  get sessionKey (): string | null { return this.#key }

  get<T = unknown> (key: string, fallback?: T): T {
    return (Object.hasOwn(this.#data, key) ? this.#data[key] : fallback) as T
  }

  /** Stores a JSON value; one that would not come back the same is a TypeError. */
  set (key: string, value: unknown): void {
    checkKey(key)
    if (!isJson(value, 0)) throw new ERR_SESSION_VALUE(`Session value for '${key}' is not JSON that round-trips (got ${describe(value)}); store strings, numbers, booleans, null, arrays and plain objects`)
    this.#data[key] = value
    this.modified = true
  }

  has (key: string): boolean {
    return Object.hasOwn(this.#data, key)
  }

  /** Removes a key; true when it was there. */
  delete (key: string): boolean {
    if (!Object.hasOwn(this.#data, key)) return false
    delete this.#data[key]
    this.modified = true
    return true
  }

  keys (): string[] {
    return Object.keys(this.#data)
  }

  isEmpty (): boolean {
    for (const key in this.#data) if (Object.hasOwn(this.#data, key)) return false
    return true
  }

  /**
   * Django's set_expiry: seconds of inactivity, 0 (until the browser closes),
   * a Date, or null (back to `cookieAge`).
   */
  setExpiry (value: number | Date | null): void {
    if (value === null) {
      this.delete(EXPIRY_KEY)
      return
    }
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new ERR_SESSION_VALUE('setExpiry(): invalid Date')
      this.set(EXPIRY_KEY, value.toISOString())
      return
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new ERR_SESSION_VALUE(`setExpiry() takes seconds (an integer >= 0), a Date or null (got ${describe(value)})`)
    this.set(EXPIRY_KEY, value)
  }

  /** Seconds until the session expires (Django's get_expiry_age). */
  getExpiryAge (): number {
    const expiry = this.#data[EXPIRY_KEY]
    if (typeof expiry === 'string') return Math.max(0, Math.floor((Date.parse(expiry) - Date.now()) / 1000))
    if (typeof expiry === 'number' && expiry > 0) return expiry
    return this.#cookieAge
  }

  /** Whether the cookie ends with the browser (setExpiry(0), or `expireAtBrowserClose` without a custom expiry). */
  getExpireAtBrowserClose (expireAtBrowserClose: boolean): boolean {
    const expiry = this.#data[EXPIRY_KEY]
    return expiry === undefined || expiry === null ? expireAtBrowserClose : expiry === 0
  }

  /** Empties the session and gives it a new key (logout). */
  async flush (): Promise<void> {
    this.#data = {}
    this.flushed = true
    this.#retireKey()
    this.modified = true
  }

  /** Same data under a new key (login: no session fixation). */
  async cycleKey (): Promise<void> {
    this.#retireKey()
    this.modified = true
  }

  /**
   * Saves now. A view's session is saved with its response anyway (a server-side
   * store writes now); a consumer's only by this call, or login()/logout().
   */
  async save (): Promise<void> {
    if ((this.#request as { ws?: boolean }).ws !== true) {
      await this.#engine.persist?.(this)
      return
    }
    await this.#engine.save(this, this.#request, null)
    this.modified = false
  }

  /** The data, for the engine. */
  get data (): Readonly<Record<string, unknown>> { return this.#data }

  /** The store key the engine saved under (after flush or cycleKey). */
  useKey (key: string): void {
    this.#key = key
  }

  #retireKey (): void {
    if (this.#key !== null && this.#key !== '') this.staleKeys.push(this.#key)
    this.#key = null
  }
}

function checkKey (key: unknown): void {
  if (typeof key !== 'string') throw new ERR_SESSION_VALUE(`Session keys are strings (got ${describe(key)})`)
  if (RESERVED.has(key)) throw new ERR_SESSION_VALUE(`Session key '${key}' is reserved (@fastify/session keeps its own '${key}')`)
}

/** Whether JSON.parse(JSON.stringify(value)) gives back an equal value. */
export function isJson (value: unknown, depth: number): boolean {
  if (depth > 100) return false
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0)
    case 'object': {
      if (value === null) return true
      if (Array.isArray(value)) {
        // A hole would come back as null, an extra property not at all.
        if (Object.keys(value).length !== value.length) return false
        return value.every((item) => isJson(item, depth + 1))
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      if (Object.getOwnPropertySymbols(value).length > 0) return false
      for (const key of Object.keys(value)) {
        if (key === '__proto__' || !isJson((value as Record<string, unknown>)[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}
