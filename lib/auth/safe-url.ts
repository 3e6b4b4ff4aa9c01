// Django's url_has_allowed_host_and_scheme: whether a `next` URL may be
// followed (no open redirect to another host, no javascript:, no tricks
// browsers read as another host: `//x`, `///x`, `/\x`, a leading control character).
import { urlsplit } from '../urls/iri.js'

export interface SafeUrlOptions {
  /** Hosts (with port, as in the Host header) the URL may name. */
  allowedHosts?: Iterable<string>
  /** Only https URLs with a host (the request is secure). */
  requireHttps?: boolean
}

/** Django's url_has_allowed_host_and_scheme. */
export function isSafeUrl (url: string | null | undefined, options: SafeUrlOptions = {}): boolean {
  if (typeof url !== 'string') return false
  const trimmed = url.trim()
  if (trimmed === '') return false
  const hosts = new Set(options.allowedHosts ?? [])
  const https = options.requireHttps === true
  // Chrome reads '\' as '/' in paths: both readings must be safe.
  return allowed(trimmed, hosts, https) && allowed(trimmed.replace(/\\/g, '/'), hosts, https)
}

function allowed (url: string, hosts: Set<string>, requireHttps: boolean): boolean {
  // Chrome takes three slashes as absolute.
  if (url.startsWith('///')) return false
  // Python's urlsplit strips leading C0 controls and spaces, and drops tabs and newlines.
  // eslint-disable-next-line no-control-regex
  const split = urlsplit(url.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, ''))
  if (split.netloc === '' && split.scheme !== '') return false
  // Browsers skip some leading control characters and may read the rest as //host.
  if (/^[\p{C}]/u.test(url)) return false
  const scheme = split.scheme === '' && split.netloc !== '' ? 'http' : split.scheme
  const schemes = requireHttps ? ['https'] : ['http', 'https']
  return (split.netloc === '' || hosts.has(split.netloc)) && (scheme === '' || schemes.includes(scheme))
}
