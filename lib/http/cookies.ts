import { validateHeaderValue } from 'node:http'
import { ERR_INVALID_COOKIE } from '../errors.js'

export interface CookieOptions {
  /** Seconds; also sets `Expires` for old clients, as Django does. */
  maxAge?: number
  /** A Date (Django turns it into Max-Age, and Expires from that) or an HTTP date string, sent as given. */
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

/** A Set-Cookie value, with Django's `set_cookie` rules for `expires` and `maxAge`. */
export function serializeCookie (name: string, value: string, options: CookieOptions = {}): string {
  if (!TOKEN.test(name)) throw new ERR_INVALID_COOKIE(`Invalid cookie name: ${JSON.stringify(name)}`)
  const encoded = UNSAFE_VALUE.test(value) ? encodeURIComponent(value) : value
  let cookie = `${name}=${encoded}`
  let maxAge = options.maxAge
  let expires: string | undefined
  if (options.expires instanceof Date) {
    if (maxAge !== undefined) throw new ERR_INVALID_COOKIE("'expires' and 'maxAge' can't be used together.")
    if (Number.isNaN(options.expires.getTime())) throw new ERR_INVALID_COOKIE('Cookie expires must be a valid date')
    // A date becomes Max-Age (one second added: the fraction lost on the way), as in Django.
    maxAge = Math.max(0, Math.floor((options.expires.getTime() - Date.now()) / 1000) + 1)
  } else if (options.expires !== undefined) {
    expires = checkAttribute('expires', String(options.expires))
  }
  if (maxAge !== undefined) {
    const seconds = Math.floor(maxAge)
    if (!Number.isFinite(seconds)) throw new ERR_INVALID_COOKIE('Cookie maxAge must be a finite number')
    cookie += `; Max-Age=${seconds}`
    expires ??= new Date(Date.now() + seconds * 1000).toUTCString()
  }
  if (expires !== undefined) cookie += `; Expires=${expires}`
  if (options.domain !== undefined) cookie += `; Domain=${checkAttribute('domain', options.domain)}`
  cookie += `; Path=${checkAttribute('path', options.path ?? '/')}`
  if (options.secure === true) cookie += '; Secure'
  if (options.httpOnly === true) cookie += '; HttpOnly'
  if (options.sameSite !== undefined && options.sameSite !== false) {
    const sameSite = options.sameSite.toLowerCase()
    if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') throw new ERR_INVALID_COOKIE('Cookie sameSite must be Lax, Strict or None')
    cookie += `; SameSite=${sameSite[0].toUpperCase()}${sameSite.slice(1)}`
  }
  if (options.partitioned === true) cookie += '; Partitioned'
  // Any byte Node would refuse on the wire fails here, in the view.
  validateHeaderValue('set-cookie', cookie)
  return cookie
}

function checkAttribute (name: string, value: string): string {
  if (/[;\r\n\0]/.test(value)) throw new ERR_INVALID_COOKIE(`Invalid cookie ${name}: ${JSON.stringify(value)}`)
  return value
}

/**
 * Parses a Cookie header as Django's `parse_cookie`: every `;` separates, a chunk
 * without `=` is a value with an empty name, a repeated name keeps its last value,
 * quoted values are unquoted. The header's bytes are read as UTF-8 (Node hands
 * them over as Latin-1). The result has no prototype, so `__proto__` is a name.
 */
export function parseCookies (header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null)
  if (header === undefined || header === '') return cookies
  // eslint-disable-next-line no-control-regex
  const text = /[^\x00-\x7f]/.test(header) ? Buffer.from(header, 'latin1').toString('utf8') : header
  for (const chunk of text.split(';')) {
    const eq = chunk.indexOf('=')
    const name = eq === -1 ? '' : chunk.slice(0, eq).trim()
    const value = (eq === -1 ? chunk : chunk.slice(eq + 1)).trim()
    if (name === '' && value === '') continue
    cookies[name] = safeDecode(unquote(value))
  }
  return cookies
}

// Python's http.cookies._unquote: strip the quotes, undo `\"` and `\ooo` escapes.
function unquote (value: string): string {
  if (value.length < 2 || value.charCodeAt(0) !== 34 || value.charCodeAt(value.length - 1) !== 34) return value
  return value.slice(1, -1).replace(/\\(?:([0-3][0-7][0-7])|(.))/g, (_m, octal: string | undefined, char: string | undefined) =>
    octal !== undefined ? String.fromCharCode(parseInt(octal, 8)) : char as string)
}

function safeDecode (value: string): string {
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}
