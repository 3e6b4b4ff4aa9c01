import type { HttpRequest } from '../http/request.js'
import type { HttpResponse } from '../http/response.js'

/** What a view may return: a response, or a plain object/array sent as JSON (never a nested promise). */
export type ViewResult = HttpResponse | (object & { then?: never })

/** A view: `async (request, kwargs) => response`. */
export type ViewFunction<K = Record<string, unknown>> =
  (request: HttpRequest, kwargs: K) => ViewResult | Promise<ViewResult>
