import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ReverseOptions } from '../urls/reverse.js'
import type { RouteMatch } from '../urls/router.js'
import { resolverMatchOf, type ResolverMatch } from '../urls/resolver-match.js'
import { QueryDict } from './querydict.js'
import { RequestHeaders } from './headers.js'
import { parseCookies } from './cookies.js'
import { BadRequest } from './exceptions.js'
import { disallowedHost, isValidHost } from './host.js'
import { iriToUri, urljoin, urlsplit } from '../urls/iri.js'
import { kClientGone, kLoadUser, kMatchData, kRawBody, kReply, kSession, kUploads } from '../symbols.js'
import { FileDict, type ParsedForm } from './files.js'
import type { RequestSession } from './session-api.js'
import { ERR_NO_SESSIONS } from '../errors.js'
import { trustsForwardedProto } from '../compat.js'

/** The socket fields a request reads (`_peername`: Node's cache of the peer address), or a copy of them. */
interface PeerSocket {
  remoteAddress?: string
  remotePort?: number
  encrypted?: boolean
  _peername?: unknown
}

/** What the plugin knows about the app when it builds a request. */
export interface RequestContext {
  /** Length of the Fastify prefix the patterns live under (for `pathInfo`). */
  prefixLength: number
  reverse (name: string, options?: ReverseOptions): string
}

/** A request that reached the view routes but no view: the error it answers with. */
export interface RoutingError {
  pattern: undefined
  error: unknown
}

/**
 * What routing made of a request: a pattern and its arguments, or the error
 * (404, bad host) it gets. None for a plain Fastify route.
 */
export type MatchData = RouteMatch | RoutingError

/**
 * What a view gets: Django's HttpRequest over a FastifyRequest. Members are
 * computed when first read, from data captured when the request arrived, so
 * the object stays readable after the response is sent.
 */
export class HttpRequest {
  /** The underlying FastifyRequest. */
  readonly fastify: FastifyRequest
  readonly method: string
  readonly #reply: FastifyReply
  readonly #context: RequestContext
  readonly #match: MatchData | undefined
  readonly #socket: PeerSocket | null | undefined
  #url: string
  #GET: QueryDict | undefined
  #POST: QueryDict | undefined
  #headers: RequestHeaders | undefined
  #META: Record<string, string> | undefined
  #COOKIES: Record<string, string> | undefined
  #resolverMatch: ResolverMatch | null | undefined
  #body: Buffer | undefined
  #json: { value: unknown } | undefined
  #controller: AbortController | undefined
  #path: string | undefined

  constructor (request: FastifyRequest, reply: FastifyReply, context: RequestContext, match?: MatchData) {
    this.fastify = request
    this.#reply = reply
    this.#context = context
    this.#match = match
    const raw = request.raw
    this.method = raw.method ?? 'GET'
    this.#url = raw.url ?? '/'
    const socket = raw.socket as PeerSocket | null | undefined
    if (socket != null && raw.httpVersionMajor === 2) {
      // An HTTP/2 request's socket is a proxy that forgets the session's peer
      // once the session is gone: copied now.
      this.#socket = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, encrypted: socket.encrypted }
    } else {
      // Node keeps a socket's peer address (`_peername`) once it was asked while
      // the connection was open, and knows none after a close: ask once per
      // connection, so the address stays readable. Asking per request cost ~900
      // instructions (two getters on a socket, megamorphic loads).
      // eslint-disable-next-line no-void -- the read is the point: Node caches the address
      if (socket != null && socket._peername === undefined) void socket.remoteAddress
      this.#socket = socket
    }
  }

  /** The path, percent-decoded (`/café/`). */
  get path (): string {
    this.#path ??= decodedPath(this.#url)
    return this.#path
  }

  /** The path below the plugin's prefix: what the URL patterns match. */
  get pathInfo (): string {
    const length = this.#context.prefixLength
    return length === 0 ? this.path : this.path.slice(length) || '/'
  }

  /**
   * `http` or `https`. Behind a proxy Fastify's `trustProxy` trusts, the first
   * `X-Forwarded-Proto` value decides, as Django's SECURE_PROXY_SSL_HEADER reads it.
   */
  get scheme (): string {
    const own = this.#socket?.encrypted === true ? 'https' : 'http'
    const forwarded = this.fastify.raw.headers['x-forwarded-proto']
    if (forwarded === undefined || !trustsForwardedProto(this.fastify, own)) return own
    const value = typeof forwarded === 'string' ? forwarded : forwarded[0]
    const comma = value.indexOf(',')
    return (comma === -1 ? value : value.slice(0, comma)).trim() === 'https' ? 'https' : 'http'
  }

