import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { isAbsolute, resolve as resolvePath_ } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ImproperlyConfigured } from './errors.js'
import { isFastifyDefaultErrorHandler, reportCompat } from './compat.js'
import { ErrorPolicy } from './http/error-policy.js'
import { messageOf } from './http/problems.js'
import { installMiddleware, installPreHandler } from './middleware/adapter.js'
import { Dispatcher } from './middleware/dispatcher.js'
import { flatten } from './urls/compile.js'
import { buildRoutes, type RouteGroup } from './urls/router.js'
import { Reverser, type ReverseOptions } from './urls/reverse.js'
import { setAppReady, type AppUrls } from './urls/base.js'
import type { ResolverMatch } from './urls/resolver-match.js'
import { bridge } from './sync/bridge.js'
import { InMemoryChannelLayer } from './channels/memory.js'
import type { ChannelLayer } from './channels/layer.js'
import { WebsocketRuntime, checkConsumerPatterns, checkHttpPatterns, ensureWebsocketPlugin, websocketRoute } from './channels/routing.js'
import { checkOptions, isLayer, type AsyncViewsOptions, type ChannelLayerConfig } from './options.js'
import { addRoute, appendSlashRedirect, notFoundHook, resolveUrl } from './view-routes.js'
import { setupUploads } from './uploads/index.js'
import { setupCsrfAndTemplates } from './templates/setup.js'
import { installAuthSessions } from './auth/setup.js'

export type { AsyncViewsOptions, ChannelLayerConfig } from './options.js'

const plugin: FastifyPluginAsync<AsyncViewsOptions> = async function asyncViews (app, options) {
  checkOptions(options)
  reportCompat(app.log)
  const debug = options.debug === true
  const prefix = joinPrefix(app.prefix, options.prefix)
  const patterns = await flatten(await loadUrlpatterns(options))
  checkHttpPatterns(patterns)
  const routes = buildRoutes(patterns)
  const reverser = new Reverser(patterns, prefix)
  const reverse = (name: string, opts?: ReverseOptions): string => reverser.reverse(name, opts)
  const userErrorHandler = (): boolean => !isFastifyDefaultErrorHandler(app.errorHandler)
  const csrfMiddleware = await setupCsrfAndTemplates(app, options, debug)

  const dispatcher = new Dispatcher({
    policy: new ErrorPolicy({
      debug,
      handlers: { 400: options.handler400, 403: options.handler403, 404: options.handler404, 500: options.handler500 },
      tried: patterns.map((flat) => flat.pattern.name === undefined ? flat.route : `${flat.route} [name='${flat.pattern.name}']`),
      userErrorHandler
    }),
    context: { prefixLength: prefix.length, reverse },
    middleware: csrfMiddleware === undefined ? options.middleware : [...(options.middleware ?? []), csrfMiddleware],
    // As Django: logged only in debug, with the exception's message when it has one.
    onNotUsed: debug ? (name, error) => app.log.debug(error.message === '' ? `MiddlewareNotUsed: ${name}` : `MiddlewareNotUsed(${name}): ${error.message}`) : undefined,
    appendSlash: options.appendSlash !== false && patterns.length > 0 ? appendSlashRedirect(patterns, prefix) : undefined,
    blockingWarnMs: debug ? options.sync?.blockingWarnMs ?? 100 : undefined
  })
  if (dispatcher.chain !== undefined) installMiddleware(app, dispatcher)

  if (options.sync !== undefined) bridge.configure(options.sync)
  // The bridge is process-wide: each app holds it, the last to close ends its threads.
  const release = bridge.hold()
  app.addHook('onClose', release)

  const layer = await createLayer(options.channelLayer)
  layer.log ??= app.log
  // Consumers close (in preClose, disconnect awaited) before the layer does.
  app.addHook('onClose', async () => { await layer.close() })
  await installAuthSessions(app, options, layerRedisOf(options.channelLayer))

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

  const notFound = notFoundHook(dispatcher, prefix)
  // The module-level reverse()/resolve() serve the one ready app (see urls/base.ts).
  app.addHook('onReady', async () => { setAppReady(urls, true) })
  app.addHook('onClose', async () => { setAppReady(urls, false) })

  // Our view routes' errors that reach Fastify: the user's handler if they set one, else our bodies.
  const routeErrorHandler = function (this: FastifyInstance, error: FastifyError, req: FastifyRequest, reply: FastifyReply): unknown {
    const current = app.errorHandler
    if (!isFastifyDefaultErrorHandler(current)) return current.call(app, error, req, reply)
    return dispatcher.policy.fastifyError(error, req, reply)
  }

  const installUploads = options.uploads === undefined ? undefined : await setupUploads(app, options.uploads)
  await app.register(async function viewRoutes (inner) {
    // Views get the raw bytes whatever the content type (Django parses lazily).
    inner.removeAllContentTypeParsers()
    inner.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
    installUploads?.(inner)
    // Under our own prefix, 404s get a 404 context of ours (Fastify's default body), so the
    // app's hooks (APPEND_SLASH, handler404, middleware) run for them. Without a prefix of
    // our own, the user's context keeps its 404 handler untouched.
    if (options.prefix !== undefined && options.prefix !== '' && options.prefix !== '/') {
      // In a context of its own: it needs the hooks the view routes go without (below).
      inner.register(async function notFoundContext (notFoundInner) {
        notFoundInner.addHook('onRequest', notFound)
        if (dispatcher.chain !== undefined) installPreHandler(notFoundInner, dispatcher)
        ;(notFoundInner.setNotFoundHandler as () => FastifyInstance)()
      })
    }
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
  // App-wide: 404s and plain routes need them. View routes inherit them too
  // (Fastify gives a context its parent's hooks whatever the order they were
  // added in); a view route's context drops both on its first request (they
  // would only pass it on: its handler does the work; see pruneRouteHooks).
  app.addHook('onRequest', notFound)
  if (dispatcher.chain !== undefined) installPreHandler(app, dispatcher)
}

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

/** The Redis server and prefix of a `channelLayer: { backend: 'redis' }` option (the Redis session store's default). */
function layerRedisOf (option: AsyncViewsOptions['channelLayer']): { url?: string, prefix?: string } | undefined {
  if (option === undefined || isLayer(option) || option.backend !== 'redis') return undefined
  return { url: (option as { url?: string }).url, prefix: (option as { prefix?: string }).prefix }
}

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
