import type { RouteMatch } from './router.js'

/** Django's `request.resolver_match`: which pattern matched and with what. */
export interface ResolverMatch {
  /** The view function. */
  func: unknown
  args: string[]
  kwargs: Record<string, unknown>
  urlName: string | undefined
  /** The matched route, prefixes of includes folded in (`blog/<int:year>/`). */
  route: string
  namespaces: string[]
  namespace: string
  appNames: string[]
  appName: string
  /** `ns:name`, or the view's function name when it has no URL name. */
  viewName: string
}

/** Django's ResolverMatch for a matched pattern. */
export function resolverMatchOf (match: RouteMatch): ResolverMatch {
  const flat = match.pattern
  const urlName = flat.pattern.name
  const namespace = flat.namespaces.join(':')
  const func = flat.view
  return {
    func,
    args: match.args,
    kwargs: match.kwargs,
    urlName,
    route: flat.route,
    namespaces: flat.namespaces,
    namespace,
    appNames: flat.appNames,
    appName: flat.appNames.join(':'),
    viewName: urlName === undefined ? (func.name || '<anonymous>') : namespace === '' ? urlName : `${namespace}:${urlName}`
  }
}
