import { validateHeaderName, validateHeaderValue } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import { ERR_INVALID_HEADER } from '../errors.js'

export type HeaderValue = string | number | readonly string[]

/** Read-only, case-insensitive view of a request's headers (Django's `request.headers`). */
export class RequestHeaders implements Iterable<[string, string]> {
  readonly #raw: IncomingHttpHeaders

  constructor (raw: IncomingHttpHeaders) {
    this.#raw = raw
  }

  /** The header's value; repeated headers are joined with `, ` (Set-Cookie excepted). `user_agent` finds `user-agent`, as in Django. */
  get (name: string): string | undefined {
    const value = this.#lookup(name)
    if (value === undefined) return undefined
    return typeof value === 'string' ? value : value.join(', ')
  }

  has (name: string): boolean {
    return this.#lookup(name) !== undefined
  }

  #lookup (name: string): string | string[] | undefined {
    const lower = name.toLowerCase()
    const value = this.#raw[lower]
    return value === undefined && lower.includes('_') ? this.#raw[lower.replace(/_/g, '-')] : value
  }

  * keys (): IterableIterator<string> {
    for (const [name] of this) yield name
  }

  * entries (): IterableIterator<[string, string]> {
    yield * this
  }

  * [Symbol.iterator] (): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.#raw)) {
      // HTTP/2 pseudo-headers (:path, :method) are not headers to a view.
      if (name.charCodeAt(0) === 58) continue
      const value = this.get(name)
      if (value !== undefined) yield [name, value]
    }
  }

  toJSON (): Record<string, string> {
    return Object.fromEntries(this)
  }
}

/**
 * Case-insensitive response headers. Values are checked when set, so a CR/LF or
 * any byte Node refuses fails in the view (a 500), never on the wire.
 */
export class ResponseHeaders implements Iterable<[string, string | string[]]> {
  // Keys are lower-case header names.
  #map: Map<string, string | string[]>

  constructor (init?: Record<string, HeaderValue> | Iterable<[string, HeaderValue]>) {
    this.#map = new Map()
    if (init !== undefined) {
      const entries = Symbol.iterator in init ? init as Iterable<[string, HeaderValue]> : Object.entries(init)
      for (const [name, value] of entries) this.set(name, value)
    }
  }

  get (name: string): string | undefined {
    const value = this.#map.get(name.toLowerCase())
    return Array.isArray(value) ? value.join(', ') : value as string | undefined
  }

  /** Every value of a repeated header (Set-Cookie, Vary...). */
  getAll (name: string): string[] {
    const value = this.#map.get(name.toLowerCase())
    if (value === undefined) return []
    return Array.isArray(value) ? value.slice() : [value as string]
  }

  set (name: string, value: HeaderValue): this {
    validateHeaderName(name)
    const stored = normaliseValue(name, value)
    this.#map.set(name.toLowerCase(), stored)
    return this
  }

  /** Adds a value to a header, keeping those it had. */
  append (name: string, value: string): this {
    const key = name.toLowerCase()
    const previous = this.#map.get(key)
    if (previous === undefined) return this.set(name, value)
    validateHeaderValue(name, value)
    this.#map.set(key, Array.isArray(previous) ? [...previous, value] : [previous as string, value])
    return this
  }

  has (name: string): boolean {
    return this.#map.has(name.toLowerCase())
  }

  delete (name: string): boolean {
    return this.#map.delete(name.toLowerCase())
  }

  get size (): number {
    return this.#map.size
  }

  keys (): IterableIterator<string> {
    return this.#map.keys()
  }

  entries (): IterableIterator<[string, string | string[]]> {
    return this.#map.entries()
  }

  [Symbol.iterator] (): IterableIterator<[string, string | string[]]> {
    return this.#map.entries()
  }

  /** Sets without validation: only for values the package built itself. */
  setTrusted (lowerName: string, value: string | string[]): void {
    this.#map.set(lowerName, value)
  }

  toJSON (): Record<string, string | string[]> {
    return Object.fromEntries(this.#map)
  }
}

function normaliseValue (name: string, value: HeaderValue): string | string[] {
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') {
    validateHeaderValue(name, value)
    return value
  }
  if (!Array.isArray(value)) throw new ERR_INVALID_HEADER(`Header "${name}" must be a string, a number or an array of strings`)
  const copy: string[] = []
  for (const item of value) {
    if (typeof item !== 'string') throw new ERR_INVALID_HEADER(`Header "${name}" must be a string, a number or an array of strings`)
    validateHeaderValue(name, item)
    copy.push(item)
  }
  return copy
}