  /** Query string parameters. */
  get GET (): QueryDict {
    if (this.#GET === undefined) {
      const q = this.#url.indexOf('?')
      this.#GET = new QueryDict(q === -1 ? '' : this.#url.slice(q + 1))
    }
    return this.#GET
  }

  /** Form fields of an `application/x-www-form-urlencoded` or (with `uploads`) `multipart/form-data` body. */
  get POST (): QueryDict {
    if (this.#POST === undefined) {
      const type = this.fastify.headers['content-type']
      const parsed: unknown = this.fastify.body
      const form = (this.fastify as { [kUploads]?: ParsedForm })[kUploads]
      if (form !== undefined) {
        this.#POST = new QueryDict(form.fields)
      } else if (type === undefined || !type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        this.#POST = new QueryDict()
      } else if (charsetOf(type) !== undefined && (Buffer.isBuffer(parsed) || (this.fastify as { [kRawBody]?: Buffer })[kRawBody] !== undefined)) {
        // The bytes are at hand: decode them in the form's own charset.
        this.#POST = new QueryDict(decodeForm(this.body, charsetOf(type) as string))
      } else if (parsed !== null && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
        // A form parser on a plain route (@fastify/formbody) already made it an object.
        const pairs: Array<[string, string]> = []
        for (const [key, value] of Object.entries(parsed)) {
          for (const item of Array.isArray(value) ? value : [value]) pairs.push([key, String(item)])
        }
        this.#POST = new QueryDict(pairs)
      } else {
        this.#POST = new QueryDict(this.body.toString('utf8'))
      }
    }
    return this.#POST
  }

  /** Uploaded files of a `multipart/form-data` body (the `uploads` option); empty otherwise. */
  get FILES (): FileDict {
    return (this.fastify as { [kUploads]?: ParsedForm })[kUploads]?.files ?? NO_FILES
  }

  /** The raw body bytes, whatever the content type (empty when there is none). */
  get body (): Buffer {
    if (this.#body === undefined) {
      const body: unknown = (this.fastify as { [kRawBody]?: Buffer })[kRawBody] ?? this.fastify.body
      if (Buffer.isBuffer(body)) this.#body = body
      else if (typeof body === 'string') this.#body = Buffer.from(body)
      else if (body === undefined || body === null) this.#body = EMPTY
      // A plain Fastify route's parser already parsed it: its JSON, re-encoded (views always get the exact bytes).
      else this.#body = Buffer.from(JSON.stringify(body))
    }
    return this.#body
  }

  /** The body parsed as JSON; malformed or empty -> BadRequest (400). */
  json<T = unknown> (): T {
    if (this.#json === undefined) {
      const parsed: unknown = this.fastify.body
      // A body Fastify already parsed (and maybe validated) is used as it is.
      if (parsed !== null && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
        this.#json = { value: parsed }
      } else {
        try {
          this.#json = { value: JSON.parse(this.body.toString('utf8')) }
        } catch (error) {
          throw new BadRequest(`Malformed JSON body: ${(error as Error).message}`)
        }
      }
    }
    return this.#json.value as T
  }

  /** Case-insensitive request headers. On HTTP/2, `:authority` is `host`. */
  get headers (): RequestHeaders {
    if (this.#headers === undefined) {
      const raw = this.fastify.raw.headers
      const authority = raw[':authority']
      this.#headers = new RequestHeaders(raw.host === undefined && typeof authority === 'string' ? { ...raw, host: authority } : raw)
    }
    return this.#headers
  }

