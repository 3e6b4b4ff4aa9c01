import { NoReverseMatch, ERR_REVERSE_ARGS } from '../errors.js'
import { escapeLeadingSlashes, quotePath } from './iri.js'
import { fullRegex, partsSource, type FlatPattern, type NamespaceLevel } from './compile.js'
import type { Converter } from './converters.js'
import { normalize, NonReversible, type Form } from './normalize.js'

/** What a QueryDict offers (`request.GET`): each key with all its values. */
export interface MultiValueQuery { lists (): Iterable<[string, string[]]> }

export type QueryInput = Record<string, unknown> | URLSearchParams | MultiValueQuery | Iterable<[string, unknown]>

export interface ReverseOptions {
  args?: readonly unknown[] | null
  kwargs?: Record<string, unknown> | null
  /** Appended as a query string, as Django 5.2's `reverse(query=...)`; null or undefined: none. */
  query?: QueryInput | null
}

/** `reverse(name, options)` as decorated on the app and on requests. */
export type ReverseFunction = (name: string, options?: ReverseOptions) => string

interface Reversible {
  flat: FlatPattern
  /** Django's normalized forms of the pattern (none when it cannot be reversed). */
  forms: Form[]
  converters: Map<string, Converter<any>>
}

/** One namespace level of the URLconf, as Django's resolvers nest (`namespace_dict`, `app_dict`). */
class Node {
  /** Patterns by name, the last-defined first (Django's `reverse_dict`). */
  readonly names = new Map<string, Reversible[]>()
  /** Instance namespaces below this level: the first-defined one wins. */
  readonly namespaces = new Map<string, Node>()
  /** Application namespace -> its instances' namespaces, the last-defined first. */
  readonly apps = new Map<string, string[]>()
}

/** Reverses URL names (`ns:name`) into paths under `prefix`. Built once per app. */
export class Reverser {
  readonly #root = new Node()
  readonly #prefix: string

  constructor (patterns: readonly FlatPattern[], prefix: string) {
    this.#prefix = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
    const nodes = new Map<NamespaceLevel, Node>()
    // Django populates from the last pattern up, so later definitions come first.
    for (let i = patterns.length - 1; i >= 0; i--) {
      const flat = patterns[i]
      let node = this.#root
      for (const level of flat.nsLevels) {
        let child = nodes.get(level)
        if (child === undefined) {
          child = new Node()
          nodes.set(level, child)
          if (level.appName !== undefined) push(node.apps, level.appName, level.namespace)
        }
        node.namespaces.set(level.namespace, child)
        node = child
      }
      const name = flat.pattern.name
      if (name !== undefined) push(node.names, name, compile(flat))
    }
  }

