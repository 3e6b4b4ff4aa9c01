import { isMainThread } from 'node:worker_threads'
import { describe } from '../describe.js'
import { ERR_ASYNC_TO_SYNC_ON_LOOP, ERR_INVALID_MODULE_REFERENCE, ERR_NOT_A_BRIDGE_WORKER, ERR_NOT_CLONEABLE } from '../errors.js'
import type { HttpRequest } from '../http/request.js'
import {
  HttpResponse, JsonResponse, HttpResponseRedirect, HttpResponsePermanentRedirect, HttpResponseNotModified, HttpResponseBadRequest,
  HttpResponseForbidden, HttpResponseNotFound, HttpResponseGone, HttpResponseServerError, HttpResponseNotAllowed
} from '../http/response.js'
import { kDeferredLocation, kUploads } from '../symbols.js'
import type { ParsedForm } from '../http/files.js'
import type { ViewFunction, ViewResult } from '../http/view-types.js'
import { bridge } from './bridge.js'
import { enableContexts } from './context.js'
import { moduleHref } from './modules.js'
import type { PackedViewResult, RequestSnapshot } from './protocol.js'
import { isBridgeWorker, callMainSync } from './thread.js'
import { isPrimitive, needsPacking, pack, type PackedArgs } from './serialize.js'
import { bytesOf, crossingBytes } from './view-worker.js'

/** Per-call options, passed as the last argument: `fn(a, b, { signal: request.signal })`. */
export interface CallOptions { signal?: AbortSignal }

type AnyFn = (...args: any[]) => unknown
type Awaited_<T> = T extends PromiseLike<infer U> ? U : T

/** What `syncToAsync` returns: the same arguments (plus optional call options), a promise of the result. */
export type AsyncVersion<F extends AnyFn> = (...args: [...Parameters<F>] | [...Parameters<F>, CallOptions]) => Promise<Awaited_<ReturnType<F>>>

export interface SyncToAsyncOptions {
  /** One shared worker, calls one at a time in call order (default true), or the pool. */
  threadSensitive?: boolean
}

function isCallOptions (value: unknown): value is CallOptions {
  // An AbortSignal cannot cross threads, so an object holding one is never a real argument.
  return value !== null && typeof value === 'object' && (value as CallOptions).signal instanceof AbortSignal
}

/**
 * asgiref's `sync_to_async`: an async function that runs the module's export on
 * a worker thread. `syncToAsync(new URL('./db.js', import.meta.url), 'allPosts')`.
 */
export function syncToAsync<F extends AnyFn = AnyFn> (moduleUrl: URL | string, exportName = 'default', options: SyncToAsyncOptions = {}): AsyncVersion<F> {
  const href = moduleHref(moduleUrl, 'syncToAsync()')
  if (typeof exportName !== 'string' || exportName === '') throw new ERR_INVALID_MODULE_REFERENCE(`syncToAsync(): exportName must be a non-empty string (got ${describe(exportName)})`)
  const threadSensitive = options.threadSensitive ?? true
  // From now on requests and connections open thread-sensitive contexts (see context.ts).
  enableContexts()
  // Not an async function: bridge.call's promise is the caller's (never throws, rejects).
  const fn = function (...args: unknown[]): Promise<unknown> {
    let signal: AbortSignal | undefined
    if (args.length > 0 && isCallOptions(args[args.length - 1])) signal = (args.pop() as CallOptions).signal
    return bridge.call(threadSensitive, href, exportName, args, signal)
  }
  Object.defineProperty(fn, 'name', { value: exportName })
  return fn as AsyncVersion<F>
}

/**
 * asgiref's `async_to_sync`: a sync function that blocks its caller until the
 * async export settles. Meant for sync code on a bridge worker: the async
 * export runs on the main event loop. On the main thread it throws: use await.
 */
export function asyncToSync<F extends AnyFn = AnyFn> (moduleUrl: URL | string, exportName = 'default'): (...args: Parameters<F>) => Awaited_<ReturnType<F>> {
  const href = moduleHref(moduleUrl, 'asyncToSync()')
  const fn = function (...args: unknown[]): unknown {
    if (isMainThread) {
      throw new ERR_ASYNC_TO_SYNC_ON_LOOP(`You cannot use asyncToSync() on the main thread, where the event loop runs: it would block the loop the async ${exportName}() needs. Just await it directly.`)
    }
    if (!isBridgeWorker()) {
      // A worker of the user's own has no port to the bridge's main-thread side: nothing could run the async code.
      throw new ERR_NOT_A_BRIDGE_WORKER('asyncToSync() works on the bridge\'s worker threads (code run by syncToAsync or syncView), not on other worker threads: there is no event loop of the bridge to run the async code. Await it in that worker instead.')
    }
    return callMainSync(href, exportName, args)
  }
  Object.defineProperty(fn, 'name', { value: exportName })
  return fn as (...args: Parameters<F>) => Awaited_<ReturnType<F>>
}

export interface SyncViewOptions {
  /** Run on the shared thread-sensitive worker instead of the pool (default false, as Django gives each request a thread). */
  threadSensitive?: boolean
}

