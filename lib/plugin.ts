import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods, onRequestHookHandler, preParsingHookHandler, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import { isAbsolute, resolve as resolvePath_ } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ImproperlyConfigured } from './errors.js'
import { kViewRoute } from './symbols.js'
import { Resolver404 } from './http/exceptions.js'
import { ErrorPolicy, type ErrorView } from './http/error-policy.js'
import { disallowedHost, isValidHost } from './http/host.js'
import type { HttpRequest } from './http/request.js'
import { HttpResponsePermanentRedirect, type HttpResponse } from './http/response.js'
import { sendResponse } from './http/send.js'
import { PRODUCTION_500, debugDetails, messageOf, read, safeCopy } from './http/problems.js'
import { hasBody, teeRawBody } from './http/raw-body.js'
import { installMiddleware } from './middleware/adapter.js'
import { Dispatcher } from './middleware/dispatcher.js'
import type { Middleware } from './middleware/types.js'
import { flatten, type FlatPattern } from './urls/compile.js'
import type { URLConf } from './urls/patterns.js'
import { buildRoutes, resolvePath, type RouteGroup } from './urls/router.js'
import { Reverser, type ReverseOptions } from './urls/reverse.js'
import { describe } from './describe.js'
import { setAppReady, type AppUrls } from './urls/base.js'
import { resolverMatchOf, type ResolverMatch } from './urls/resolver-match.js'
import { isFastifyDefaultErrorHandler } from './compat.js'
import { bridge, type SyncOptions } from './sync/bridge.js'
import { InMemoryChannelLayer } from './channels/memory.js'
import type { ChannelLayer, LayerOptions } from './channels/layer.js'
import type { RedisLayerOptions } from './channels/redis.js'
import { WebsocketRuntime, checkConsumerPatterns, checkHttpPatterns, ensureWebsocketPlugin, websocketRoute, type WebsocketOptions } from './channels/routing.js'
import { checkOriginPatterns } from './channels/origins.js'

/** Options of `app.register(asyncViews, options)`. */
export interface AsyncViewsOptions {
  /** HTTP URL patterns (`path`, `rePath`, `include`), or a promise of them. */
  urlpatterns?: URLConf | PromiseLike<URLConf>
  /** A module (file URL or path) exporting `urlpatterns`, instead of `urlpatterns`. */
  urlconf?: string | URL
  /** Django-style middleware, outermost first. */
  middleware?: readonly Middleware[]
  /** Django's APPEND_SLASH: GET/HEAD `/a` redirects to `/a/` when only that is routed. Default true. */
  appendSlash?: boolean
  /** Detailed 404/500 bodies (stack, patterns tried). Never on by default. */
  debug?: boolean
  handler400?: ErrorView
  handler403?: ErrorView
  handler404?: ErrorView
  handler500?: ErrorView
  /** WebSocket consumers: their URL patterns and connection settings. */
  websocket?: WebsocketOptions
  /** A ChannelLayer instance, or `{ backend: 'memory' | 'redis', ...options }`. Default: in memory. */
  channelLayer?: ChannelLayer | ChannelLayerConfig
  /** The sync/async bridge's worker pool (process-wide). */
  sync?: SyncOptions
  /** Fastify's register option: prefixes every pattern (and what `reverse` returns). */
  prefix?: string
}

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE']
const KNOWN = new Set(['urlpatterns', 'urlconf', 'middleware', 'appendSlash', 'debug', 'handler400', 'handler403', 'handler404', 'handler500', 'websocket', 'channelLayer', 'sync', 'prefix', 'logLevel', 'logSerializers'])

