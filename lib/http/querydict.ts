/**
 * Django's QueryDict: a multi-valued, read-only map of query or form fields.
 * `get` returns the last value (as Django does), `getlist` every value.
 */
export class QueryDict implements Iterable<[string, string]> {
  readonly #lists: Map<string, string[]>

  constructor (init?: string | URLSearchParams | Iterable<[string, string]>) {
    this.#lists = new Map()
    if (init === undefined || init === '') return
    const pairs = typeof init === 'string' ? new URLSearchParams(init) : init
    for (const [key, value] of pairs) {
      const list = this.#lists.get(key)
      if (list === undefined) this.#lists.set(key, [value])
      else list.push(value)
    }
  }

  /** Builds a QueryDict from the serialised form `{ key: [values] }` (used across threads). */
  static fromLists (lists: Record<string, readonly string[]>): QueryDict {
    const dict = new QueryDict()
    for (const key of Object.keys(lists)) dict.#lists.set(key, [...lists[key]])
    return dict
  }

  get (key: string): string | undefined
  get (key: string, defaultValue: string): string
  get (key: string, defaultValue?: string): string | undefined {
    const list = this.#lists.get(key)
    return list === undefined ? defaultValue : list[list.length - 1]
  }

  getlist (key: string): string[] {
    const list = this.#lists.get(key)
    return list === undefined ? [] : list.slice()
  }

  has (key: string): boolean {
    return this.#lists.has(key)
  }

  get size (): number {
    return this.#lists.size
  }

  keys (): IterableIterator<string> {
    return this.#lists.keys()
  }

  /** `[key, lastValue]` pairs, as iterating a Django QueryDict's `items()`. */
  * entries (): IterableIterator<[string, string]> {
    for (const [key, list] of this.#lists) yield [key, list[list.length - 1]]
  }

  * lists (): IterableIterator<[string, string[]]> {
    for (const [key, list] of this.#lists) yield [key, list.slice()]
  }

  [Symbol.iterator] (): IterableIterator<[string, string]> {
    return this.entries()
  }

  /** The query string form, `a=1&a=2&b=3`. */
  urlencode (): string {
    const params = new URLSearchParams()
    for (const [key, list] of this.#lists) for (const value of list) params.append(key, value)
    return params.toString()
  }

  /** `{ key: lastValue }`, for logging and JSON. */
  toJSON (): Record<string, string> {
    return Object.fromEntries(this.entries())
  }

  /** `{ key: [values] }`: survives structured clone. */
  toLists (): Record<string, string[]> {
    return Object.fromEntries(this.#lists)
  }
}
