import { STATUS_CODES, validateHeaderValue } from 'node:http'
import { kApply, kDeferredLocation } from '../symbols.js'
import { ResponseHeaders, type HeaderValue } from './headers.js'
import { serializeCookie, type CookieOptions } from './cookies.js'
import { DisallowedRedirect } from './exceptions.js'
import { iriToUri } from '../urls/iri.js'
import type { ReverseOptions } from '../urls/reverse.js'
import { ERR_CONTENT_TYPE_TWICE, ERR_INVALID_CONTENT, ERR_INVALID_STATUS, ERR_JSON_UNSAFE, ERR_NOT_JSON } from '../errors.js'

/** What a response writes into: the part of FastifyReply it needs. */
export interface ReplyLike {
  code (statusCode: number): unknown
  header (name: string, value: unknown): unknown
  /** The request answered (a HEAD gets no body). */
  request?: { raw: { method?: string } }
}

/** What sending needs from the app: `reverse` for redirects by URL name. */
export interface SendContext {
  reverse (name: string, options?: ReverseOptions): string
}

export interface ResponseOptions {
  status?: number
  contentType?: string
  headers?: Record<string, HeaderValue> | Iterable<[string, HeaderValue]>
}

export type Content = string | Buffer | Uint8Array

const HTML = 'text/html; charset=utf-8'

/** Django's HttpResponse: status, case-insensitive headers, cookies and a body. */
export class HttpResponse {
  #status = 200
  // Headers are built on first access: most responses only carry a content type.
  #headers: ResponseHeaders | undefined
  #contentType: string | undefined
  #cookies: Map<string, string> | undefined
  // undefined while a JsonResponse's data is not encoded yet (see #json).
  #body: string | Buffer | undefined
  #json: { data: unknown, encode: (() => string) | undefined } | undefined
  // True for a JsonResponse nobody asked about: Fastify types and serialises it, as for a returned object.
  #implicitType = false

  constructor (content: Content = '', options?: ResponseOptions) {
    // Every promise resolved with a response looks up its `then` (is it a
    // thenable?), several per request (the view, each middleware layer). V8
    // does that lookup without an inline cache, object by object up the
    // prototype chain: an own property ends it at the first (~100 instructions
    // less a lookup than on a prototype). Undefined: a response is no thenable.
    ;(this as { then?: undefined }).then = undefined
    this.#body = toBody(content)
    this.#contentType = HTML
    if (options !== undefined) this.init(options)
  }

  /** Makes the body JSON of `data`, encoded only when needed (JsonResponse). */
  protected setJson (data: unknown, encode: (() => string) | undefined): void {
    this.#json = { data, encode }
    this.#body = undefined
    this.#contentType = 'application/json'
    this.#implicitType = true
  }

