import { Http404 } from '../http/exceptions.js'
import { HttpResponsePermanentRedirect, HttpResponseRedirect, type DeferredLocation } from '../http/response.js'
import { kDeferredLocation } from '../symbols.js'
import type { ReverseOptions } from '../urls/reverse.js'

export interface RedirectOptions extends ReverseOptions {
  permanent?: boolean
}

/**
 * Django's `redirect()`: to a URL, to an object with `getAbsoluteUrl()`, or to a
 * URL name. A name is reversed when the response is sent (that is when the app
 * is known); use `request.reverse()` if the view needs the URL itself.
 */
export function redirect (to: string | URL | { getAbsoluteUrl: () => string }, options: RedirectOptions = {}): HttpResponseRedirect {
  const Redirect = options.permanent === true ? HttpResponsePermanentRedirect : HttpResponseRedirect
  if (typeof to === 'object' && to !== null && !(to instanceof URL) && typeof to.getAbsoluteUrl === 'function') {
    return new Redirect(to.getAbsoluteUrl())
  }
  const target = String(to)
  if (to instanceof URL || target.includes('/')) return new Redirect(target)
  // Maybe a URL name ('post-detail', 'blog:post'), maybe a host-relative URL ('page.html'):
  // decided when the response is sent, where the app's reverse() is known.
  const response = new Redirect('.')
  const { permanent: _permanent, ...reverseOptions } = options
  Object.defineProperty(response, kDeferredLocation, { value: { to: target, options: reverseOptions } satisfies DeferredLocation })
  return response
}

/** Awaits `value`; throws Http404 when it is null or undefined (Django's get_object_or_404). */
export async function getObjectOr404<T> (value: T | PromiseLike<T>, message = 'No object matches the given query.'): Promise<NonNullable<T>> {
  const resolved = await value
  if (resolved === null || resolved === undefined) throw new Http404(message)
  return resolved as NonNullable<T>
}

/** Awaits a list; throws Http404 when it is empty (Django's get_list_or_404). */
export async function getListOr404<T> (value: readonly T[] | PromiseLike<readonly T[]>, message = 'No objects match the given query.'): Promise<T[]> {
  const resolved = await value
  if (resolved.length === 0) throw new Http404(message)
  return [...resolved]
}