let tokens = 0

/**
 * A view whose sync function runs on a worker thread, as Django runs sync
 * views in a thread under ASGI. The function gets a copy of the request.
 */
export function syncView<K = Record<string, unknown>> (moduleUrl: URL | string, exportName = 'default', options: SyncViewOptions = {}): ViewFunction<K> {
  const href = moduleHref(moduleUrl, 'syncView()')
  const threadSensitive = options.threadSensitive ?? false
  enableContexts()
  const view = async function (request: HttpRequest, kwargs: K): Promise<ViewResult> {
    const token = ++tokens
    // The request stays here: the worker reaches its reverse() and logger by token while the view runs.
    const packed = await bridge.call(threadSensitive, href, exportName, viewArgs(request, token, kwargs), undefined, token, request)
    return unpackViewResult(packed as PackedViewResult)
  }
  Object.defineProperty(view, 'name', { value: exportName === 'default' ? 'syncView' : exportName })
  return view
}

// The view's arguments as they cross: the snapshot is plain data but for the
// attributes and kwargs, so only those are looked at (a Buffer among them
// sends the whole list through the serialiser, which keeps it a Buffer).
function viewArgs (request: HttpRequest, token: number, kwargs: unknown): PackedArgs {
  const packing = { needed: needsPacking(kwargs) }
  const args = [snapshot(request, token, packing), kwargs]
  if (!packing.needed) return args
  try {
    return pack(args)
  } catch (error) {
    throw new ERR_NOT_CLONEABLE(`The URL kwargs of a sync view cannot be sent to a worker thread: ${(error as Error).message}`, { cause: error })
  }
}

function snapshot (request: HttpRequest, token: number, packing: { needed: boolean }): RequestSnapshot {
  const req = request.fastify
  const match = request.resolverMatch
  const attributes: Record<string, unknown> = {}
  if (request.user !== undefined) attributes.user = request.user
  for (const key of Object.keys(request)) {
    if (key === 'fastify' || key === 'method') continue
    attributes[key] = (request as unknown as Record<string, unknown>)[key]
  }
  // Attributes that cannot cross threads are left behind, not fatal.
  for (const key of Object.keys(attributes)) {
    const value = attributes[key]
    // Plain data crosses as it is; what holds a function, a symbol or a Buffer is tried with the serialiser.
    if (isPrimitive(value) || !needsPacking(value)) continue
    try {
      pack(value)
      packing.needed = true
    } catch {
      delete attributes[key]
    }
  }
  // Node's own object: the clone copies it when the call ships.
  const headers: RequestSnapshot['headers'] = req.raw.headers
  const form = (req as { [kUploads]?: ParsedForm })[kUploads]
  const scheme = request.scheme
  return {
    form: form === undefined
      ? undefined
      : { fields: form.fields, files: [...form.files.lists()].flatMap(([field, files]) => files.map((f): [string, string, number, string, string] => [field, f.name, f.size, f.contentType, f.path])) },
    token,
    method: request.method,
    url: req.raw.url ?? '/',
    headers,
    body: crossingBytes(request.body),
    // The socket's own (as request.META reads them), without building META.
    remoteAddress: req.raw.socket?.remoteAddress,
    remotePort: req.raw.socket?.remotePort,
    encrypted: scheme === 'https',
    httpVersion: req.raw.httpVersion,
    protocol: scheme,
    host: req.host,
    prefixLength: request.path.length - request.pathInfo.length,
    reqId: req.id,
    match: match === null
      ? null
      : { route: match.route, urlName: match.urlName, namespaces: match.namespaces, appNames: match.appNames, args: match.args, kwargs: match.kwargs, viewName: match.viewName },
    attributes
  }
}

const RESPONSE_CLASSES = new Map<string, typeof HttpResponse>()

/** Lets a response subclass returned by sync views come back as itself. */
export function registerResponseClass (cls: typeof HttpResponse): void {
  RESPONSE_CLASSES.set(cls.name, cls)
}

for (const cls of [HttpResponse, JsonResponse, HttpResponseRedirect, HttpResponsePermanentRedirect, HttpResponseNotModified, HttpResponseBadRequest,
  HttpResponseForbidden, HttpResponseNotFound, HttpResponseGone, HttpResponseServerError, HttpResponseNotAllowed]) {
  registerResponseClass(cls as typeof HttpResponse)
}

function unpackViewResult (packed: PackedViewResult): HttpResponse {
  if (packed.kind === 'json') return new JsonResponse(packed.data, { safe: false })
  const Cls = RESPONSE_CLASSES.get(packed.cls) ?? HttpResponse
  // Only HttpResponse's own constructor runs: the body, status and headers are already made.
  const body = bytesOf(packed.body)
  const response = Reflect.construct(HttpResponse, [body, { status: packed.status }], Cls) as HttpResponse
  response.headers.delete('content-type')
  for (const [name, value] of packed.headers) response.headers.set(name, value)
  if (packed.deferred !== undefined) Object.defineProperty(response, kDeferredLocation, { value: packed.deferred })
  return response
}
