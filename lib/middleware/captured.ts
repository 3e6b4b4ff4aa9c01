import type { FastifyReply } from 'fastify'
import { validateHeaderName, validateHeaderValue } from 'node:http'
import { ResponseHeaders, type HeaderValue } from '../http/headers.js'
import { HttpResponse, type Content, type ReplyLike, type SendContext } from '../http/response.js'
import { serializeCookie, type CookieOptions } from '../http/cookies.js'
import { kApply } from '../symbols.js'
import { ERR_INVALID_CONTENT, ERR_INVALID_STATUS } from '../errors.js'

/** Headers read and written straight on the reply, so nothing is copied per request. */
class ReplyHeaders extends ResponseHeaders {
  readonly #reply: FastifyReply

  constructor (reply: FastifyReply) {
    super()
    this.#reply = reply
  }

  override get (name: string): string | undefined {
    const value = this.#reply.getHeader(name.toLowerCase())
    if (value === undefined) return undefined
    return Array.isArray(value) ? value.join(', ') : String(value)
  }

  override getAll (name: string): string[] {
    const value = this.#reply.getHeader(name.toLowerCase())
    if (value === undefined) return []
    return Array.isArray(value) ? value.map(String) : [String(value)]
  }

  override set (name: string, value: HeaderValue): this {
    validateHeaderName(name)
    const values = typeof value === 'number' ? [String(value)] : typeof value === 'string' ? [value] : value
    for (const item of values) validateHeaderValue(name, item)
    // Fastify appends to set-cookie; replacing means removing first.
    this.#reply.removeHeader(name.toLowerCase())
    this.#reply.header(name.toLowerCase(), typeof value === 'number' ? String(value) : value)
    return this
  }

  override append (name: string, value: string): this {
    validateHeaderName(name)
    validateHeaderValue(name, value)
    const previous = this.getAll(name)
    this.#reply.removeHeader(name.toLowerCase())
    this.#reply.header(name.toLowerCase(), previous.length === 0 ? value : [...previous, value])
    return this
  }

  override has (name: string): boolean {
    return this.#reply.hasHeader(name.toLowerCase())
  }

  override delete (name: string): boolean {
    const had = this.has(name)
    this.#reply.removeHeader(name.toLowerCase())
    return had
  }

  override get size (): number {
    return Object.keys(this.#reply.getHeaders()).length
  }

  override keys (): IterableIterator<string> {
    return Object.keys(this.#reply.getHeaders())[Symbol.iterator]()
  }

  override entries (): IterableIterator<[string, string | string[]]> {
    return this[Symbol.iterator]()
  }

  override * [Symbol.iterator] (): IterableIterator<[string, string | string[]]> {
    for (const [name, value] of Object.entries(this.#reply.getHeaders())) {
      if (value !== undefined) yield [name, Array.isArray(value) ? value.map(String) : String(value)]
    }
  }

  override toJSON (): Record<string, string | string[]> {
    return Object.fromEntries(this)
  }
}

/**
 * The response a plain Fastify route (or Fastify's own error path) produced,
 * seen by middleware as an HttpResponse. Status and headers live on the reply;
 * what middleware changes is what the client gets.
 */
export class CapturedResponse extends HttpResponse {
  readonly #reply: FastifyReply
  #payload: unknown
  #headers: ReplyHeaders | undefined

  constructor (reply: FastifyReply, payload: unknown) {
    super('')
    this.#reply = reply
    this.#payload = payload
  }

  override get statusCode (): number { return this.#reply.statusCode }
  override set statusCode (code: number) {
    if (!Number.isInteger(code) || code < 100 || code > 599) throw new ERR_INVALID_STATUS(`Invalid status code: ${String(code)}`)
    this.#reply.code(code)
  }

  override get headers (): ResponseHeaders {
    this.#headers ??= new ReplyHeaders(this.#reply)
    return this.#headers
  }

  override get streaming (): boolean {
    const payload = this.#payload as { pipe?: unknown, getReader?: unknown } | null | undefined
    return payload != null && (typeof payload.pipe === 'function' || typeof payload.getReader === 'function')
  }

  override get content (): Buffer {
    if (this.streaming) throw new ERR_INVALID_CONTENT('This response is streamed and has no `content`.')
    const payload = this.#payload
    if (payload === undefined || payload === null) return Buffer.alloc(0)
    if (typeof payload === 'string') return Buffer.from(payload)
    if (Buffer.isBuffer(payload)) return payload
    if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
    return Buffer.from(String(payload))
  }

  override set content (value: Content) {
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new ERR_INVALID_CONTENT('content must be a string, a Buffer or a Uint8Array')
    this.#payload = value
    // Fastify computes the length of the new payload.
    this.#reply.removeHeader('content-length')
  }

  override get text (): string {
    return this.content.toString()
  }

  /** The stream a streamed plain route sends (middleware may replace it). */
  get streamingContent (): unknown {
    return this.streaming ? this.#payload : undefined
  }

  set streamingContent (value: unknown) {
    this.#payload = value
    this.#reply.removeHeader('content-length')
  }

  override setCookie (name: string, value = '', options?: CookieOptions): void {
    this.headers.append('set-cookie', serializeCookie(name, value, options))
  }

  override get cookies (): string[] {
    return this.headers.getAll('set-cookie')
  }

  override [kApply] (_reply: ReplyLike, _context: SendContext): unknown {
    return this.#payload
  }
}
