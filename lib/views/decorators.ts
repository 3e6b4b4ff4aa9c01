import type { HttpRequest } from '../http/request.js'
import { HttpResponseNotAllowed } from '../http/response.js'
import type { ViewFunction, ViewResult } from '../http/view-types.js'

/** Answers 405 (with `Allow`) unless the request method is one of `methods`. */
export function requireHttpMethods (methods: readonly string[]) {
  const allowed = methods.map((m) => m.toUpperCase())
  return function <K> (view: ViewFunction<K>): ViewFunction<K> {
    const wrapped = function (request: HttpRequest, kwargs: K): ViewResult | Promise<ViewResult> {
      if (!allowed.includes(request.method)) {
        request.fastify.log.warn({ method: request.method, path: request.path }, 'Method Not Allowed (%s): %s', request.method, request.path)
        return new HttpResponseNotAllowed(allowed)
      }
      return view(request, kwargs)
    }
    // As functools.wraps copies __dict__: marks such as csrfExempt's survive the wrapping.
    Object.assign(wrapped, view)
    Object.defineProperty(wrapped, 'name', { value: view.name })
    return wrapped
  }
}

/** Only GET. */
export const requireGET = requireHttpMethods(['GET'])
/** Only POST. */
export const requirePOST = requireHttpMethods(['POST'])
/** Only GET and HEAD. */
export const requireSAFE = requireHttpMethods(['GET', 'HEAD'])
