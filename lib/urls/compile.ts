import { ImproperlyConfigured } from '../errors.js'
import { getConverter, type Converter } from './converters.js'
import { describe } from '../describe.js'
import { Include, URLPattern, URLResolver, type PatternView, type URLConf, type URLEntry } from './patterns.js'
import { captureGroups, escapeRegex, literalPrefix, pythonToJs } from './regex.js'

/** A piece of a flattened pattern: literal text, a converter, or raw regex. */
export type Part =
  | { type: 'static', text: string }
  | { type: 'converter', name: string, converterName: string, converter: Converter<any> }
  | { type: 'regex', source: string }

/** A URL pattern with every include above it folded in. */
export interface FlatPattern {
  pattern: URLPattern
  parts: Part[]
  /** Django's `route`: the full route or regex, prefixes included. */
  route: string
  /** False for a rePath without `$`: it matches any path it starts. */
  endAnchored: boolean
  namespaces: string[]
  appNames: string[]
  /** The namespaced includes above it, outermost first (one object per include). */
  nsLevels: NamespaceLevel[]
  defaultKwargs: Record<string, unknown> | undefined
  view: PatternView
}

/** One namespaced `include()`: its instance namespace and application namespace. */
export interface NamespaceLevel {
  namespace: string
  appName: string | undefined
}

interface Scope {
  parts: Part[]
  route: string
  namespaces: string[]
  appNames: string[]
  nsLevels: NamespaceLevel[]
  defaultKwargs: Record<string, unknown> | undefined
}

/** Flattens patterns and includes (awaiting included promises) into one list, in order. */
export async function flatten (entries: unknown, scope?: Scope): Promise<FlatPattern[]> {
  const list = await loadEntries(entries, scope === undefined ? 'urlpatterns' : `include at '${scope.route}'`)
  const base: Scope = scope ?? { parts: [], route: '', namespaces: [], appNames: [], nsLevels: [], defaultKwargs: undefined }
  const out: FlatPattern[] = []
  for (const entry of list) {
    if (entry instanceof URLPattern) {
      const own = parseRoute(entry.kind, entry.route, true)
      // A name repeated across include levels is Django's to load (the inner value wins).
      checkDuplicateNames(own.parts, entry.route)
      out.push({
        pattern: entry,
        parts: [...base.parts, ...own.parts],
        route: joinRoute(base.route, entry.route),
        endAnchored: own.endAnchored,
        namespaces: base.namespaces,
        appNames: base.appNames,
        nsLevels: base.nsLevels,
        defaultKwargs: mergeKwargs(base.defaultKwargs, entry.defaultKwargs),
        view: entry.view
      })
    } else if (entry instanceof URLResolver) {
      const own = parseRoute(entry.kind, entry.route, false)
      checkDuplicateNames(own.parts, entry.route)
      const route = joinRoute(base.route, entry.route)
      const loaded = await loadInclude(entry.include, route)
      const namespace = entry.include.namespace ?? loaded.appName
      out.push(...await flatten(loaded.urlpatterns, {
        parts: [...base.parts, ...own.parts],
        route,
        namespaces: namespace === undefined ? base.namespaces : [...base.namespaces, namespace],
        appNames: loaded.appName === undefined ? base.appNames : [...base.appNames, loaded.appName],
        nsLevels: namespace === undefined ? base.nsLevels : [...base.nsLevels, { namespace, appName: loaded.appName }],
        defaultKwargs: mergeKwargs(base.defaultKwargs, entry.defaultKwargs)
      }))
    } else {
      throw new ImproperlyConfigured(`${scope === undefined ? 'urlpatterns' : `include at '${scope.route}'`} holds ${describe(entry)}; expected path(), rePath() or an include`)
    }
  }
  return out
}

async function loadEntries (entries: unknown, where: string): Promise<readonly URLEntry[]> {
  const value = await entries
  if (!Array.isArray(value)) throw new ImproperlyConfigured(`${where} must be an array of path()/rePath() patterns (got ${describe(value)})`)
  return value
}

async function loadInclude (include: Include, where: string): Promise<{ urlpatterns: unknown, appName: string | undefined }> {
  let value: unknown
  try {
    value = await include.source
  } catch (error) {
    throw new ImproperlyConfigured(`include at '${where}' failed to load: ${(error as Error)?.message ?? String(error)}`, { cause: error })
  }
  if (Array.isArray(value)) return { urlpatterns: value, appName: undefined }
  if (value !== null && typeof value === 'object') {
    const module = value as { urlpatterns?: unknown, appName?: unknown, default?: unknown }
    if (module.urlpatterns === undefined && module.default !== undefined) {
      return await loadInclude(new Include(module.default as URLConf, include.namespace), where)
    }
    if (module.urlpatterns !== undefined) {
      if (module.appName !== undefined && typeof module.appName !== 'string') throw new ImproperlyConfigured(`include at '${where}': appName must be a string`)
      return { urlpatterns: module.urlpatterns, appName: module.appName as string | undefined }
    }
  }
  throw new ImproperlyConfigured(`include at '${where}' must be a list of patterns or a module exporting urlpatterns (got ${describe(value)})`)
}

/** Django's `_join_route`: an included route loses its leading `^`. */
function joinRoute (outer: string, inner: string): string {
  return outer === '' ? inner : outer + (inner.startsWith('^') ? inner.slice(1) : inner)
}

function mergeKwargs (a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return { ...a, ...b }
}

const PLACEHOLDER = /<([^<>]*)>/g
// Python's str.isidentifier(), which Django asks of parameter names.
export const IDENTIFIER = /^[\p{XID_Start}_][\p{XID_Continue}]*$/u