const plugin: FastifyPluginAsync<AsyncViewsOptions> = async function asyncViews (app, options) {
  checkOptions(options)
  const debug = options.debug === true
  const prefix = joinPrefix(app.prefix, options.prefix)
  const patterns = await flatten(await loadUrlpatterns(options))
  checkHttpPatterns(patterns)
  const routes = buildRoutes(patterns)
  const reverser = new Reverser(patterns, prefix)
  const reverse = (name: string, opts?: ReverseOptions): string => reverser.reverse(name, opts)
  const userErrorHandler = (): boolean => !isFastifyDefaultErrorHandler(app.errorHandler)

  const dispatcher = new Dispatcher({
    policy: new ErrorPolicy({
      debug,
      handlers: { 400: options.handler400, 403: options.handler403, 404: options.handler404, 500: options.handler500 },
      tried: patterns.map((flat) => flat.pattern.name === undefined ? flat.route : `${flat.route} [name='${flat.pattern.name}']`),
      userErrorHandler
    }),
    context: { prefixLength: prefix.length, reverse },
    middleware: options.middleware,
    // As Django: logged only in debug, with the exception's message when it has one.
    onNotUsed: debug ? (name, error) => app.log.debug(error.message === '' ? `MiddlewareNotUsed: ${name}` : `MiddlewareNotUsed(${name}): ${error.message}`) : undefined,
    appendSlash: options.appendSlash !== false && patterns.length > 0 ? appendSlashRedirect(patterns, prefix) : undefined,
    blockingWarnMs: debug ? options.sync?.blockingWarnMs ?? 100 : undefined
  })
  if (dispatcher.chain !== undefined) installMiddleware(app, dispatcher)

  if (options.sync !== undefined) bridge.configure(options.sync)
  // The bridge is process-wide; closing the app terminates its threads (a later call starts new ones).
  app.addHook('onClose', async () => { await bridge.close() })

  const layer = await createLayer(options.channelLayer)
  layer.log ??= app.log
  // Consumers close (in preClose, disconnect awaited) before the layer does.
  app.addHook('onClose', async () => { await layer.close() })

  let websocket: { routes: RouteGroup[], runtime: WebsocketRuntime, allowedOrigins: string[] | undefined } | undefined
  if (options.websocket !== undefined) {
    const wsPatterns = await flatten(options.websocket.urlpatterns ?? [])
    checkConsumerPatterns(wsPatterns)
    const runtime = new WebsocketRuntime(app.log, options.websocket.closeTimeout)
    await ensureWebsocketPlugin(app, options.websocket, runtime)
    runtime.startPings(options.websocket.pingInterval ?? 30000)
    websocket = { routes: buildRoutes(wsPatterns), runtime, allowedOrigins: options.websocket.allowedOrigins }
  }

  const urls: AppUrls = { reverse, resolve: (path) => resolveUrl(patterns, prefix, path) }
  try {
    app.decorate('channelLayer', layer)
    app.decorate('reverse', reverse)
    app.decorate('resolve', urls.resolve)
    app.decorateRequest('reverse', function (this: FastifyRequest, name: string, opts?: ReverseOptions) { return reverser.reverse(name, opts) })
  } catch (error) {
    throw new ImproperlyConfigured('fastify-async-views is registered twice in the same context; register it once per encapsulation context', { cause: error })
  }

  installNotFound(app, dispatcher, prefix, options, patterns.length > 0)
  // The module-level reverse()/resolve() serve the one ready app (see urls/base.ts).
  app.addHook('onReady', async () => { setAppReady(urls, true) })
  app.addHook('onClose', async () => { setAppReady(urls, false) })

  // Our view routes' errors that reach Fastify: the user's handler if they set one, else our bodies.
  const routeErrorHandler = function (this: FastifyInstance, error: FastifyError, req: FastifyRequest, reply: FastifyReply): unknown {
    const current = app.errorHandler
    if (!isFastifyDefaultErrorHandler(current)) return current.call(app, error, req, reply)
    return fastifyErrorBody(error, req, reply, debug)
  }

  await app.register(async function viewRoutes (inner) {
    // Views get the raw bytes whatever the content type (Django parses lazily).
    inner.removeAllContentTypeParsers()
    inner.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
    // Under our own prefix, 404s get a 404 context of ours (Fastify's default body), so the
    // app's hooks (APPEND_SLASH, handler404, middleware) run for them. Without a prefix of
    // our own, the user's context keeps its 404 handler untouched.
    if (options.prefix !== undefined && options.prefix !== '' && options.prefix !== '/') (inner.setNotFoundHandler as () => FastifyInstance)()
    for (const group of routes) addRoute(inner, group, dispatcher, routeErrorHandler)
    if (websocket !== undefined) {
      for (const group of websocket.routes) {
        try {
          inner.route(websocketRoute(group, () => layer, websocket.runtime, websocket.allowedOrigins) as unknown as RouteOptions)
        } catch (error) {
          throw new ImproperlyConfigured(`WebSocket pattern '${group.owner.pattern.toString()}' (Fastify route ${group.url}) could not be added: ${messageOf(error)}`, { cause: error })
        }
      }
    }
  }, { prefix: options.prefix ?? '' })
}

