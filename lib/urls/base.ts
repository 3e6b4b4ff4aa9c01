// Django's module-level `django.urls.reverse` and `resolve`: they need no app
// handle. Django has one URLconf per process (ROOT_URLCONF); here each ready
// app with the plugin registers its own, so these work while exactly one is
// ready and refuse (naming the way out) when there are several.
import { ImproperlyConfigured } from '../errors.js'
import type { ResolverMatch } from './resolver-match.js'
import type { ReverseOptions } from './reverse.js'

/** What an app's plugin instance offers the module-level functions. */
export interface AppUrls {
  reverse (name: string, options?: ReverseOptions): string
  resolve (path: string): ResolverMatch
}

const apps = new Set<AppUrls>()

/** Called by the plugin when its app is ready, and with `false` when it closes. */
export function setAppReady (urls: AppUrls, ready: boolean): void {
  if (ready) apps.add(urls)
  else apps.delete(urls)
}

function only (what: string): AppUrls {
  if (apps.size === 1) return apps.values().next().value as AppUrls
  if (apps.size === 0) throw new ImproperlyConfigured(`${what}() needs an app with fastify-async-views that is ready (await app.ready())`)
  throw new ImproperlyConfigured(`${what}(): ${apps.size} apps with fastify-async-views are ready in this process; use app.${what}() or request.${what === 'resolve' ? 'resolverMatch' : 'reverse()'} to say which`)
}

/** Django's `reverse()`, for the one ready app: the path of a named URL pattern. */
export function reverse (name: string, options?: ReverseOptions): string {
  return only('reverse').reverse(name, options)
}

/** Django's `resolve(path)`, for the one ready app: the ResolverMatch of a path, or Resolver404 (404). */
export function resolve (path: string): ResolverMatch {
  return only('resolve').resolve(path)
}
