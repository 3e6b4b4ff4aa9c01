import type { HttpRequest } from './request.js'
import type { HttpResponse } from './response.js'

/**
 * What a view may return: a response, or a plain object/array sent as JSON
 * (never a nested promise). `void` lets a view that only throws type-check
 * (TypeScript infers `Promise<void>` for such a function declaration); one
 * that returns nothing at run time is a 500 whose log names it.
 */
export type ViewResult = HttpResponse | (object & { then?: never }) | void

/** A view: `async (request, kwargs) => response`. */
export type ViewFunction<K = Record<string, unknown>> =
  (request: HttpRequest, kwargs: K) => ViewResult | Promise<ViewResult>
