import type { HTTPMethods, RouteShorthandOptions } from 'fastify'
import { ImproperlyConfigured } from '../errors.js'
import { describe } from '../describe.js'

/** Options of `path()` / `rePath()`: Django's `name` and `kwargs`, plus any Fastify route option. */
export interface PathOptions extends RouteShorthandOptions {
  /** The URL name `reverse()` knows the pattern by. */
  name?: string
  /** Extra kwargs passed to the view, as Django's third `path()` argument. */
  kwargs?: Record<string, unknown>
  /** HTTP methods the Fastify route accepts; every common method by default (the view decides). */
  method?: HTTPMethods | HTTPMethods[]
  /** With the `uploads` option: `'stream'` leaves the multipart body to the view (`request.fastify.parts()`), no FILES. */
  uploads?: 'stream'
}

/**
 * What a pattern mounts, as the URL engine sees it: something callable. The
 * view contract (request in, response out) is typed above, in views/paths.ts.
 */
export type PatternView = (request: never, kwargs: never) => unknown

/** One URL pattern: a route (or regex) and the view it calls. */
export class URLPattern {
  readonly kind: 'path' | 'regex'
  readonly route: string
  readonly view: PatternView
  readonly name: string | undefined
  readonly defaultKwargs: Record<string, unknown> | undefined
  readonly routeOptions: RouteShorthandOptions & { method?: HTTPMethods | HTTPMethods[] }

  constructor (kind: 'path' | 'regex', route: string, view: PatternView, options: PathOptions = {}) {
    const { name, kwargs, ...routeOptions } = options
    if (name !== undefined && (typeof name !== 'string' || name === '' || name.includes(':'))) {
      throw new ImproperlyConfigured(`URL pattern ${JSON.stringify(route)}: name must be a non-empty string without ':' (got ${JSON.stringify(name)})`)
    }
    this.kind = kind
    this.route = route
    this.view = view
    this.name = name
    this.defaultKwargs = kwargs
    this.routeOptions = routeOptions
  }

  /** Django's description of the pattern, shown in debug 404s and NoReverseMatch. */
  toString (): string {
    return this.name === undefined ? this.route : `${this.route} [name='${this.name}']`
  }
}

/** A list of patterns, a module exporting `urlpatterns`, or a promise of either. */
export type URLConf = readonly URLEntry[] | URLConfModule
export interface URLConfModule {
  urlpatterns: readonly URLEntry[]
  appName?: string
}

/** What `include()` returns; mount it with `path(prefix, include(...))`. */
export class Include {
  readonly source: URLConf | PromiseLike<URLConf | { default: URLConf }>
  readonly namespace: string | undefined

  constructor (source: Include['source'], namespace: string | undefined) {
    this.source = source
    this.namespace = namespace
  }
}

/** A prefix and the patterns included below it. */
export class URLResolver {
  readonly kind: 'path' | 'regex'
  readonly route: string
  readonly include: Include
  readonly defaultKwargs: Record<string, unknown> | undefined

  constructor (kind: 'path' | 'regex', route: string, include: Include, kwargs: Record<string, unknown> | undefined) {
    this.kind = kind
    this.route = route
    this.include = include
    this.defaultKwargs = kwargs
  }
}

export type URLEntry = URLPattern | URLResolver

/** `path(route, view | include(...), options)`; typed for users in views/paths.ts. */
export function path (route: string, view: PatternView | Include, options?: PathOptions): URLEntry {
  return make('path', checkRoute(route), view, options)
}

/** `rePath(regex, view | include(...), options)`; typed for users in views/paths.ts. */
export function rePath (regex: string | RegExp, view: PatternView | Include, options?: PathOptions): URLEntry {
  let source: string
  if (regex instanceof RegExp) {
    if (regex.flags.replace(/[gyd]/g, '') !== '') throw new ImproperlyConfigured(`rePath(${String(regex)}): regex flags are not supported`)
    source = regex.source
  } else if (typeof regex === 'string') {
    source = regex
  } else {
    throw new ImproperlyConfigured('rePath() takes a RegExp or a string')
  }
  return make('regex', source, view, options)
}

function make (kind: 'path' | 'regex', route: string, view: PatternView | Include, options: PathOptions | undefined): URLEntry {
  if (view instanceof Include) {
    const extra = options === undefined ? [] : Object.keys(options).filter((key) => key !== 'kwargs')
    if (extra.length > 0) throw new ImproperlyConfigured(`path(${JSON.stringify(route)}, include(...)) takes only the kwargs option (got ${extra.join(', ')})`)
    return new URLResolver(kind, route, view, options?.kwargs)
  }
  if (typeof view !== 'function') {
    throw new ImproperlyConfigured(`URL pattern ${JSON.stringify(route)}: view must be a function, a View's asView() or include() (got ${describe(view)})`)
  }
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ImproperlyConfigured(`URL pattern ${JSON.stringify(route)}: options must be an object`)
  }
  return new URLPattern(kind, route, view, options)
}

function checkRoute (route: string): string {
  if (typeof route !== 'string') throw new ImproperlyConfigured(`path() route must be a string (got ${describe(route)})`)
  // Django routes have no leading slash; accept one from Fastify habits.
  return route.startsWith('/') ? route.slice(1) : route
}

/** `include(patterns | module | import('./urls.js'), { namespace })`. */
export function include (source: Include['source'], options: { namespace?: string } = {}): Include {
  if (options.namespace !== undefined && (typeof options.namespace !== 'string' || options.namespace === '' || options.namespace.includes(':'))) {
    throw new ImproperlyConfigured(`include(): namespace must be a non-empty string without ':' (got ${JSON.stringify(options.namespace)})`)
  }
  return new Include(source, options.namespace)
}
