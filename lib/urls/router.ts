import { ImproperlyConfigured } from '../errors.js'
import { fullMatch, fullRegex, partsSource, type FlatPattern, type NamedGroup, type Part } from './compile.js'
import { captureGroups } from './regex.js'

/** What matching a request against a pattern gives the view. */
export interface RouteMatch {
  pattern: FlatPattern
  args: string[]
  kwargs: Record<string, unknown>
}

/** One Fastify route and the patterns that share it, tried in list order. */
export interface RouteGroup {
  /** The Fastify URL, relative to the plugin prefix: `/articles/:year/`, `/files/*`. */
  url: string
  /** Fastify param names, in order (the wildcard last, as `*`). */
  paramNames: string[]
  candidates: Candidate[]
  /** Fastify options of the one pattern that may carry them. */
  owner: FlatPattern
}

export interface Candidate {
  pattern: FlatPattern
  /** Tries the pattern on the route's params (Fastify's `request.params`). */
  match (params: Record<string, string>): RouteMatch | null
}

// Converters whose regex takes a '/' cannot be a Fastify parameter.
const takesSlash = (part: Part): boolean => part.type === 'converter' && (part.converterName === 'path' || fullMatch(part.converter).test('a/b'))

interface Shape {
  url: string
  key: string
  paramParts: Array<Extract<Part, { type: 'converter' }>>
  /** The Fastify param name of each paramPart (unique, ASCII). */
  paramNames: string[]
  rest: Part[]
}

// find-my-way takes ASCII identifiers as param names.
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

function shapeOf (flat: FlatPattern): Shape {
  const { parts } = flat
  let url = '/'
  let key = '/'
  const paramParts: Shape['paramParts'] = []
  const paramNames: string[] = []
  let i = 0
  for (; i < parts.length; i++) {
    const part = parts[i]
    if (part.type === 'static') {
      if (part.text.includes('*')) break
      const text = part.text.replace(/:/g, '::')
      url += text
      key += text
      continue
    }
    if (part.type !== 'converter' || takesSlash(part)) break
    const next = parts[i + 1]
    const segmentStart = url.endsWith('/')
    const segmentEnd = next === undefined ? flat.endAnchored : next.type === 'static' && next.text.startsWith('/')
    if (!segmentStart || !segmentEnd) break
    // A repeated kwarg (include levels) or a non-ASCII one gets a positional Fastify name.
    const name = PARAM_NAME.test(part.name) && !paramNames.includes(part.name) ? part.name : `p${paramParts.length}`
    url += `:${name}`
    key += ':'
    paramParts.push(part)
    paramNames.push(name)
  }
  const rest = parts.slice(i)
  if (rest.length > 0 || !flat.endAnchored) {
    url += '*'
    key += '*'
  }
  return { url, key, paramParts, paramNames, rest }
}

/**
 * Groups patterns into Fastify routes. Patterns of one shape share a route;
 * two that match exactly the same URLs are refused.
 */
export function buildRoutes (patterns: readonly FlatPattern[]): RouteGroup[] {
  const groups = new Map<string, RouteGroup>()
  const signatures = new Map<string, FlatPattern>()
  for (const flat of patterns) {
    const shape = shapeOf(flat)
    const rest = partsSource(shape.rest)
    const restSource = shape.rest.length > 0 || !flat.endAnchored ? `^(?:${rest.source})${flat.endAnchored ? '$' : ''}` : ''
    const signature = `${shape.key}|${shape.paramParts.map((p) => p.converter.regex).join('|')}|${restSource}|${methodsKey(flat)}`
    const twin = signatures.get(signature)
    if (twin !== undefined) {
      throw new ImproperlyConfigured(`URL patterns '${twin.pattern.toString()}' and '${flat.pattern.toString()}' match exactly the same URLs; the second could never be reached.`)
    }
    signatures.set(signature, flat)
    // Same URL shape and methods: one Fastify route, candidates tried in order.
    const groupKey = `${shape.key}|${methodsKey(flat)}`
    let group = groups.get(groupKey)
    if (group === undefined) {
      const paramNames = shape.paramNames.slice()
      if (shape.url.endsWith('*')) paramNames.push('*')
      group = { url: shape.url, paramNames, candidates: [], owner: flat }
      groups.set(groupKey, group)
    } else if (hasRouteOptions(flat)) {
      if (hasRouteOptions(group.owner)) {
        throw new ImproperlyConfigured(`URL patterns '${group.owner.pattern.toString()}' and '${flat.pattern.toString()}' share one Fastify route (${shape.url}); only one of them may carry Fastify route options.`)
      }
      group.owner = flat
    }
    group.candidates.push(makeCandidate(flat, shape, restSource, rest.groups, group.paramNames))
  }
  return [...groups.values()]
}

