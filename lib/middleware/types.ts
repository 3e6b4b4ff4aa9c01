import type { HttpRequest } from '../http/request.js'
import type { HttpResponse } from '../http/response.js'
import type { ViewFunction } from '../http/view-types.js'

/** Calls the rest of the chain; never throws (errors arrive as responses). */
export type GetResponse = (request: HttpRequest) => Promise<HttpResponse>

type MaybeResponse = HttpResponse | null | undefined | void

/** Django's `process_view`: may return a response to skip the view. */
export type ProcessView = (request: HttpRequest, view: ViewFunction<any> | ((...args: any[]) => unknown), args: string[], kwargs: Record<string, unknown>) => MaybeResponse | Promise<MaybeResponse>
/** Django's `process_exception`: may turn a view's error into a response. */
export type ProcessException = (request: HttpRequest, error: unknown) => MaybeResponse | Promise<MaybeResponse>

/** A middleware instance that is a function (it may carry the hooks as properties). */
export interface MiddlewareFunction {
  (request: HttpRequest, getResponse: GetResponse): HttpResponse | Promise<HttpResponse>
  processView?: ProcessView
  processException?: ProcessException
}

/** A middleware instance that is an object with `call` (Python's `__call__`). */
export interface MiddlewareObject {
  call (request: HttpRequest, getResponse: GetResponse): HttpResponse | Promise<HttpResponse>
  /** Not a function: every function has `call` (Function.prototype's), but that is no middleware. */
  apply?: never
  processView?: ProcessView
  processException?: ProcessException
}

export type MiddlewareInstance = MiddlewareFunction | MiddlewareObject

/**
 * A middleware: a factory `(getResponse) => instance` or a class whose
 * constructor takes `getResponse`. Throw MiddlewareNotUsed to drop it.
 */
export type Middleware =
  | ((getResponse: GetResponse) => MiddlewareInstance)
  | (new (getResponse: GetResponse) => MiddlewareInstance)