  /** CGI-style variables, as Django's `request.META`. */
  get META (): Record<string, string> {
    if (this.#META === undefined) {
      const meta: Record<string, string> = {}
      for (const [name, value] of this.headers) {
        const key = name.toUpperCase().replace(/-/g, '_')
        if (key === 'CONTENT_TYPE' || key === 'CONTENT_LENGTH') meta[key] = value
        else meta[`HTTP_${key}`] = value
      }
      const q = this.#url.indexOf('?')
      meta.QUERY_STRING = q === -1 ? '' : this.#url.slice(q + 1)
      meta.REQUEST_METHOD = this.method
      meta.PATH_INFO = this.pathInfo
      meta.SCRIPT_NAME = this.path.slice(0, this.path.length - this.pathInfo.length)
      const address = this.#socket?.remoteAddress
      const port = this.#socket?.remotePort
      if (address !== undefined) meta.REMOTE_ADDR = address
      if (port !== undefined) meta.REMOTE_PORT = String(port)
      const host = this.headers.get('host') ?? ''
      const colon = host.startsWith('[') ? host.indexOf(':', host.indexOf(']')) : host.lastIndexOf(':')
      meta.SERVER_NAME = colon === -1 ? host : host.slice(0, colon)
      meta.SERVER_PORT = colon === -1 ? (this.#socket?.encrypted === true ? '443' : '80') : host.slice(colon + 1)
      meta.SERVER_PROTOCOL = `HTTP/${this.fastify.raw.httpVersion}`
      meta['wsgi.url_scheme'] = this.scheme
      this.#META = meta
    }
    return this.#META
  }

  /** Cookies sent with the request. */
  get COOKIES (): Record<string, string> {
    this.#COOKIES ??= parseCookies(this.headers.get('cookie'))
    return this.#COOKIES
  }

  /** Which URL pattern matched; for a plain Fastify route, its URL and params. */
  get resolverMatch (): ResolverMatch | null {
    if (this.#resolverMatch === undefined) this.#resolverMatch = buildMatch(this.#match, this.fastify)
    return this.#resolverMatch
  }

  /** Aborted when the client goes away before the response is sent. */
  get signal (): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController()
      this.#controller = controller
      const res = this.#reply.raw
      const abort = (): void => {
        // An AbortError, as fetch() and the bridge throw when given this signal.
        if (!res.writableEnded) controller.abort(new DOMException('Client disconnected', 'AbortError'))
      }
      // Node destroys a request once its body is read: only one destroyed unread says the client left.
      const raw = this.fastify.raw
      if (res.destroyed || (raw.destroyed && raw.complete === false)) abort()
      else res.once('close', abort)
    }
    return this.#controller.signal
  }

  /**
   * True once the client has gone before its response was sent (request.signal's
   * rule, read when asked: the sync bridge asks before it ships a view's call,
   * where a listener per request would cost more than the hop).
   */
  [kClientGone] (): boolean {
    const res = this.#reply.raw
    if (res.writableEnded) return false
    const raw = this.fastify.raw
    return res.destroyed || (raw.destroyed && raw.complete === false)
  }

  /** The user (option `auth`: a backend's user or AnonymousUser), or what a middleware or Fastify hook attached. */
  get user (): RequestUser {
    return (this.fastify as { user?: unknown }).user as RequestUser
  }

  set user (value: RequestUser) {
    (this.fastify as { user?: unknown }).user = value
  }

  /** Django's `request.session` (option `sessions`). */
  get session (): RequestSession {
    const session = (this.fastify as { [kSession]?: RequestSession })[kSession]
    if (session === undefined) throw new ERR_NO_SESSIONS('request.session needs the option `sessions` (and `secretKey`)')
    return session
  }

  /** Reloads `request.user` from the session (Django's `await request.auser()`). */
  async auser (): Promise<RequestUser> {
    const load = (this.fastify.server as { [kLoadUser]?: (request: FastifyRequest) => Promise<unknown> })[kLoadUser]
    if (load !== undefined) await load(this.fastify)
    return this.user
  }

  /** The app's channel layer (`request.channelLayer.groupSend(...)`). */
  // Typed by the plugin's `declare module 'fastify'` (http/ does not know channels/).
  get channelLayer (): FastifyInstance['channelLayer'] {
    return this.fastify.server.channelLayer
  }

  /** Host and port from the Host header (or X-Forwarded-Host under `trustProxy`); invalid -> DisallowedHost (400). */
  getHost (): string {
    const host = this.fastify.host
    if (!isValidHost(host)) throw disallowedHost(host)
    return host
  }

  getPort (): string {
    return this.META.SERVER_PORT
  }

  isSecure (): boolean {
    return this.scheme === 'https'
  }

  /** Path and query string as the client sent them (`/a/?b=1`). */
  getFullPath (forceAppendSlash = false): string {
    const q = this.#url.indexOf('?')
    let path = q === -1 ? this.#url : this.#url.slice(0, q)
    if (forceAppendSlash && !path.endsWith('/')) path += '/'
    return q === -1 ? path : path + this.#url.slice(q)
  }

