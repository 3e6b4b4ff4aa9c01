// The view routes: URL patterns as Fastify routes (patterns of one shape share
// one), and what requests no route matched get (APPEND_SLASH, handler404).
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods, onRequestHookHandler, preParsingHookHandler, RouteOptions } from 'fastify'
import { ImproperlyConfigured } from './errors.js'
import { kViewRoute } from './symbols.js'
import { pruneRouteHooks } from './compat.js'
import { Resolver404 } from './http/exceptions.js'
import { disallowedHost, isValidHost } from './http/host.js'
import type { HttpRequest } from './http/request.js'
import { HttpResponsePermanentRedirect, type HttpResponse } from './http/response.js'
import { sendResponse } from './http/send.js'
import { messageOf, read } from './http/problems.js'
import { hasBody, teeRawBody } from './http/raw-body.js'
import type { Dispatcher } from './middleware/dispatcher.js'
import type { FlatPattern } from './urls/compile.js'
import { resolvePath, type RouteGroup } from './urls/router.js'
import { resolverMatchOf, type ResolverMatch } from './urls/resolver-match.js'

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE']

// The app-level hooks a view route's context drops (see pruneRouteHooks): named so they are found.
const PLAIN_ROUTE_HOOKS: ReadonlySet<string> = new Set(['asyncViewsNotFound', 'asyncViewsPlainRoutes'])

export function addRoute (
  inner: FastifyInstance,
  group: RouteGroup,
  dispatcher: Dispatcher,
  errorHandler: RouteOptions['errorHandler']
): void {
  const { method, onRequest, preParsing, ...routeOptions } = group.owner.pattern.routeOptions as Partial<RouteOptions>
  const candidates = group.candidates
  let lastHost: string | undefined
  const view = function (req: FastifyRequest, reply: FastifyReply): void {
    pruneRouteHooks(req, PLAIN_ROUTE_HOOKS)
    const host = req.raw.headers.host
    if (host !== lastHost && host !== undefined) {
      if (!isValidHost(host)) return dispatcher.serveError(req, reply, () => disallowedHost(host))
      lastHost = host
    }
    const params = req.params as Record<string, string>
    for (let i = 0; i < candidates.length; i++) {
      const match = candidates[i].match(params)
      if (match !== null) return dispatcher.serveView(req, reply, match)
    }
    return dispatcher.serveNotFound(req, reply, resolver404)
  }
  Object.defineProperty(view, 'name', { value: group.owner.view.name || 'view' })
  const hooks = [onRequest].flat().filter((h) => h !== undefined) as onRequestHookHandler[]
  const parsing = [preParsing].flat().filter((h) => h !== undefined)
  // A body schema needs Fastify's JSON parser; keep the raw bytes beside it.
  if ((routeOptions.schema as { body?: unknown } | undefined)?.body !== undefined) {
    const keepRaw: preParsingHookHandler = (req, _reply, payload, done) => {
      done(null, hasBody(req) ? teeRawBody(req, payload) : payload)
    }
    parsing.unshift(keepRaw)
  }
  const route: RouteOptions = {
    errorHandler,
    prefixTrailingSlash: 'slash',
    ...routeOptions,
    // Marks a view route for the middleware hooks (they let its handler run the chain).
    config: { ...(routeOptions.config as object | undefined), [kViewRoute]: true },
    method: method ?? METHODS,
    url: group.url,
    handler: view
  }
  if (hooks.length > 0) route.onRequest = hooks
  if (parsing.length > 0) route.preParsing = parsing as RouteOptions['preParsing']
  try {
    if ((routeOptions.schema as { body?: unknown } | undefined)?.body !== undefined) {
      addWithJsonParser(inner, route, method === undefined)
    } else {
      inner.route(route)
    }
  } catch (error) {
    const code = read(error, 'code')
    throw new ImproperlyConfigured(`URL pattern '${group.owner.pattern.toString()}' (Fastify route ${group.url}) could not be added${code === 'FST_ERR_DUPLICATED_ROUTE' ? ': another route already serves that URL and method' : ''}: ${messageOf(error)}`, { cause: error })
  }
}

