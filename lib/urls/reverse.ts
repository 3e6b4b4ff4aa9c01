import { NoReverseMatch } from '../errors.js'
import type { QueryDict } from '../http/querydict.js'
import { fullMatch, type FlatPattern } from './compile.js'
import { regexTemplate, type TemplatePart } from './regex.js'

export type QueryInput = Record<string, unknown> | URLSearchParams | QueryDict | Iterable<[string, unknown]>

export interface ReverseOptions {
  args?: readonly unknown[]
  kwargs?: Record<string, unknown>
  /** Appended as a query string, as Django 5.2's `reverse(query=...)`. */
  query?: QueryInput
}

/** `reverse(name, options)` as decorated on the app and on requests. */
export type ReverseFunction = (name: string, options?: ReverseOptions) => string

type Piece = string | { name: string | number, check: RegExp, toUrl: (value: any) => string }

interface Reversible {
  flat: FlatPattern
  /** null when the pattern's regex is too complex to reverse. */
  pieces: Piece[] | null
  keys: Array<string | number>
}

/** Reverses URL names (`ns:name`) into paths under `prefix`. Built once per app. */
export class Reverser {
  readonly #byName = new Map<string, Reversible[]>()
  readonly #prefix: string

  constructor (patterns: readonly FlatPattern[], prefix: string) {
    this.#prefix = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
    const appKeys = new Map<string, Reversible[]>()
    for (const flat of patterns) {
      const name = flat.pattern.name
      if (name === undefined) continue
      const reversible = compile(flat)
      push(this.#byName, [...flat.namespaces, name].join(':'), reversible)
      // An application namespace reverses to its (first) instance, as Django's default.
      if (flat.appNames.length > 0 && flat.appNames.join(':') !== flat.namespaces.join(':')) {
        push(appKeys, [...flat.appNames, name].join(':'), reversible)
      }
    }
    for (const [key, list] of appKeys) if (!this.#byName.has(key)) this.#byName.set(key, list)
  }

  reverse (viewName: string, options: ReverseOptions = {}): string {
    if (typeof viewName !== 'string') throw new TypeError('reverse() takes a URL name string')
    const { args, kwargs } = options
    if (args !== undefined && args.length > 0 && kwargs !== undefined && Object.keys(kwargs).length > 0) {
      throw new TypeError("Don't mix args and kwargs in a call to reverse()!")
    }
    const candidates = this.#byName.get(viewName)
    if (candidates === undefined) {
      throw new NoReverseMatch(`Reverse for '${viewName}' not found. '${viewName}' is not a valid view function or pattern name.`)
    }
    for (const candidate of candidates) {
      const path = build(candidate, args, kwargs)
      if (path !== null) return this.#prefix + '/' + path + queryString(options.query)
    }
    const given = args !== undefined && args.length > 0
      ? ` with arguments '${JSON.stringify(args)}'`
      : kwargs !== undefined && Object.keys(kwargs).length > 0 ? ` with keyword arguments '${JSON.stringify(kwargs)}'` : ''
    const tried = candidates.map((c) => `'${c.flat.route}'`).join(', ')
    throw new NoReverseMatch(`Reverse for '${viewName}'${given} not found. ${candidates.length} pattern(s) tried: [${tried}]`)
  }

  /** Every name that can be reversed (for debugging). */
  names (): string[] {
    return [...this.#byName.keys()]
  }
}

function push<K, V> (map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

function compile (flat: FlatPattern): Reversible {
  const pieces: Piece[] = []
  for (const part of flat.parts) {
    if (part.type === 'static') {
      pieces.push(part.text)
    } else if (part.type === 'converter') {
      const converter = part.converter
      pieces.push({ name: part.name, check: fullMatch(converter), toUrl: (value) => converter.toUrl(value) })
    } else {
      const template = regexTemplate(part.source)
      if (template === null) return { flat, pieces: null, keys: [] }
      for (const item of template) pieces.push(typeof item === 'string' ? item : groupPiece(item))
    }
  }
  return { flat, pieces, keys: pieces.flatMap((p) => typeof p === 'string' ? [] : [p.name]) }
}

function groupPiece (item: Exclude<TemplatePart, string>): Piece {
  return { name: item.name, check: new RegExp(`^(?:${item.source})$`), toUrl: (value) => String(value) }
}

function build (candidate: Reversible, args: readonly unknown[] | undefined, kwargs: Record<string, unknown> | undefined): string | null {
  const { pieces, keys, flat } = candidate
  if (pieces === null) return null
  const defaults = flat.defaultKwargs
  let lookup: (key: string | number, index: number) => unknown
  if (args !== undefined && args.length > 0) {
    if (args.length !== keys.length) return null
    lookup = (_key, index) => args[index]
  } else {
    const given = kwargs ?? {}
    for (const key of Object.keys(given)) {
      if (keys.includes(key)) continue
      // Extra kwargs are allowed only when they equal the pattern's defaults (Django's rule).
      if (defaults === undefined || !Object.hasOwn(defaults, key) || defaults[key] !== given[key]) return null
    }
    for (const key of keys) if (typeof key === 'string' && !Object.hasOwn(given, key)) return null
    if (keys.some((k) => typeof k === 'number')) return null
    lookup = (key) => given[key as string]
  }
  let out = ''
  let index = 0
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      out += quote(piece)
      continue
    }
    let text: string
    try {
      text = piece.toUrl(lookup(piece.name, index++))
    } catch {
      return null
    }
    if (typeof text !== 'string' || !piece.check.test(text)) return null
    out += quote(text)
  }
  return out
}

// Django quotes with RFC 3986 sub-delims and "/~:@" kept.
function quote (text: string): string {
  return encodeURIComponent(text).replace(/%(2F|7E|3A|40|21|24|26|27|28|29|2A|2B|2C|3B|3D)/gi, (m) => decodeURIComponent(m))
}

function queryString (query: QueryInput | undefined): string {
  if (query === undefined) return ''
  const params = new URLSearchParams()
  const entries: Iterable<[string, unknown]> = typeof (query as QueryDict).lists === 'function'
    ? (query as QueryDict).lists()
    : Symbol.iterator in query ? query as Iterable<[string, unknown]> : Object.entries(query)
  for (const [key, value] of entries) {
    if (Array.isArray(value)) for (const item of value) params.append(key, String(item))
    else if (value !== undefined && value !== null) params.append(key, String(value))
  }
  const text = params.toString()
  return text === '' ? '' : '?' + text
}