  reverse (viewName: string, options: ReverseOptions = {}): string {
    const args = options.args ?? []
    const kwargs = options.kwargs ?? {}
    if (args.length > 0 && Object.keys(kwargs).length > 0) throw new ERR_REVERSE_ARGS("Don't mix args and kwargs in a call to reverse()!")
    const text = String(viewName)
    const path = typeof viewName === 'string' ? text.split(':') : [text]
    const view = path.pop() as string
    let node = this.#root
    const resolved: string[] = []
    for (let ns of path) {
      const instances = node.apps.get(ns)
      // An application namespace means its default instance: the one named like the
      // app, else the last one defined (Django's app_list[0]).
      if (instances !== undefined && !instances.includes(ns)) ns = instances[0]
      const child = node.namespaces.get(ns)
      if (child === undefined) {
        throw new NoReverseMatch(resolved.length > 0 ? `'${ns}' is not a registered namespace inside '${resolved.join(':')}'` : `'${ns}' is not a registered namespace`)
      }
      resolved.push(ns)
      node = child
    }
    const candidates = typeof viewName === 'string' ? node.names.get(view) : undefined
    if (candidates === undefined) {
      throw new NoReverseMatch(`Reverse for '${text}' not found. '${text}' is not a valid view function or pattern name.`)
    }
    for (const candidate of candidates) {
      const path = build(candidate, args, kwargs)
      if (path !== null) return escapeLeadingSlashes(this.#prefix + '/' + path) + queryString(options.query)
    }
    const given = args.length > 0
      ? `arguments '${JSON.stringify(args)}'`
      : Object.keys(kwargs).length > 0 ? `keyword arguments '${JSON.stringify(kwargs)}'` : 'no arguments'
    const tried = candidates.map((c) => `'${c.flat.route.replace(/\\/g, '\\\\')}'`).join(', ')
    throw new NoReverseMatch(`Reverse for '${text}' with ${given} not found. ${candidates.length} pattern(s) tried: [${tried}]`)
  }
}

function push<K, V> (map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

function compile (flat: FlatPattern): Reversible {
  let forms: Form[]
  try {
    forms = normalize(partsSource(flat.parts).source)
  } catch (error) {
    if (!(error instanceof NonReversible)) throw error
    forms = []
  }
  const converters = new Map<string, Converter<any>>()
  // An inner level's converter wins for a repeated name, as Django's dict update.
  for (const part of flat.parts) if (part.type === 'converter') converters.set(part.name, part.converter)
  return { flat, forms, converters }
}

/** Django's `_reverse_with_prefix` for one pattern: the quoted path, or null. */
function build (candidate: Reversible, args: readonly unknown[], kwargs: Record<string, unknown>): string | null {
  const { forms, converters, flat } = candidate
  const defaults = flat.defaultKwargs ?? {}
  for (const { template, params } of forms) {
    let subs: Map<string, unknown>
    if (args.length > 0) {
      if (args.length !== params.length) continue
      subs = new Map(params.map((param, i) => [param, args[i]]))
    } else {
      // Every param given, nothing else but the pattern's defaults, each equal to its default.
      const given = Object.keys(kwargs)
      if (given.some((key) => !params.includes(key) && !Object.hasOwn(defaults, key))) continue
      if (params.some((param) => !Object.hasOwn(kwargs, param) && !Object.hasOwn(defaults, param))) continue
      let matches = true
      for (const key of Object.keys(defaults)) {
        if (!params.includes(key) && Object.hasOwn(kwargs, key) && kwargs[key] !== defaults[key]) {
          matches = false
          break
        }
      }
      if (!matches) continue
      subs = new Map(params.map((param) => [param, Object.hasOwn(kwargs, param) ? kwargs[param] : defaults[param]]))
    }
    const text = new Map<string, string>()
    let ok = true
    for (const [param, value] of subs) {
      const converter = converters.get(param)
      if (converter === undefined) {
        text.set(param, String(value))
        continue
      }
      let converted: unknown
      try {
        converted = converter.toUrl(value)
      } catch (error) {
        // Django: a ValueError means "no match", anything else is a bug to show. Here
        // a TypeError is the bug; any other error means the value does not fit.
        if (error instanceof TypeError) throw error
        ok = false
        break
      }
      text.set(param, String(converted))
    }
    if (!ok) continue
    let candidatePath = ''
    for (const part of template) candidatePath += typeof part === 'string' ? part : text.get(part.param) as string
    // The decoded path must match the pattern itself, then it is quoted.
    if (fullRegex(flat).test(candidatePath)) return quotePath(candidatePath)
  }
  return null
}

function queryString (query: QueryInput | null | undefined): string {
  if (query === undefined || query === null) return ''
  const params = new URLSearchParams()
  const entries: Iterable<[string, unknown]> = typeof (query as MultiValueQuery).lists === 'function'
    ? (query as MultiValueQuery).lists()
    : Symbol.iterator in query ? query as Iterable<[string, unknown]> : Object.entries(query)
  for (const [key, value] of entries) {
    if (Array.isArray(value)) for (const item of value) params.append(key, String(item))
    else if (value !== undefined && value !== null) params.append(key, String(value))
  }
  const text = params.toString()
  return text === '' ? '' : '?' + text
}
