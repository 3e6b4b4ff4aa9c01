import { ImproperlyConfigured, ERR_CONVERSION } from '../errors.js'

/**
 * A path converter, as Django's: `regex` matches one value in the URL, `toJs`
 * turns it into the kwarg (throwing means "no match"), `toUrl` turns a kwarg back.
 */
export interface Converter<T = unknown> {
  regex: string
  toJs (value: string): T
  toUrl (value: T): string
}

/**
 * The type each converter gives a kwarg. Add yours by declaration merging:
 * `declare module 'fastify-async-views' { interface Converters { year: number } }`.
 */
export interface Converters {
  int: number
  str: string
  slug: string
  uuid: string
  path: string
}

const intConverter: Converter<number> = {
  regex: '[0-9]+',
  toJs (value) {
    const n = Number(value)
    if (!Number.isSafeInteger(n)) throw new ERR_CONVERSION('int out of range')
    return n
  },
  // As Django's IntConverter: the text of the value; reverse() then checks it against the regex ('01' fits).
  toUrl (value) {
    return String(value)
  }
}

function stringConverter (regex: string): Converter<string> {
  return {
    regex,
    toJs: (value) => value,
    toUrl: (value) => String(value)
  }
}

const registry = new Map<string, Converter<any>>([
  ['int', intConverter],
  ['str', stringConverter('[^/]+')],
  ['slug', stringConverter('[-a-zA-Z0-9_]+')],
  ['uuid', stringConverter('[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')],
  ['path', stringConverter('.+')]
])

const BUILTIN = new Set(registry.keys())

/** Registers a converter for use in `path()` routes (`<name:kwarg>`). */
export function registerConverter<T> (name: string, converter: Converter<T>): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ImproperlyConfigured(`Converter name ${JSON.stringify(name)} must be an identifier`)
  if (BUILTIN.has(name) || registry.has(name)) throw new ImproperlyConfigured(`Converter '${name}' is already registered.`)
  if (converter === null || typeof converter !== 'object' || typeof converter.regex !== 'string' ||
      typeof converter.toJs !== 'function' || typeof converter.toUrl !== 'function') {
    throw new ImproperlyConfigured(`Converter '${name}' must have a string \`regex\` and functions \`toJs\` and \`toUrl\``)
  }
  try {
    // eslint-disable-next-line no-new
    new RegExp(`^(?:${converter.regex})$`)
  } catch (error) {
    throw new ImproperlyConfigured(`Converter '${name}' has an invalid regex: ${(error as Error).message}`)
  }
  registry.set(name, converter)
}

export function getConverter (name: string): Converter<any> | undefined {
  return registry.get(name)
}
