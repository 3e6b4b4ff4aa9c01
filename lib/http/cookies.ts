import { validateHeaderValue } from 'node:http'

export interface CookieOptions {
  /** Seconds; also sets `Expires` for old clients, as Django does. */
  maxAge?: number
  expires?: Date | string
  path?: string
  domain?: string
  secure?: boolean
  httpOnly?: boolean
  sameSite?: 'Lax' | 'Strict' | 'None' | 'lax' | 'strict' | 'none' | false
  partitioned?: boolean
}

// RFC 6265 token: what a cookie name may be.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// RFC 6265 cookie-octet: anything else in a value is percent-encoded.
const UNSAFE_VALUE = /[^\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]/

export function serializeCookie (name: string, value: string, options: CookieOptions = {}): string {
  if (!TOKEN.test(name)) throw new TypeError(`Invalid cookie name: ${JSON.stringify(name)}`)
  const encoded = UNSAFE_VALUE.test(value) ? encodeURIComponent(value) : value
  let cookie = `${name}=${encoded}`
  if (options.maxAge !== undefined) {
    const seconds = Math.floor(options.maxAge)
    if (!Number.isFinite(seconds)) throw new TypeError('Cookie maxAge must be a finite number')
    cookie += `; Max-Age=${seconds}`
    if (options.expires === undefined) cookie += `; Expires=${new Date(Date.now() + seconds * 1000).toUTCString()}`
  }
  if (options.expires !== undefined) {
    const date = typeof options.expires === 'string' ? new Date(options.expires) : options.expires
    if (Number.isNaN(date.getTime())) throw new TypeError('Cookie expires must be a valid date')
    cookie += `; Expires=${date.toUTCString()}`
  }
  if (options.domain !== undefined) cookie += `; Domain=${checkAttribute('domain', options.domain)}`
  cookie += `; Path=${checkAttribute('path', options.path ?? '/')}`
  if (options.secure === true) cookie += '; Secure'
  if (options.httpOnly === true) cookie += '; HttpOnly'
  if (options.sameSite !== undefined && options.sameSite !== false) {
    const sameSite = options.sameSite.toLowerCase()
    if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') throw new TypeError('Cookie sameSite must be Lax, Strict or None')
    cookie += `; SameSite=${sameSite[0].toUpperCase()}${sameSite.slice(1)}`
  }
  if (options.partitioned === true) cookie += '; Partitioned'
  // Any byte Node would refuse on the wire fails here, in the view.
  validateHeaderValue('set-cookie', cookie)
  return cookie
}

function checkAttribute (name: string, value: string): string {
  if (/[;\r\n\0]/.test(value)) throw new TypeError(`Invalid cookie ${name}: ${JSON.stringify(value)}`)
  return value
}

/** Parses a Cookie header into `{ name: value }` (first occurrence wins, values decoded). */
export function parseCookies (header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {}
  if (header === undefined || header === '') return cookies
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    const name = part.slice(0, eq).trim()
    if (name === '' || Object.hasOwn(cookies, name)) continue
    let value = part.slice(eq + 1).trim()
    if (value.length > 1 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1)
    cookies[name] = safeDecode(value)
  }
  return cookies
}

function safeDecode (value: string): string {
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}