function methodsKey (flat: FlatPattern): string {
  const method = flat.pattern.routeOptions.method
  return method === undefined ? '' : [method].flat().join(',')
}

function hasRouteOptions (flat: FlatPattern): boolean {
  for (const key in flat.pattern.routeOptions) if (key !== 'method') return true
  return false
}

function makeCandidate (flat: FlatPattern, shape: Shape, restSource: string, restGroups: NamedGroup[], routeNames: string[]): Candidate {
  const converters = shape.paramParts.map((p) => p.converter)
  const names = shape.paramParts.map((p) => p.name)
  const checks = converters.map(fullMatch)
  const defaults = flat.defaultKwargs
  const count = converters.length

  let rest: { regex: RegExp, named: NamedGroup[], positional: number } | undefined
  if (restSource !== '') {
    rest = {
      regex: new RegExp(restSource),
      named: restGroups,
      // Django passes unnamed groups as args only when there are no named ones.
      positional: restGroups.length === 0 ? captureGroups(restSource).unnamed : 0
    }
  }

  return {
    pattern: flat,
    match (params) {
      const kwargs: Record<string, unknown> = {}
      for (let i = 0; i < count; i++) {
        // The Fastify route's param names are its first pattern's: read by position.
        const value = params[routeNames[i]]
        if (!checks[i].test(value)) return null
        try {
          kwargs[names[i]] = converters[i].toJs(value)
        } catch {
          return null
        }
      }
      let args: string[] = EMPTY
      if (rest !== undefined) {
        const m = rest.regex.exec(params['*'])
        if (m === null) return null
        if (!collect(rest.named, m, kwargs)) return null
        if (rest.positional > 0) args = m.slice(1, rest.positional + 1).filter((v): v is string => v !== undefined)
      }
      if (defaults !== undefined) Object.assign(kwargs, defaults)
      return { pattern: flat, args, kwargs }
    }
  }
}

/** Named groups of a match into kwargs (converted; a later one wins); false if a converter refuses. */
function collect (named: readonly NamedGroup[], m: RegExpExecArray, kwargs: Record<string, unknown>): boolean {
  for (const { group, name, converter } of named) {
    const value = m.groups?.[group]
    if (value === undefined) continue
    if (converter === undefined) {
      kwargs[name] = value
      continue
    }
    try {
      kwargs[name] = converter.toJs(value)
    } catch {
      return false
    }
  }
  return true
}

const EMPTY: string[] = []

/**
 * Resolves a decoded path (no leading slash) against every pattern, as Django's
 * resolver does; used off the hot path (APPEND_SLASH, debug 404s, `resolve()`).
 */
export function resolvePath (patterns: readonly FlatPattern[], pathInfo: string): RouteMatch | undefined {
  for (const flat of patterns) {
    const m = fullRegex(flat).exec(pathInfo)
    if (m === null) continue
    const { groups } = partsSource(flat.parts)
    const kwargs: Record<string, unknown> = {}
    if (!collect(groups, m, kwargs)) continue
    const args = groups.length === 0 ? m.slice(1).filter((v): v is string => v !== undefined) : []
    if (flat.defaultKwargs !== undefined) Object.assign(kwargs, flat.defaultKwargs)
    return { pattern: flat, args, kwargs }
  }
  return undefined
}