  #bodyNow (): string | Buffer {
    if (this.#body === undefined) {
      const json = this.#json as { data: unknown, encode: (() => string) | undefined }
      const text = json.encode === undefined ? JSON.stringify(json.data) : json.encode()
      if (typeof text !== 'string') throw new ERR_NOT_JSON('JsonResponse data is not serializable to JSON')
      this.#body = text
    }
    return this.#body
  }

  /** Applies the common options; subclasses call it after choosing defaults. */
  protected init (options: ResponseOptions): void {
    if (options.status !== undefined) this.statusCode = options.status
    if (options.contentType !== undefined && options.headers !== undefined && new ResponseHeaders(options.headers).has('content-type')) {
      throw new ERR_CONTENT_TYPE_TWICE("'headers' must not contain 'Content-Type' when the 'contentType' option is provided.")
    }
    if (options.contentType !== undefined) {
      validateHeaderValue('content-type', options.contentType)
      this.#implicitType = false
      this.#contentType = options.contentType
      this.#headers?.set('content-type', options.contentType)
    }
    if (options.headers !== undefined) {
      const headers = this.headers
      for (const [name, value] of Symbol.iterator in options.headers ? options.headers as Iterable<[string, HeaderValue]> : Object.entries(options.headers)) {
        headers.set(name, value)
      }
    }
  }

  get statusCode (): number { return this.#status }
  set statusCode (code: number) {
    if (!Number.isInteger(code) || code < 100 || code > 599) throw new ERR_INVALID_STATUS(`Invalid status code: ${String(code)}`)
    this.#status = code
  }

  /** Django's `reason_phrase`. */
  get reasonPhrase (): string { return STATUS_CODES[this.statusCode] ?? 'Unknown Status Code' }

  get headers (): ResponseHeaders {
    if (this.#headers === undefined) {
      this.#headers = new ResponseHeaders()
      this.#implicitType = false
      if (this.#contentType !== undefined) this.#headers.set('content-type', this.#contentType)
    }
    return this.#headers
  }

  /** False here; true on StreamingHttpResponse and its subclasses. */
  get streaming (): boolean { return false }

  /** The body as bytes. */
  get content (): Buffer {
    const body = this.#bodyNow()
    if (typeof body === 'string') this.#body = Buffer.from(body)
    return this.#body as Buffer
  }

  set content (value: Content) {
    this.#body = toBody(value)
    this.#json = undefined
    this.#implicitType = false
  }

  /** The body as text (UTF-8). */
  get text (): string {
    const body = this.#bodyNow()
    return typeof body === 'string' ? body : body.toString()
  }

  setCookie (name: string, value = '', options?: CookieOptions): void {
    this.#cookies ??= new Map()
    this.#cookies.set(name, serializeCookie(name, value, options))
  }

  /** Expires a cookie on the client (same path and domain as when it was set). */
  deleteCookie (name: string, options: Pick<CookieOptions, 'path' | 'domain' | 'sameSite'> = {}): void {
    const secure = name.startsWith('__Secure-') || name.startsWith('__Host-') || options.sameSite?.toString().toLowerCase() === 'none'
    this.setCookie(name, '', { ...options, maxAge: 0, expires: 'Thu, 01 Jan 1970 00:00:00 GMT', secure })
  }

  /** Serialised Set-Cookie values, in the order set. */
  get cookies (): string[] {
    return this.#cookies === undefined ? [] : [...this.#cookies.values()]
  }

  /** Writes status and headers into the reply; returns the payload to send. */
  [kApply] (reply: ReplyLike, _context: SendContext): unknown {
    reply.code(this.#status)
    if (this.#headers === undefined) {
      if (this.#contentType !== undefined && !this.#implicitType) reply.header('content-type', this.#contentType)
    } else {
      for (const [name, value] of this.#headers) reply.header(name, value)
    }
    if (this.#cookies !== undefined) reply.header('set-cookie', this.cookies)
    if (this.#body === undefined) {
      const json = this.#json as { data: unknown, encode: (() => string) | undefined }
      // Untouched JSON of an object: Fastify serialises and types it, exactly as for a returned object.
      if (this.#implicitType && json.encode === undefined && json.data !== null && typeof json.data === 'object') return json.data
    }
    const body = this.#bodyNow()
    // No body at all (not an empty one): Fastify then adds no content type or length.
    if ((this.#status === 304 || this.#status === 204) && body.length === 0) return undefined
    return body
  }

  /** Drops the default content type (for bodiless responses such as 304). */
  protected clearContentType (): void {
    this.#contentType = undefined
    this.#headers?.delete('content-type')
  }
}

function toBody (content: Content): string | Buffer {
  if (typeof content === 'string' || Buffer.isBuffer(content)) return content
  if (content instanceof Uint8Array) return Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  throw new ERR_INVALID_CONTENT('HttpResponse content must be a string, a Buffer or a Uint8Array')
}

export interface JsonResponseOptions extends ResponseOptions {
  /** When true (the default) only a plain object may be serialised, as in Django. */
  safe?: boolean
  /** Passed to JSON.stringify. */
  replacer?: (this: unknown, key: string, value: unknown) => unknown
  space?: string | number
}

/** A JSON body with `Content-Type: application/json`. */
export class JsonResponse extends HttpResponse {
  /** Encoded when sent, or when `content` is read (Fastify serialises it as it would a returned object). */
  constructor (data: unknown, options?: JsonResponseOptions) {
    if ((options?.safe ?? true) && !isPlainObject(data)) {
      throw new ERR_JSON_UNSAFE('In order to allow non-object values to be serialized set the safe option to false.')
    }
    if (data === undefined || typeof data === 'function' || typeof data === 'symbol') throw new ERR_NOT_JSON('JsonResponse data is not serializable to JSON')
    super('')
    const custom = options?.replacer !== undefined || options?.space !== undefined
    this.setJson(data, custom ? () => JSON.stringify(data, options?.replacer, options?.space) : undefined)
    if (options !== undefined) this.init(options)
  }
}

export function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const ALLOWED_SCHEMES = new Set(['http', 'https', 'ftp'])

/** Base of the redirects: `Location` set from `url` (IRI-encoded, as Django's `iri_to_uri`), unsafe schemes refused. */
export class HttpResponseRedirectBase extends HttpResponse {
  protected static defaultStatus = 302

  constructor (url: string | URL, options?: ResponseOptions) {
    super('', options)
    if (options?.status === undefined) this.statusCode = (this.constructor as typeof HttpResponseRedirectBase).defaultStatus
    this.headers.set('location', iriToUri(checkRedirect(String(url))))
  }

  get url (): string { return this.headers.get('location') ?? '' }

  override [kApply] (reply: ReplyLike, context: SendContext): unknown {
    const deferred = (this as { [kDeferredLocation]?: DeferredLocation })[kDeferredLocation]
    if (deferred !== undefined) this.headers.set('location', iriToUri(resolveDeferred(deferred, context)))
    return super[kApply](reply, context)
  }
}

/** Refuses `javascript:` and other schemes a redirect must not send a browser to. */
export function checkRedirect (location: string): string {
  // As browsers (and Python's urlsplit) read it: leading controls/spaces dropped, tabs and newlines removed.
  // eslint-disable-next-line no-control-regex
  const cleaned = location.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '')
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(cleaned)
  if (scheme !== null && !ALLOWED_SCHEMES.has(scheme[1].toLowerCase())) {
    throw new DisallowedRedirect(`Unsafe redirect to URL with protocol '${scheme[1]}'`)
  }
  return location
}

/** A redirect whose target may be a URL name, resolved when the response is sent. */
export interface DeferredLocation {
  to: string
  options: ReverseOptions
}

// Django's resolve_url: a name if it reverses; else a URL if it looks like one.
function resolveDeferred (deferred: DeferredLocation, context: SendContext): string {
  try {
    return context.reverse(deferred.to, deferred.options)
  } catch (error) {
    if ((error as Error)?.name === 'NoReverseMatch' && deferred.to.includes('.')) return checkRedirect(deferred.to)
    throw error
  }
}

/** 302 Found. */
export class HttpResponseRedirect extends HttpResponseRedirectBase {}

/** 301 Moved Permanently. */
export class HttpResponsePermanentRedirect extends HttpResponseRedirectBase {
  protected static override defaultStatus = 301
}

/** 304 Not Modified: no body, no content type. */
export class HttpResponseNotModified extends HttpResponse {
  constructor (options?: Omit<ResponseOptions, 'contentType'>) {
    super('', options)
    this.statusCode = 304
    this.clearContentType()
  }

  override get content (): Buffer { return super.content }
  /** Only empty content: a 304 has no body (Django raises the same way). */
  override set content (value: Content) {
    if (value.length > 0) throw new ERR_INVALID_CONTENT('You cannot set content to a 304 (Not Modified) response')
    super.content = value
  }
}

function fixedStatus (status: number): typeof HttpResponse {
  return class extends HttpResponse {
    constructor (content?: Content, options?: ResponseOptions) {
      super(content, options)
      if (options?.status === undefined) this.statusCode = status
    }
  }
}

/** 400 Bad Request. */
export class HttpResponseBadRequest extends fixedStatus(400) {}
/** 403 Forbidden. */
export class HttpResponseForbidden extends fixedStatus(403) {}
/** 404 Not Found. */
export class HttpResponseNotFound extends fixedStatus(404) {}
/** 410 Gone. */
export class HttpResponseGone extends fixedStatus(410) {}
/** 500 Internal Server Error. */
export class HttpResponseServerError extends fixedStatus(500) {}

/** 405 with an `Allow` header listing the permitted methods. */
export class HttpResponseNotAllowed extends HttpResponse {
  constructor (permittedMethods: readonly string[], content?: Content, options?: ResponseOptions) {
    super(content, options)
    if (options?.status === undefined) this.statusCode = 405
    this.headers.set('allow', permittedMethods.map((m) => m.toUpperCase()).join(', '))
  }
}
