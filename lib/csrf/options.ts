import { ImproperlyConfigured } from '../errors.js'
import { describe } from '../describe.js'

/** The `csrf` option (Django's CSRF_* settings). */
export interface CsrfOptions {
  /** The readable cookie holding a token, for Django's JS recipe (CSRF_COOKIE_NAME). Default `csrftoken`. */
  cookieName?: string
  /** The header a token may come in (CSRF_HEADER_NAME). Default `X-CSRFToken`. */
  headerName?: string
  /** The form field a token may come in. Default `csrfmiddlewaretoken`. */
  fieldName?: string
  /** Origins trusted for unsafe requests besides the request's own (CSRF_TRUSTED_ORIGINS): `https://a.com`, `https://*.a.com`. */
  trustedOrigins?: string[]
  /** Keep the secret in the session instead of a cookie (CSRF_USE_SESSIONS). */
  useSessions?: boolean
}

export interface CsrfSettings {
  cookieName: string
  headerName: string
  /** The header name as Django's failure reason writes it (`X-Csrftoken`). */
  headerLabel: string
  fieldName: string
  trustedOrigins: string[]
  useSessions: boolean
}

const KEYS = new Set(['cookieName', 'headerName', 'fieldName', 'trustedOrigins', 'useSessions'])
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** The `csrf` option checked and completed; undefined when it is off. */
export function csrfSettings (option: unknown): CsrfSettings | undefined {
  if (option === undefined || option === false) return undefined
  if (option !== true && (option === null || typeof option !== 'object' || Array.isArray(option))) {
    throw new ImproperlyConfigured(`Option 'csrf' must be true or an object (got ${describe(option)})`)
  }
  const given = (option === true ? {} : option) as Record<string, unknown>
  for (const key of Object.keys(given)) if (!KEYS.has(key)) throw new ImproperlyConfigured(`Unknown option 'csrf.${key}'`)
  const name = (key: 'cookieName' | 'headerName' | 'fieldName', fallback: string): string => {
    const value = given[key] ?? fallback
    if (typeof value !== 'string' || !TOKEN.test(value)) throw new ImproperlyConfigured(`Option 'csrf.${key}' must be a cookie, header or field name (got ${describe(value)})`)
    return value
  }
  const trusted = given.trustedOrigins ?? []
  if (!Array.isArray(trusted)) throw new ImproperlyConfigured(`Option 'csrf.trustedOrigins' must be an array of origins (got ${describe(trusted)})`)
  for (const origin of trusted) {
    // As Django 4.0+: a scheme is required (it is part of what an Origin header matches).
    if (typeof origin !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]+$/i.test(origin)) {
      throw new ImproperlyConfigured(`Option 'csrf.trustedOrigins': ${typeof origin === 'string' ? JSON.stringify(origin) : describe(origin)} must be an origin with its scheme, such as 'https://example.com' or 'https://*.example.com'`)
    }
  }
  if (given.useSessions !== undefined && typeof given.useSessions !== 'boolean') throw new ImproperlyConfigured(`Option 'csrf.useSessions' must be a boolean (got ${describe(given.useSessions)})`)
  const headerName = name('headerName', 'X-CSRFToken')
  return {
    cookieName: name('cookieName', 'csrftoken'),
    headerName,
    headerLabel: headerName.split('-').map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase()).join('-'),
    fieldName: name('fieldName', 'csrfmiddlewaretoken'),
    trustedOrigins: trusted as string[],
    useSessions: given.useSessions === true
  }
}
