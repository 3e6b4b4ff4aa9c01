import type { FastifyRequest } from 'fastify'
import { RequestHeaders } from '../http/headers.js'
import { QueryDict } from '../http/querydict.js'
import { parseCookies } from '../http/cookies.js'
import { decodedPath, type RequestUser } from '../http/request.js'
import { ERR_NO_SESSIONS } from '../errors.js'
import { kSession } from '../symbols.js'
import type { Session } from '../sessions/session.js'

/**
 * Channels' `scope` for a WebSocket connection. Members are computed when
 * first read, from the upgrade request (which stays readable).
 */
export class Scope<K = Record<string, unknown>> {
  readonly type = 'websocket'
  /** The FastifyRequest of the upgrade. */
  readonly request: FastifyRequest
  /** Positional and keyword arguments from the URL pattern (type the kwargs with the consumer's type parameter). */
  readonly urlRoute: { args: string[], kwargs: K }
  #client: [string, number] | null | undefined
  #headers: RequestHeaders | undefined
  #query: QueryDict | undefined
  #cookies: Record<string, string> | undefined
  #path: string | undefined

  constructor (request: FastifyRequest, urlRoute: { args: string[], kwargs: K }) {
    this.request = request
    this.urlRoute = urlRoute
    // Read now so the socket caches its peer (it answers from that cache once closed);
    // the pair is made when asked for (most consumers never do).
    if ((request.raw.socket as { remoteAddress?: string } | null)?.remoteAddress === undefined) this.#client = null
  }

  /** The decoded path. */
  get path (): string {
    this.#path ??= decodedPath(this.#target())
    return this.#path
  }

  /** The raw query string (without `?`). */
  get queryString (): string {
    const url = this.#target()
    const q = url.indexOf('?')
    return q === -1 ? '' : url.slice(q + 1)
  }

  // The request line's target without a fragment: browsers never send one, a raw client may.
  #target (): string {
    const url = this.request.raw.url ?? '/'
    const hash = url.indexOf('#')
    return hash === -1 ? url : url.slice(0, hash)
  }

  get query (): QueryDict {
    this.#query ??= new QueryDict(this.queryString)
    return this.#query
  }

  get headers (): RequestHeaders {
    this.#headers ??= new RequestHeaders(this.request.raw.headers)
    return this.#headers
  }

  get cookies (): Record<string, string> {
    this.#cookies ??= parseCookies(this.request.raw.headers.cookie)
    return this.#cookies
  }

  /** `[address, port]` of the client, as ASGI's scope['client']. */
  get client (): [string, number] | null {
    if (this.#client === undefined) {
      const socket = this.request.raw.socket as { remoteAddress?: string, remotePort?: number } | null
      this.#client = socket?.remoteAddress === undefined ? null : [socket.remoteAddress, socket.remotePort ?? 0]
    }
    return this.#client
  }

  /** Subprotocols the client offered. */
  get subprotocols (): string[] {
    const header = this.request.raw.headers['sec-websocket-protocol']
    if (header === undefined) return []
    return String(header).split(',').map((p) => p.trim()).filter((p) => p !== '')
  }

  /** The HTTP side's session (option `sessions`), loaded before connect(). Changes need `await scope.session.save()`. */
  get session (): Session {
    const session = (this.request as { [kSession]?: Session })[kSession]
    if (session === undefined) throw new ERR_NO_SESSIONS('scope.session needs the option `sessions` (with sessions.websocket on)')
    return session
  }

  /** The user (option `auth`: loaded before connect()), or whatever Fastify hooks put on the upgrade request as `user`. */
  get user (): RequestUser {
    return (this.request as { user?: unknown }).user as RequestUser
  }
}

/** The scope a background consumer gets (Channels' `{ type: 'channel', channel }`). */
export interface ChannelScope {
  type: 'channel'
  channel: string
}
