import type { HttpRequest } from '../http/request.js'
import type { CsrfSettings } from './options.js'

// Django's Origin and Referer checks (CsrfViewMiddleware._origin_verified and
// _check_referer), with its reason strings.

/** Django's `is_same_domain`: `pattern` is a host, or `.a.com` for a.com and its subdomains. */
function isSameDomain (host: string, pattern: string): boolean {
  if (pattern === '') return false
  host = host.toLowerCase()
  pattern = pattern.toLowerCase()
  return (pattern.startsWith('.') && (host.endsWith(pattern) || host === pattern.slice(1))) || pattern === host
}

function ownHost (request: HttpRequest): string | undefined {
  try {
    return request.getHost()
  } catch {
    return undefined // DisallowedHost: matches nothing, as in Django
  }
}

/** The scheme and host[:port] of a URL, or undefined when it has none (Python's urlparse, leniently). */
function schemeAndNetloc (url: string): { scheme: string, netloc: string } | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)/.exec(url)
  if (m === null) return undefined
  // userinfo is not part of the host.
  const at = m[2].lastIndexOf('@')
  return { scheme: m[1].toLowerCase(), netloc: at === -1 ? m[2] : m[2].slice(at + 1) }
}

/** The reason an Origin header fails, or undefined when it is the request's own or trusted. */
export function badOrigin (request: HttpRequest, origin: string, settings: CsrfSettings): string | undefined {
  const host = ownHost(request)
  if (host !== undefined && origin === `${request.isSecure() ? 'https' : 'http'}://${host}`) return undefined
  for (const trusted of settings.trustedOrigins) {
    if (!trusted.includes('*')) {
      if (origin === trusted) return undefined
      continue
    }
    const parsed = schemeAndNetloc(origin)
    const pattern = schemeAndNetloc(trusted)
    if (parsed !== undefined && pattern !== undefined && parsed.scheme === pattern.scheme && isSameDomain(parsed.netloc, pattern.netloc.replace('*', ''))) return undefined
  }
  return `Origin checking failed - ${origin} does not match any trusted origins.`
}

/** On https without Origin: the reason the Referer fails, or undefined when it is from this host or a trusted one. */
export function badReferer (request: HttpRequest, settings: CsrfSettings): string | undefined {
  const referer = request.headers.get('referer')
  if (referer === undefined) return 'Referer checking failed - no Referer.'
  const parsed = schemeAndNetloc(referer)
  if (parsed === undefined || parsed.netloc === '') return 'Referer checking failed - Referer is malformed.'
  if (parsed.scheme !== 'https') return 'Referer checking failed - Referer is insecure while host is secure.'
  for (const trusted of settings.trustedOrigins) {
    const host = schemeAndNetloc(trusted)?.netloc.replace(/^\*/, '')
    if (host !== undefined && isSameDomain(parsed.netloc, host)) return undefined
  }
  const host = ownHost(request)
  if (host !== undefined && isSameDomain(parsed.netloc, host)) return undefined
  return `Referer checking failed - ${referer} does not match any trusted origins.`
}
