import { ImproperlyConfigured } from '../errors.js'
import { describe } from '../describe.js'

/** The `templates` option (Django's TEMPLATES, for nunjucks). */
export interface TemplatesOptions {
  /** Directories searched in order (Django's DIRS); relative to the working directory. */
  dirs?: string | string[]
  /** Re-read templates on every render. Default: the `debug` option. */
  noCache?: boolean
  /** Values every template sees (nunjucks globals). */
  globals?: Record<string, unknown>
  /** Template filters by name (`{{ x | name }}`). */
  filters?: Record<string, (...args: any[]) => unknown>
}

const KEYS = new Set(['dirs', 'noCache', 'globals', 'filters'])

/** The `templates` option checked; undefined when it is off. */
export function templatesSettings (option: unknown): TemplatesOptions | undefined {
  if (option === undefined) return undefined
  if (option === null || typeof option !== 'object' || Array.isArray(option)) throw new ImproperlyConfigured(`Option 'templates' must be an object (got ${describe(option)})`)
  const given = option as Record<string, unknown>
  for (const key of Object.keys(given)) if (!KEYS.has(key)) throw new ImproperlyConfigured(`Unknown option 'templates.${key}'`)
  const dirs = given.dirs
  if (dirs !== undefined && typeof dirs !== 'string' && !(Array.isArray(dirs) && dirs.length > 0 && dirs.every((dir) => typeof dir === 'string' && dir !== ''))) {
    throw new ImproperlyConfigured(`Option 'templates.dirs' must be a directory or a non-empty list of them (got ${describe(dirs)})`)
  }
  if (given.noCache !== undefined && typeof given.noCache !== 'boolean') throw new ImproperlyConfigured(`Option 'templates.noCache' must be a boolean (got ${describe(given.noCache)})`)
  for (const key of ['globals', 'filters'] as const) {
    const value = given[key]
    if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) throw new ImproperlyConfigured(`Option 'templates.${key}' must be an object (got ${describe(value)})`)
  }
  for (const [name, filter] of Object.entries((given.filters ?? {}) as object)) {
    if (typeof filter !== 'function') throw new ImproperlyConfigured(`Option 'templates.filters.${name}' must be a function (got ${describe(filter)})`)
  }
  return given as TemplatesOptions
}
