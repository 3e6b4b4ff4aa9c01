/**
 * Django's MultiValueDict, the base of QueryDict and `request.FILES`: a
 * read-only map of keys to one or more values; `get` gives the last value
 * (as Django does), `getlist` every one.
 */
export class MultiValueDict<V> implements Iterable<[string, V]> {
  protected readonly byKey = new Map<string, V[]>()

  constructor (pairs: Iterable<[string, V]> = []) {
    for (const [key, value] of pairs) {
      const list = this.byKey.get(key)
      if (list === undefined) this.byKey.set(key, [value])
      else list.push(value)
    }
  }

  get (key: string): V | undefined
  get (key: string, defaultValue: V): V
  get (key: string, defaultValue?: V): V | undefined {
    const list = this.byKey.get(key)
    return list === undefined ? defaultValue : list[list.length - 1]
  }

  getlist (key: string): V[] {
    const list = this.byKey.get(key)
    return list === undefined ? [] : list.slice()
  }

  has (key: string): boolean {
    return this.byKey.has(key)
  }

  get size (): number {
    return this.byKey.size
  }

  keys (): IterableIterator<string> {
    return this.byKey.keys()
  }

  /** `[key, lastValue]` pairs, as iterating a Django QueryDict's `items()`. */
  * entries (): IterableIterator<[string, V]> {
    for (const [key, list] of this.byKey) yield [key, list[list.length - 1]]
  }

  * lists (): IterableIterator<[string, V[]]> {
    for (const [key, list] of this.byKey) yield [key, list.slice()]
  }

  [Symbol.iterator] (): IterableIterator<[string, V]> {
    return this.entries()
  }
}