function addRoute (
  inner: FastifyInstance,
  group: RouteGroup,
  dispatcher: Dispatcher,
  errorHandler: RouteOptions['errorHandler']
): void {
  const { method, onRequest, preParsing, ...routeOptions } = group.owner.pattern.routeOptions as Partial<RouteOptions>
  const candidates = group.candidates
  let lastHost: string | undefined
  const view = function (req: FastifyRequest, reply: FastifyReply): void {
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

/** The body our view routes give errors Fastify raised itself (413, schema 400, a hook's throw). */
function fastifyErrorBody (error: unknown, req: FastifyRequest, reply: FastifyReply, debug: boolean): FastifyReply {
  const given = read(error, 'statusCode')
  const status = typeof given === 'number' && given >= 400 && given <= 599 ? given : 500
  const log = (err: unknown): void => {
    if (status >= 500) req.log.error({ err }, 'Internal Server Error')
    else req.log.info({ err }, messageOf(error))
  }
  try {
    log(error)
  } catch {
    try { log(safeCopy(error)) } catch {}
  }
  // Headers a failed response left behind (the cause, maybe) must not be sent.
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
  reply.code(status).type('application/json; charset=utf-8')
  if (status === 500 && !debug) return reply.send(PRODUCTION_500)
  const errorText = reply.raw.statusMessage !== '' && reply.raw.statusMessage !== undefined ? reply.raw.statusMessage : 'Error'
  const code = read(error, 'code')
  const body: Record<string, unknown> = {
    statusCode: status,
    error: STATUS_TEXT(status) ?? errorText,
    message: status >= 500 && !debug ? STATUS_TEXT(status) : messageOf(error)
  }
  if (typeof code === 'string') body.code = code
  if (debug) Object.assign(body, debugDetails(error))
  return reply.send(JSON.stringify(body))
}

function STATUS_TEXT (status: number): string | undefined {
  return STATUS_CODES[status]
}

/** Django's `resolve(path)` for a path as `reverse()` gives it (the prefix included). */
function resolveUrl (patterns: readonly FlatPattern[], prefix: string, path: string): ResolverMatch {
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
function appendSlashRedirect (patterns: readonly FlatPattern[], prefix: string): (req: FastifyRequest) => HttpResponse | undefined {
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

/** APPEND_SLASH, handler404 and the debug 404 for requests no route matched. */
function installNotFound (app: FastifyInstance, dispatcher: Dispatcher, prefix: string, options: AsyncViewsOptions, hasPatterns: boolean): void {
  const appendSlash = options.appendSlash !== false && hasPatterns
  const own404 = options.handler404 !== undefined || options.debug === true
  if (!appendSlash && !own404) return
  app.addHook('onRequest', function notFound (req, reply, done) {
    if (!req.is404) {
      done()
      return
    }
    const redirect = dispatcher.appendSlashFor(req)
    if (redirect !== undefined) {
      sendResponse(reply, redirect, dispatcher.context, dispatcher.policy.debug)
      return
    }
    const url = req.raw.url ?? '/'
    const q = url.indexOf('?')
    const rawPath = q === -1 ? url : url.slice(0, q)
    if (own404 && (rawPath === prefix || rawPath.startsWith(prefix + '/'))) {
      // Rejects only to hand the error to the user's Fastify error handler.
      Promise.resolve(dispatcher.serveError(req, reply, resolver404)).catch((error) => reply.send(error))
      return
    }
    done()
  })
}

const resolver404 = (request: HttpRequest): Resolver404 => new Resolver404(request.pathInfo)

function joinPrefix (outer: string, own: string | undefined): string {
  let prefix = (outer ?? '') + (own ?? '')
  if (prefix.endsWith('/')) prefix = prefix.slice(0, -1)
  return prefix
}

async function loadUrlpatterns (options: AsyncViewsOptions): Promise<unknown> {
  if (options.urlconf === undefined) return options.urlpatterns ?? []
  const spec = options.urlconf
  let url: string
  if (spec instanceof URL) url = spec.href
  else if (spec.startsWith('file:')) url = spec
  else url = pathToFileURL(isAbsolute(spec) ? spec : resolvePath_(spec)).href
  let module: { urlpatterns?: unknown, default?: { urlpatterns?: unknown } }
  try {
    module = await import(url)
  } catch (error) {
    throw new ImproperlyConfigured(`urlconf: could not import ${url}: ${messageOf(error)}`, { cause: error })
  }
  const urlpatterns = module.urlpatterns ?? module.default?.urlpatterns
  if (urlpatterns === undefined) throw new ImproperlyConfigured(`urlconf: ${url} does not export urlpatterns`)
  return urlpatterns
}

function checkOptions (options: AsyncViewsOptions): void {
  if (options === null || typeof options !== 'object') throw new ImproperlyConfigured('options must be an object')
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new ImproperlyConfigured(`Unknown option '${key}'`)
  }
  if (options.urlpatterns !== undefined && options.urlconf !== undefined) {
    throw new ImproperlyConfigured("Options 'urlpatterns' and 'urlconf' cannot be used together")
  }
  if (options.urlconf !== undefined && typeof options.urlconf !== 'string' && !(options.urlconf instanceof URL)) {
    throw new ImproperlyConfigured(`Option 'urlconf' must be a module path or URL (got ${describe(options.urlconf)})`)
  }
  const up = options.urlpatterns as unknown
  if (up !== undefined && !Array.isArray(up) && (up === null || typeof up !== 'object')) {
    throw new ImproperlyConfigured(`Option 'urlpatterns' must be an array of patterns, a module with urlpatterns, or a promise of one (got ${describe(up)})`)
  }
  if (options.middleware !== undefined) {
    if (!Array.isArray(options.middleware)) throw new ImproperlyConfigured(`Option 'middleware' must be an array (got ${describe(options.middleware)})`)
    options.middleware.forEach((m, i) => {
      if (typeof m !== 'function') throw new ImproperlyConfigured(`Option 'middleware[${i}]' must be a factory function or a class (got ${describe(m)})`)
    })
  }
  for (const key of ['appendSlash', 'debug'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new ImproperlyConfigured(`Option '${key}' must be a boolean (got ${describe(options[key])})`)
  }
  for (const key of ['handler400', 'handler403', 'handler404', 'handler500'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new ImproperlyConfigured(`Option '${key}' must be a view function (got ${describe(options[key])})`)
  }
  if (options.prefix !== undefined && typeof options.prefix !== 'string') throw new ImproperlyConfigured(`Option 'prefix' must be a string (got ${describe(options.prefix)})`)
  checkSyncOptions(options.sync)
  checkWebsocketOptions(options.websocket)
  checkLayerOption(options.channelLayer)
}

/** The `channelLayer` option as a layer. */
async function createLayer (option: ChannelLayer | ChannelLayerConfig | undefined): Promise<ChannelLayer> {
  if (option === undefined) return new InMemoryChannelLayer()
  if (isLayer(option)) return option
  const { backend, ...rest } = option
  try {
    if (backend === undefined || backend === 'memory') return new InMemoryChannelLayer(rest)
    if (backend === 'redis') {
      const { RedisChannelLayer } = await import('./channels/redis.js')
      const layer = new RedisChannelLayer(rest)
      try {
        await layer.connect()
      } catch (error) {
        await layer.close()
        throw error
      }
      return layer
    }
  } catch (error) {
    throw new ImproperlyConfigured(`Option 'channelLayer': ${messageOf(error)}`, { cause: error })
  }
  throw new ImproperlyConfigured(`Option 'channelLayer.backend' must be 'memory' or 'redis' (got ${JSON.stringify(backend)})`)
}

function isLayer (value: unknown): value is ChannelLayer {
  const layer = value as Partial<ChannelLayer>
  return typeof layer?.send === 'function' && typeof layer.groupSend === 'function' && typeof layer.receive === 'function'
}

function checkWebsocketOptions (ws: WebsocketOptions | undefined): void {
  if (ws === undefined) return
  if (ws === null || typeof ws !== 'object') throw new ImproperlyConfigured(`Option 'websocket' must be an object (got ${describe(ws)})`)
  for (const key of Object.keys(ws)) {
    if (!['urlpatterns', 'allowedOrigins', 'maxPayload', 'pingInterval', 'closeTimeout'].includes(key)) throw new ImproperlyConfigured(`Unknown option 'websocket.${key}'`)
  }
  if (ws.allowedOrigins !== undefined) {
    try {
      checkOriginPatterns(ws.allowedOrigins)
    } catch (error) {
      throw new ImproperlyConfigured(`Option 'websocket.allowedOrigins': ${messageOf(error)}`)
    }
  }
  if (ws.maxPayload !== undefined && (!Number.isInteger(ws.maxPayload) || ws.maxPayload < 1)) {
    throw new ImproperlyConfigured(`Option 'websocket.maxPayload' must be a positive integer of bytes (got ${describe(ws.maxPayload)})`)
  }
  if (ws.pingInterval !== undefined && (typeof ws.pingInterval !== 'number' || !(ws.pingInterval >= 0))) {
    throw new ImproperlyConfigured(`Option 'websocket.pingInterval' must be a number of ms >= 0 (got ${describe(ws.pingInterval)})`)
  }
  if (ws.closeTimeout !== undefined && (typeof ws.closeTimeout !== 'number' || !Number.isFinite(ws.closeTimeout) || !(ws.closeTimeout >= 0))) {
    throw new ImproperlyConfigured(`Option 'websocket.closeTimeout' must be a number of ms >= 0 (got ${describe(ws.closeTimeout)})`)
  }
}

function checkLayerOption (layer: unknown): void {
  if (layer === undefined || isLayer(layer)) return
  if (layer === null || typeof layer !== 'object') throw new ImproperlyConfigured(`Option 'channelLayer' must be a ChannelLayer or { backend: 'memory' | 'redis', ... } (got ${describe(layer)})`)
}

function checkSyncOptions (sync: SyncOptions | undefined): void {
  if (sync === undefined) return
  if (sync === null || typeof sync !== 'object') throw new ImproperlyConfigured(`Option 'sync' must be an object (got ${describe(sync)})`)
  for (const key of Object.keys(sync)) {
    if (key !== 'maxThreads' && key !== 'idleTimeout' && key !== 'blockingWarnMs') throw new ImproperlyConfigured(`Unknown option 'sync.${key}'`)
  }
  if (sync.maxThreads !== undefined && (!Number.isInteger(sync.maxThreads) || sync.maxThreads < 1)) {
    throw new ImproperlyConfigured(`Option 'sync.maxThreads' must be a positive integer (got ${describe(sync.maxThreads)})`)
  }
  for (const key of ['idleTimeout', 'blockingWarnMs'] as const) {
    const value = sync[key]
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0))) throw new ImproperlyConfigured(`Option 'sync.${key}' must be a number of milliseconds >= 0 (got ${describe(value)})`)
  }
}

/** `channelLayer: { backend, ...options }`. */
export type ChannelLayerConfig =
  | ({ backend?: 'memory' } & LayerOptions)
  | ({ backend: 'redis' } & RedisLayerOptions)

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's channel layer: `await app.channelLayer.groupSend('room', { type: 'chat.message', text })`. */
    channelLayer: ChannelLayer
    /** Django's `reverse()`: the path of a named URL pattern (with the plugin's prefix). */
    reverse (name: string, options?: ReverseOptions): string
    /** Django's `resolve()`: the ResolverMatch of a path (with the prefix); Resolver404 (an Http404) if none. */
    resolve (path: string): ResolverMatch
  }
  interface FastifyRequest {
    /** Django's `reverse()` for the app serving this request. */
    reverse (name: string, options?: ReverseOptions): string
  }
}

/** The plugin: `app.register(asyncViews, options)`. */
export const asyncViews = fp(plugin, { fastify: '5.x', name: 'fastify-async-views' })
export default asyncViews