/** Parses a Django route string or a regex source into parts. */
export function parseRoute (kind: 'path' | 'regex', route: string, endpoint: boolean): { parts: Part[], endAnchored: boolean } {
  if (kind === 'regex') return parseRegex(route, endpoint)
  const parts: Part[] = []
  let last = 0
  for (const match of route.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push({ type: 'static', text: route.slice(last, match.index) })
    const inner = match[1]
    if (/\s/.test(inner)) throw new ImproperlyConfigured(`URL route '${route}' cannot contain whitespace in angle brackets <…>.`)
    const colon = inner.indexOf(':')
    const converterName = colon === -1 ? 'str' : inner.slice(0, colon)
    const name = colon === -1 ? inner : inner.slice(colon + 1)
    if (!IDENTIFIER.test(name)) {
      throw new ImproperlyConfigured(`URL route '${route}' uses parameter name ${JSON.stringify(name)} which isn't a valid identifier.`)
    }
    const converter = getConverter(converterName)
    if (converter === undefined) throw new ImproperlyConfigured(`URL route '${route}' uses invalid converter '${converterName}'.`)
    parts.push({ type: 'converter', name, converterName, converter })
    last = match.index + match[0].length
  }
  if (last < route.length) parts.push({ type: 'static', text: route.slice(last) })
  for (const part of parts) {
    if (part.type === 'static' && /[<>]/.test(part.text)) throw new ImproperlyConfigured(`URL route '${route}' has an unmatched '<' or '>'.`)
  }
  return { parts: mergeStatic(parts), endAnchored: true }
}

function parseRegex (route: string, endpoint: boolean): { parts: Part[], endAnchored: boolean } {
  let source = pythonToJs(route)
  if (source.startsWith('^')) source = source.slice(1)
  let endAnchored = false
  if (source.endsWith('$') && !source.endsWith('\\$')) {
    source = source.slice(0, -1)
    endAnchored = endpoint
  }
  try {
    // eslint-disable-next-line no-new
    new RegExp(`^(?:${source})`)
  } catch (error) {
    throw new ImproperlyConfigured(`rePath('${route}') is not a valid regular expression: ${(error as Error).message}`)
  }
  const [literal, rest] = literalPrefix(source)
  const parts: Part[] = []
  if (literal !== '') parts.push({ type: 'static', text: literal })
  if (rest !== '') parts.push({ type: 'regex', source: rest })
  return { parts, endAnchored }
}

function mergeStatic (parts: Part[]): Part[] {
  const out: Part[] = []
  for (const part of parts) {
    const prev = out[out.length - 1]
    if (part.type === 'static' && prev?.type === 'static') out[out.length - 1] = { type: 'static', text: prev.text + part.text }
    else out.push(part)
  }
  return out
}

function checkDuplicateNames (parts: Part[], route: string): void {
  const seen = new Set<string>()
  for (const part of parts) {
    const names = part.type === 'converter' ? [part.name] : part.type === 'regex' ? captureGroups(part.source).named : []
    for (const name of names) {
      if (seen.has(name)) throw new ImproperlyConfigured(`URL route '${route}' uses the kwarg '${name}' twice.`)
      seen.add(name)
    }
  }
}

const anchoredCache = new WeakMap<Converter<any>, RegExp>()

/** The converter's regex, anchored at both ends. */
export function fullMatch (converter: Converter<any>): RegExp {
  let regex = anchoredCache.get(converter)
  if (regex === undefined) {
    regex = new RegExp(`^(?:${converter.regex})$`)
    anchoredCache.set(converter, regex)
  }
  return regex
}

/** A named group of a built regex: the kwarg it gives, and its converter if a `path()` placeholder. */
export interface NamedGroup {
  /** The group's name in the regex (a repeated kwarg gets a unique one). */
  group: string
  name: string
  converter: Converter<any> | undefined
}

/**
 * Regex source of parts, converters as named groups. A kwarg repeated across
 * include levels gets a unique group name (JS refuses duplicates); `groups`
 * lists them in order, so a later (inner) one overrides.
 */
export function partsSource (parts: readonly Part[]): { source: string, groups: NamedGroup[] } {
  let source = ''
  const groups: NamedGroup[] = []
  const taken = new Set<string>()
  const unique = (name: string): string => {
    let group = name
    for (let n = 2; taken.has(group); n++) group = `${name}__${n}`
    taken.add(group)
    return group
  }
  for (const part of parts) {
    if (part.type === 'static') {
      source += escapeRegex(part.text)
    } else if (part.type === 'converter') {
      const group = unique(part.name)
      groups.push({ group, name: part.name, converter: part.converter })
      source += `(?<${group}>${part.converter.regex})`
    } else {
      source += part.source.replace(NAMED_GROUP, (whole, prefix: string, name: string) => {
        if (prefix.length % 2 === 1) return whole
        const group = unique(name)
        groups.push({ group, name, converter: undefined })
        return `${prefix}(?<${group}>`
      })
    }
  }
  return { source, groups }
}

// `(?<name>` not preceded by an odd run of backslashes (an escaped paren).
const NAMED_GROUP = /(\\*)\(\?<([\p{ID_Start}_$][\p{ID_Continue}$]*)>/gu

const fullRegexCache = new WeakMap<FlatPattern, RegExp>()

/** The whole pattern as one anchored regex (reverse's check, resolve, APPEND_SLASH). */
export function fullRegex (flat: FlatPattern): RegExp {
  let regex = fullRegexCache.get(flat)
  if (regex === undefined) {
    regex = new RegExp(`^(?:${partsSource(flat.parts).source})${flat.endAnchored ? '$' : ''}`)
    fullRegexCache.set(flat, regex)
  }
  return regex
}

export { pythonToJs }
