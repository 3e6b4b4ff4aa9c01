// The plugin's options: their types and the checks `register` runs first
// (a bad option fails with ImproperlyConfigured naming it).
import type { LayerOptions, ChannelLayer } from './channels/layer.js'
import type { RedisLayerOptions } from './channels/redis.js'
import { checkOriginPatterns } from './channels/origins.js'
import type { WebsocketOptions } from './channels/routing.js'
import { describe } from './describe.js'
import { ImproperlyConfigured } from './errors.js'
import type { ErrorView } from './http/error-policy.js'
import { messageOf } from './http/problems.js'
import type { Middleware } from './middleware/types.js'
import type { SyncOptions } from './sync/bridge.js'
import { csrfSettings, type CsrfOptions } from './csrf/options.js'
import { secretKeys } from './csrf/secret.js'
import { templatesSettings, type TemplatesOptions } from './templates/options.js'
import type { URLConf } from './urls/patterns.js'
import { uploadLimits, type UploadsOptions } from './uploads/index.js'
import { checkAuthOptions, type AuthOptions } from './auth/plugin-part.js'
import { checkSessionsOptions, type SessionsOptions } from './sessions/plugin-part.js'
import { checkSecretKey } from './sessions/secret-key.js'

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
  /** Multipart bodies into `request.POST` and `request.FILES` (needs `@fastify/multipart`). */
  uploads?: UploadsOptions
  /** Django's CsrfViewMiddleware on unsafe requests (`true` for the defaults). */
  csrf?: boolean | CsrfOptions
  /** Templates (nunjucks through @fastify/view): `render()`, `TemplateResponse`. */
  templates?: TemplatesOptions
  /** Django's SECRET_KEY (32+ characters), or `[current, ...fallbacks]` (SECRET_KEY_FALLBACKS: verify only). */
  secretKey?: string | readonly string[]
  /** `request.session` and `scope.session` (needs `secretKey`). */
  sessions?: SessionsOptions
  /** `request.user`, login and logout (needs `sessions`). */
  auth?: AuthOptions
}

const KNOWN = new Set(['urlpatterns', 'urlconf', 'middleware', 'appendSlash', 'debug', 'handler400', 'handler403', 'handler404', 'handler500', 'websocket', 'channelLayer', 'sync', 'prefix', 'logLevel', 'logSerializers', 'secretKey', 'sessions', 'auth', 'csrf', 'templates', 'uploads'])

export function checkOptions (options: AsyncViewsOptions): void {
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
  if (options.uploads !== undefined) uploadLimits(options.uploads)
  if (csrfSettings(options.csrf) !== undefined) secretKeys(options.secretKey, 'csrf')
  templatesSettings(options.templates)
  checkAuthSessionOptions(options)
}

// secretKey, sessions, auth (issue 17).
function checkAuthSessionOptions (options: AsyncViewsOptions): void {
  if (options.secretKey !== undefined) checkSecretKey(options.secretKey)
  checkSessionsOptions(options.sessions, options.secretKey !== undefined)
  checkAuthOptions(options.auth, options.sessions !== undefined)
  const layer = options.channelLayer as { backend?: string } | undefined
  if (options.sessions?.store === 'redis' && options.sessions.redis === undefined && (layer === undefined || isLayer(layer) || layer.backend !== 'redis')) {
    throw new ImproperlyConfigured("Option 'sessions.store': 'redis' needs sessions.redis ({ url, prefix }) or channelLayer: { backend: 'redis' }")
  }
  if (options.sessions !== undefined && options.sessions.websocket !== false && options.websocket?.allowedOrigins?.includes('*') === true) {
    throw new ImproperlyConfigured("Option 'websocket.allowedOrigins': '*' is refused while sessions.websocket is on (cross-site WebSocket hijacking: any site could act as the logged-in user); list the origins, or set sessions.websocket: false")
  }
}

export function isLayer (value: unknown): value is ChannelLayer {
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
