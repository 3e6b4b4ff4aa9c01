import type { HttpRequest } from '../http/request.js'
import { HttpResponseGone, HttpResponsePermanentRedirect, HttpResponseRedirect, type HttpResponse } from '../http/response.js'
import { View } from './view.js'

/**
 * Django's RedirectView: redirects to `url` (with `%(name)s` filled from kwargs)
 * or to the pattern named `patternName`; 410 Gone when there is neither.
 */
export class RedirectView extends View<Record<string, unknown>> {
  url: string | null = null
  patternName: string | null = null
  permanent = false
  /** Pass the request's query string on. */
  queryString = false

  getRedirectUrl (request: HttpRequest, kwargs: Record<string, unknown>): string | null {
    let url: string
    if (this.url !== null) {
      url = this.url.replace(/%\(([A-Za-z_][A-Za-z0-9_]*)\)s/g, (_m, key: string) => String(kwargs[key] ?? ''))
    } else if (this.patternName !== null) {
      url = request.reverse(this.patternName, { args: request.resolverMatch?.args, kwargs })
    } else {
      return null
    }
    const full = request.getFullPath()
    const q = full.indexOf('?')
    if (this.queryString && q !== -1) url += (url.includes('?') ? '&' : '?') + full.slice(q + 1)
    return url
  }

  get (request: HttpRequest, kwargs: Record<string, unknown>): HttpResponse {
    const url = this.getRedirectUrl(request, kwargs)
    if (url === null) {
      request.fastify.log.warn({ path: request.path }, 'Gone: %s', request.path)
      return new HttpResponseGone()
    }
    return this.permanent ? new HttpResponsePermanentRedirect(url) : new HttpResponseRedirect(url)
  }

  head (request: HttpRequest, kwargs: Record<string, unknown>): HttpResponse { return this.get(request, kwargs) }
  post (request: HttpRequest, kwargs: Record<string, unknown>): HttpResponse { return this.get(request, kwargs) }
  override options (request: HttpRequest, kwargs: Record<string, unknown>): HttpResponse { return this.get(request, kwargs) }
  delete (request: HttpRequest, kwargs: Record<string, unknown>): HttpResponse { return this.get(request, kwargs) }
  put (request: HttpRequest, kwargs: Record<string, unknown>): HttpResponse { return this.get(request, kwargs) }
  patch (request: HttpRequest, kwargs: Record<string, unknown>): HttpResponse { return this.get(request, kwargs) }
}