const BODYLESS = new Set(['GET', 'HEAD', 'TRACE'])

// Routes with a body schema live in a child context that keeps Fastify's JSON parser.
// Fastify refuses a body schema on GET/HEAD/TRACE: those methods get the route without it.
function addWithJsonParser (inner: FastifyInstance, route: RouteOptions, splitMethods: boolean): void {
  inner.register(async function schemaRoute (child) {
    child.removeAllContentTypeParsers()
    child.addContentTypeParser('application/json', { parseAs: 'string' }, child.getDefaultJsonParser('error', 'ignore'))
    child.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
    if (!splitMethods) {
      child.route(route)
      return
    }
    const methods = [route.method].flat()
    const { body: _body, ...schema } = route.schema as Record<string, unknown>
    child.route({ ...route, method: methods.filter((m) => !BODYLESS.has(m)) })
    child.route({ ...route, schema, method: methods.filter((m) => BODYLESS.has(m)) })
  })
}

/** Django's `resolve(path)` for a path as `reverse()` gives it (the prefix included). */
export function resolveUrl (patterns: readonly FlatPattern[], prefix: string, path: string): ResolverMatch {
  const text = String(path)
  if (!text.startsWith('/') || !(text === prefix || text.startsWith(prefix + '/'))) throw new Resolver404(text)
  const match = resolvePath(patterns, text.slice(prefix.length).replace(/^\//, ''))
  if (match === undefined) throw new Resolver404(text)
  return resolverMatchOf(match)
}

/**
 * Django's APPEND_SLASH rule (CommonMiddleware.should_redirect_with_slash): a GET or
 * HEAD whose path does not resolve, while `path + '/'` does, is redirected there,
 * whatever shape of Fastify route (none, a wildcard) took the request.
 */
export function appendSlashRedirect (patterns: readonly FlatPattern[], prefix: string): (req: FastifyRequest) => HttpResponse | undefined {
  return (req) => {
    const method = req.raw.method
    if (method !== 'GET' && method !== 'HEAD') return undefined
    const url = req.raw.url ?? '/'
    const q = url.indexOf('?')
    const rawPath = q === -1 ? url : url.slice(0, q)
    if (rawPath.endsWith('/') || !(rawPath === prefix || rawPath.startsWith(prefix + '/'))) return undefined
    let below: string
    try {
      below = decodeURIComponent(rawPath.slice(prefix.length))
    } catch {
      return undefined
    }
    // The prefix itself without its slash ('/api') is not the root pattern's path ('/api/').
    const resolves = (path: string): boolean => path.startsWith('/') && resolvePath(patterns, path.slice(1)) !== undefined
    if (resolves(below) || !resolves(below + '/')) return undefined
    // Never a protocol-relative Location (`//evil.com/`).
    return new HttpResponsePermanentRedirect((rawPath + '/').replace(/^[/\\]{2,}/, '/%2F') + (q === -1 ? '' : url.slice(q)))
  }
}

/**
 * Requests no route matched, under the plugin's prefix: APPEND_SLASH first,
 * then the same 404 a view route gives (handler404, one body shape, the
 * patterns tried with debug), so every 404 of the app's URL space looks alike.
 * An onRequest hook: the app's own hooks, middleware included, run for them.
 */
export function notFoundHook (dispatcher: Dispatcher, prefix: string): onRequestHookHandler {
  return function asyncViewsNotFound (req, reply, done) {
    if (!req.is404) {
      done()
      return
    }
    const url = req.raw.url ?? '/'
    const q = url.indexOf('?')
    const rawPath = q === -1 ? url : url.slice(0, q)
    if (rawPath !== prefix && !rawPath.startsWith(prefix + '/')) {
      done()
      return
    }
    const redirect = dispatcher.appendSlashFor(req)
    if (redirect !== undefined) sendResponse(reply, redirect, dispatcher.context, dispatcher.policy.debug)
    else dispatcher.serveError(req, reply, resolver404)
  }
}

const resolver404 = (request: HttpRequest): Resolver404 => new Resolver404(request.pathInfo)
