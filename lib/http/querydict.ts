import { MultiValueDict } from './multivalue.js'

/** Django's QueryDict: a multi-valued, read-only map of query or form fields. */
export class QueryDict extends MultiValueDict<string> {
  constructor (init?: string | URLSearchParams | Iterable<[string, string]>) {
    // An empty query (most requests) parses nothing.
    super(init === '' ? undefined : typeof init === 'string' ? new URLSearchParams(init) : init)
  }

  /** Builds a QueryDict from the serialised form `{ key: [values] }` (used across threads). */
  static fromLists (lists: Record<string, readonly string[]>): QueryDict {
    const dict = new QueryDict()
    for (const key of Object.keys(lists)) dict.byKey.set(key, [...lists[key]])
    return dict
  }

  /** The query string form, `a=1&a=2&b=3`. */
  urlencode (): string {
    const params = new URLSearchParams()
    for (const [key, list] of this.byKey) for (const value of list) params.append(key, value)
    return params.toString()
  }

  /** `{ key: lastValue }`, for logging and JSON. */
  toJSON (): Record<string, string> {
    return Object.fromEntries(this.entries())
  }

  /** `{ key: [values] }`: survives structured clone. */
  toLists (): Record<string, string[]> {
    return Object.fromEntries(this.byKey)
  }
}
