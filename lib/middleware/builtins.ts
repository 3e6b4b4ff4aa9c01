import type { HttpRequest } from '../http/request.js'
import { HttpResponsePermanentRedirect, type HttpResponse } from '../http/response.js'
import type { GetResponse, Middleware, MiddlewareObject } from './types.js'
import { ERR_INVALID_HEADER } from '../errors.js'

export interface TimingOptions {
  /** The Server-Timing metric name for the whole chain below this middleware. Default `app`. */
  metric?: string
  /** Also time the view alone (from processView to its response) as `view`. Default true. */
  view?: boolean
}

/**
 * Builds a middleware that adds a `Server-Timing` header: how long everything
 * below it took (`app;dur=1.2`), and the view alone (`view;dur=0.8`).
 */
export function createTimingMiddleware (options: TimingOptions = {}): Middleware {
  const metric = options.metric ?? 'app'
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(metric)) throw new ERR_INVALID_HEADER(`Invalid Server-Timing metric name: ${JSON.stringify(metric)}`)
  const timeView = options.view ?? true
  const viewStarts = new WeakMap<HttpRequest, number>()
  return class TimingMiddleware implements MiddlewareObject {
    readonly getResponse: GetResponse
    constructor (getResponse: GetResponse) {
      this.getResponse = getResponse
    }

    async call (request: HttpRequest): Promise<HttpResponse> {
      const started = performance.now()
      const response = await this.getResponse(request)
      const ended = performance.now()
      let value = `${metric};dur=${(ended - started).toFixed(1)}`
      const viewStarted = viewStarts.get(request)
      if (viewStarted !== undefined) value += `, view;dur=${(ended - viewStarted).toFixed(1)}`
      response.headers.append('server-timing', value)
      return response
    }

    processView (request: HttpRequest): undefined {
      if (timeView) viewStarts.set(request, performance.now())
      return undefined
    }
  }
}

/** Server-Timing with the defaults (`app` and `view` metrics). */
export const TimingMiddleware: Middleware = createTimingMiddleware()

export interface SecurityOptions {
  /** `Strict-Transport-Security` max-age in seconds, sent on secure requests only; 0 = off (default). */
  hstsSeconds?: number
  hstsIncludeSubdomains?: boolean
  hstsPreload?: boolean
  /** `X-Content-Type-Options: nosniff`. Default true. */
  contentTypeNosniff?: boolean
  /** `Referrer-Policy`. Default `same-origin`; null = not sent. */
  referrerPolicy?: string | null
  /** `Cross-Origin-Opener-Policy`. Default `same-origin`; null = not sent. */
  crossOriginOpenerPolicy?: string | null
  /** Redirect plain-HTTP requests to https (301). Default false. */
  sslRedirect?: boolean
}

/**
 * Django's SecurityMiddleware: security headers on every response (never
 * overriding ones the view set), optional HSTS and HTTPS redirect.
 */
export function createSecurityMiddleware (options: SecurityOptions = {}): Middleware {
  const nosniff = options.contentTypeNosniff ?? true
  const referrer = options.referrerPolicy === undefined ? 'same-origin' : options.referrerPolicy
  const coop = options.crossOriginOpenerPolicy === undefined ? 'same-origin' : options.crossOriginOpenerPolicy
  const hstsSeconds = options.hstsSeconds ?? 0
  let hsts = `max-age=${hstsSeconds}`
  if (options.hstsIncludeSubdomains === true) hsts += '; includeSubDomains'
  if (options.hstsPreload === true) hsts += '; preload'
  const sslRedirect = options.sslRedirect === true
  return (getResponse) => async function securityMiddleware (request) {
    if (sslRedirect && !request.isSecure()) {
      return new HttpResponsePermanentRedirect(`https://${request.getHost()}${request.getFullPath()}`)
    }
    const response = await getResponse(request)
    const headers = response.headers
    if (hstsSeconds > 0 && request.isSecure() && !headers.has('strict-transport-security')) headers.set('strict-transport-security', hsts)
    if (nosniff && !headers.has('x-content-type-options')) headers.set('x-content-type-options', 'nosniff')
    if (referrer !== null && !headers.has('referrer-policy')) headers.set('referrer-policy', referrer)
    if (coop !== null && !headers.has('cross-origin-opener-policy')) headers.set('cross-origin-opener-policy', coop)
    return response
  }
}

/** Security headers with Django's defaults. */
export const SecurityMiddleware: Middleware = createSecurityMiddleware()