  /**
   * An absolute URI for `location` (default: this request's full path), as
   * Django builds it: joined as text, a leading `//` of a path kept as a path.
   */
  buildAbsoluteUri (location?: string): string {
    const current = `${this.scheme}://${this.getHost()}`
    let target = location === undefined ? '//' + this.getFullPath() : String(location)
    const bits = urlsplit(target)
    if (bits.scheme === '' || bits.netloc === '') {
      if (bits.path.startsWith('/') && bits.scheme === '' && bits.netloc === '' && !bits.path.includes('/./') && !bits.path.includes('/../')) {
        target = current + (target.startsWith('//') ? target.slice(2) : target)
      } else {
        const full = this.getFullPath()
        const q = full.indexOf('?')
        target = urljoin(current + (q === -1 ? full : full.slice(0, q)), target)
      }
    }
    return iriToUri(target)
  }

  /** `reverse()` for the app that serves this request. */
  reverse (name: string, options?: ReverseOptions): string {
    return this.#context.reverse(name, options)
  }

  /** Whether the client sent `X-Requested-With: XMLHttpRequest`. */
  isAjax (): boolean {
    return this.headers.get('x-requested-with') === 'XMLHttpRequest'
  }

  toString (): string {
    return `<HttpRequest: ${this.method} '${this.getFullPath()}'>`
  }

  /** @internal what routing made of this request (undefined on a plain Fastify route). */
  get [kMatchData] (): MatchData | undefined { return this.#match }

  /** @internal the reply this request is answered on. */
  get [kReply] (): FastifyReply { return this.#reply }
}

/**
 * Types users add by declaration merging:
 * `declare module 'fastify-async-views' { interface AsyncViewsTypes { user: User } }`.
 */

export interface AsyncViewsTypes {}

/** The type of `request.user` (see AsyncViewsTypes). */
export type RequestUser = AsyncViewsTypes extends { user: infer U } ? U : unknown

/** Extra attributes middleware may attach; augment it for typed `request.foo`. */

export interface HttpRequest {}

/** The `charset` of a form's Content-Type, when it names one other than UTF-8 that we can decode. */
function charsetOf (contentType: string): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)
  if (m === null) return undefined
  const label = m[1].toLowerCase()
  if (label === 'utf-8' || label === 'utf8') return undefined
  try {
    // eslint-disable-next-line no-new
    new TextDecoder(label)
    return label
  } catch {
    // An unknown charset is ignored, as Django does (LookupError): UTF-8 then.
    return undefined
  }
}

/** Form pairs of a url-encoded body whose bytes are in `charset` (Django's QueryDict(encoding=)). */
function decodeForm (body: Buffer, charset: string): Array<[string, string]> {
  const decoder = new TextDecoder(charset)
  const decode = (text: string): string => {
    const bytes: number[] = []
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === 0x2b) {
        bytes.push(0x20)
      } else if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
        bytes.push(parseInt(text.slice(i + 1, i + 3), 16))
        i += 2
      } else {
        bytes.push(c & 0xff)
      }
    }
    return decoder.decode(new Uint8Array(bytes))
  }
  const pairs: Array<[string, string]> = []
  for (const field of body.toString('latin1').split('&')) {
    if (field === '') continue
    const eq = field.indexOf('=')
    pairs.push(eq === -1 ? [decode(field), ''] : [decode(field.slice(0, eq)), decode(field.slice(eq + 1))])
  }
  return pairs
}

const EMPTY = Buffer.alloc(0)
const NO_FILES = new FileDict()

/** The path part of a request URL, percent-decoded (left as sent when malformed). */
export function decodedPath (url: string): string {
  const q = url.indexOf('?')
  const raw = q === -1 ? url : url.slice(0, q)
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

function buildMatch (match: MatchData | undefined, request: FastifyRequest): ResolverMatch | null {
  if (match !== undefined) return match.pattern === undefined ? null : resolverMatchOf(match)
  if (request.is404) return null
  const options = request.routeOptions
  const params = (request.params ?? {}) as Record<string, unknown>
  return {
    func: options.handler,
    args: [],
    kwargs: { ...params },
    urlName: undefined,
    route: options.url ?? '',
    namespaces: [],
    namespace: '',
    appNames: [],
    appName: '',
    viewName: options.handler?.name || '<anonymous>'
  }
}
