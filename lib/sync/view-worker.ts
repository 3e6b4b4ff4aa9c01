import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpRequest, type MatchData } from '../http/request.js'
import { HttpResponse, isPlainObject } from '../http/response.js'
import { kDeferredLocation, kUploads } from '../symbols.js'
import { ERR_INVALID_VIEW_RESULT } from '../errors.js'
import { FileDict, UploadedFile } from '../http/files.js'
import type { ReverseOptions } from '../urls/reverse.js'
import { REVERSE_HREF, type PackedViewResult, type RequestSnapshot } from './protocol.js'
import { callMainSync, logToMain } from './thread.js'

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'

// A logger whose lines go to the request's logger on the main thread (one object per request, its methods shared).
class WorkerLogger {
  readonly #token: number
  constructor (token: number) { this.#token = token }
  #line (level: Level, objOrMsg: unknown, msg?: string): void {
    if (typeof objOrMsg === 'string') logToMain(level, this.#token, objOrMsg, undefined)
    else logToMain(level, this.#token, msg ?? '', objOrMsg instanceof Error ? { err: { type: objOrMsg.name, message: objOrMsg.message, stack: objOrMsg.stack } } : objOrMsg)
  }

  trace (objOrMsg: unknown, msg?: string): void { this.#line('trace', objOrMsg, msg) }
  debug (objOrMsg: unknown, msg?: string): void { this.#line('debug', objOrMsg, msg) }
  info (objOrMsg: unknown, msg?: string): void { this.#line('info', objOrMsg, msg) }
  warn (objOrMsg: unknown, msg?: string): void { this.#line('warn', objOrMsg, msg) }
  error (objOrMsg: unknown, msg?: string): void { this.#line('error', objOrMsg, msg) }
  fatal (objOrMsg: unknown, msg?: string): void { this.#line('fatal', objOrMsg, msg) }
  child (): WorkerLogger { return this }
}

const NO_CLIENT = { writableEnded: false, destroyed: false, once () {}, on () {}, removeListener () {} }

/**
 * A real HttpRequest over a stand-in FastifyRequest made from the snapshot: the
 * sync view gets the same API (GET, POST, headers, META, COOKIES, json()...).
 */
export function buildWorkerRequest (snapshot: RequestSnapshot): HttpRequest {
  const raw = {
    method: snapshot.method,
    url: snapshot.url,
    headers: snapshot.headers,
    httpVersion: snapshot.httpVersion,
    destroyed: false,
    socket: { remoteAddress: snapshot.remoteAddress, remotePort: snapshot.remotePort, encrypted: snapshot.encrypted }
  }
  const fake = {
    id: snapshot.reqId,
    raw,
    headers: snapshot.headers,
    body: bytesOf(snapshot.body),
    protocol: snapshot.protocol,
    host: snapshot.host,
    params: {},
    is404: false,
    log: new WorkerLogger(snapshot.token),
    ...snapshot.attributes,
    // The files stay where the main thread spooled them (and deletes them).
    [kUploads]: snapshot.form === undefined
      ? undefined
      : { fields: snapshot.form.fields, files: new FileDict(snapshot.form.files.map(([field, name, size, type, path]) => [field, new UploadedFile(name, size, type, path)])) }
  }
  // No client here: request.signal never aborts (the main thread drops the call instead).
  const replyRaw = NO_CLIENT
  const context = {
    prefixLength: snapshot.prefixLength,
    reverse: (name: string, options?: ReverseOptions): string => callMainSync(REVERSE_HREF, String(snapshot.token), [name, options]) as string
  }
  // resolverMatch is set below from the snapshot; no view runs through this request here.
  const match: MatchData | undefined = snapshot.match === null ? undefined : { pattern: undefined, error: undefined }
  const request = new HttpRequest(fake as unknown as FastifyRequest, { raw: replyRaw } as unknown as FastifyReply, context, match)
  if (snapshot.match !== null) {
    const m = snapshot.match
    const namespace = m.namespaces.join(':')
    Object.defineProperty(request, 'resolverMatch', {
      value: { func: undefined, args: m.args, kwargs: m.kwargs, urlName: m.urlName, route: m.route, namespaces: m.namespaces, namespace, appNames: m.appNames, appName: m.appNames.join(':'), viewName: m.viewName }
    })
  }
  for (const [key, value] of Object.entries(snapshot.attributes)) {
    if (key !== 'user') (request as unknown as Record<string, unknown>)[key] = value
  }
  return request
}

/** A sync view's return value in a form that can cross threads. */
export function packViewResult (result: unknown, viewName: string): PackedViewResult {
  if (result instanceof HttpResponse) {
    if (result.streaming) throw new ERR_INVALID_VIEW_RESULT(`The sync view ${viewName} returned a ${result.constructor.name}: streaming responses cannot cross threads; return it from an async view`)
    const deferred = (result as { [kDeferredLocation]?: { to: string, options: unknown } })[kDeferredLocation]
    const headers = [...result.headers]
    const cookies = result.cookies
    if (cookies.length > 0) headers.push(['set-cookie', cookies])
    return { kind: 'response', cls: result.constructor.name, status: result.statusCode, headers, body: crossingBytes(result.content), deferred }
  }
  if (Array.isArray(result) || isPlainObject(result)) return { kind: 'json', data: result }
  throw new ERR_INVALID_VIEW_RESULT(`The sync view ${viewName} didn't return an HttpResponse object. It returned ${result === null ? 'null' : typeof result} instead.`)
}

/**
 * Bytes as they cross best: a small body as a latin1 string (a clone copies
 * a string at once, while each ArrayBuffer it makes costs the receiving
 * heap's collector; for a Buffer on Node's 8 KB pool slab the clone would copy
 * the whole slab), a large one as a Uint8Array owning just its bytes.
 */
export function crossingBytes (bytes: Uint8Array): Uint8Array | string {
  if (bytes.byteLength <= SMALL_BODY) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  // A copy of just these bytes (Buffer#slice would be a view on the same buffer).
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
}

/** The bytes again, as a Buffer. */
export function bytesOf (body: Uint8Array | string): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'latin1')
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
}

const SMALL_BODY = 16 * 1024
