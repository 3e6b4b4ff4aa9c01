import { path as patternPath, rePath as patternRePath, type Include, type PathOptions, type URLPattern, type URLResolver } from '../urls/patterns.js'
import type { KwargsOf } from '../urls/types.js'
import type { ViewFunction } from '../http/view-types.js'

// The URL engine (urls/) takes any callable; here path() and rePath() get the
// view contract, so a view's kwargs are typed from its route string.

/** `path('articles/<int:year>/', view, { name })`: a Django route with converters. */
export interface PathFunction {
  // The view signature comes last: TypeScript 7 reports only the last overload's
  // error, so a view returning a wrong type is named there, not `Include`.
  (route: string, view: Include, options?: Pick<PathOptions, 'kwargs'>): URLResolver
  <R extends string>(route: R, view: ViewFunction<KwargsOf<R>>, options?: PathOptions): URLPattern
}

/** `rePath(/^articles\/(?<year>[0-9]{4})\/$/, view)`: a regex route; named groups become string kwargs. */
export interface RePathFunction {
  (regex: string | RegExp, view: Include, options?: Pick<PathOptions, 'kwargs'>): URLResolver
  (regex: string | RegExp, view: ViewFunction<Record<string, string>>, options?: PathOptions): URLPattern
}

/** Django's `path()`: the view's kwargs are typed from the route string. */
export const path = patternPath as PathFunction

/**
 * Django's `re_path()`: a RegExp or a string (Python's `(?P<name>...)` is read
 * too). Named groups become string kwargs.
 */
export const rePath = patternRePath as RePathFunction
