import type { HttpRequest } from '../http/request.js'
import { kCsrfExempt } from '../symbols.js'
import { getToken } from './token.js'

type AnyView = (request: HttpRequest, ...rest: any[]) => unknown

// A wrapper, not a mark on the view itself: the same view may be routed elsewhere, checked.
// Its own properties (an exempt mark) are copied, as functools.wraps copies __dict__.
function wrap<V extends AnyView> (view: V, name: string, before?: (request: HttpRequest) => void): V {
  const wrapped = function (this: unknown, request: HttpRequest, ...rest: unknown[]): unknown {
    before?.(request)
    return view.call(this, request, ...rest)
  }
  Object.assign(wrapped, view)
  Object.defineProperty(wrapped, 'name', { value: view.name === '' ? name : view.name })
  return wrapped as unknown as V
}

/** Django's `csrf_exempt`: the view is not CSRF-checked. */
export function csrfExempt<V extends AnyView> (view: V): V {
  const wrapped = wrap(view, 'csrfExempt')
  Object.defineProperty(wrapped, kCsrfExempt, { value: true, enumerable: true })
  return wrapped
}

/** Django's `ensure_csrf_cookie`: the response always carries the `csrftoken` cookie (for pages that POST from JS). */
export function ensureCsrfCookie<V extends AnyView> (view: V): V {
  const wrapped = wrap(view, 'ensureCsrfCookie', (request) => { getToken(request) })
  if ((view as { [kCsrfExempt]?: boolean })[kCsrfExempt] === true) Object.defineProperty(wrapped, kCsrfExempt, { value: true, enumerable: true })
  return wrapped
}
