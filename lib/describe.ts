// How error messages name a value a user passed ("got an object (Foo)"):
// one wording everywhere, and never a throw (a Proxy or a getter may).

/** `null`, `undefined`, `an array`, `a function (name)`, `an object (Class)`, `a string`... */
export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  try {
    if (Array.isArray(value)) return 'an array'
    if (typeof value === 'function') return value.name === '' ? 'a function' : `a function (${value.name})`
    if (typeof value === 'object') return `an object (${(Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'null prototype'})`
  } catch {
    return `an object (${typeof value})`
  }
  return `a ${typeof value}`
}
