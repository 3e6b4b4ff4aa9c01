// Django's URL text helpers (django.utils.encoding / django.utils.http), on
// strings: no URL object, so a host Node's URL parser refuses (a port over
// 65535) is joined as Django joins it, as text.

// Python's quote() never escapes these.
const ALWAYS_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~'
const IRI_SAFE = "/#%[]=:;$&()+,!?*@'~"
const PATH_SAFE = "!$&'()*+,;=/~:@"
const IRI_PLAIN = /^[A-Za-z0-9_.\-~/#%[\]=:;$&()+,!?*@']*$/

function safeSet (extra: string): Set<string> {
  return new Set([...ALWAYS_SAFE, ...extra])
}

const iriSafe = safeSet(IRI_SAFE)
const pathSafe = safeSet(PATH_SAFE)

/** Python's `urllib.parse.quote(text, safe)`: UTF-8 percent-encoding of what is not safe. */
function quoteWith (text: string, safe: Set<string>): string {
  let out = ''
  for (const char of text) {
    if (safe.has(char)) {
      out += char
      continue
    }
    for (const byte of Buffer.from(char, 'utf8')) out += '%' + (byte < 16 ? '0' : '') + byte.toString(16).toUpperCase()
  }
  return out
}

/** Django's `iri_to_uri`: non-ASCII and unsafe characters percent-encoded as UTF-8; `%` kept. */
export function iriToUri (iri: string): string {
  return IRI_PLAIN.test(iri) ? iri : quoteWith(iri, iriSafe)
}

/** What `reverse()` quotes a decoded path with: RFC 3986 sub-delims and `/~:@` kept. */
export function quotePath (text: string): string {
  return quoteWith(text, pathSafe)
}

/** Django's `escape_leading_slashes`: `//evil.com` would be protocol-relative, so `/%2Fevil.com`. */
export function escapeLeadingSlashes (url: string): string {
  return url.startsWith('//') ? '/%2F' + url.slice(2) : url
}

/** The parts of Python's `urlsplit` the helpers need. */
export interface SplitUrl {
  scheme: string
  netloc: string
  path: string
  query: string | undefined
  fragment: string | undefined
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/

/** Python's `urlsplit` (scheme lower-cased; query and fragment undefined when absent). */
export function urlsplit (url: string): SplitUrl {
  let rest = url
  let scheme = ''
  const m = SCHEME.exec(rest)
  if (m !== null) {
    scheme = m[1].toLowerCase()
    rest = rest.slice(m[0].length)
  }
  let netloc = ''
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?#]/)
    netloc = end === -1 ? rest.slice(2) : rest.slice(2, end + 2)
    rest = end === -1 ? '' : rest.slice(end + 2)
  }
  let fragment: string | undefined
  const hash = rest.indexOf('#')
  if (hash !== -1) {
    fragment = rest.slice(hash + 1)
    rest = rest.slice(0, hash)
  }
  let query: string | undefined
  const q = rest.indexOf('?')
  if (q !== -1) {
    query = rest.slice(q + 1)
    rest = rest.slice(0, q)
  }
  return { scheme, netloc, path: rest, query, fragment }
}

function unsplit (parts: SplitUrl): string {
  let out = parts.scheme === '' ? '' : parts.scheme + ':'
  if (parts.netloc !== '' || parts.path.startsWith('//')) out += '//' + parts.netloc
  out += parts.path
  if (parts.query !== undefined) out += '?' + parts.query
  if (parts.fragment !== undefined) out += '#' + parts.fragment
  return out
}

// RFC 3986 5.2.4, as Python's urljoin applies it.
function removeDotSegments (path: string): string {
  const output: string[] = []
  const segments = path.split('/')
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]
    if (segment === '..') {
      if (output.length > 1) output.pop()
      if (i === segments.length - 1) output.push('')
    } else if (segment === '.') {
      if (i === segments.length - 1) output.push('')
    } else {
      output.push(segment)
    }
  }
  const joined = output.join('/')
  return path.startsWith('/') && !joined.startsWith('/') ? '/' + joined : joined
}

/** Python's `urljoin(base, url)` for http(s) bases (RFC 3986 reference resolution). */
export function urljoin (base: string, url: string): string {
  if (url === '') return base
  const b = urlsplit(base)
  const r = urlsplit(url)
  if (r.scheme !== '' && r.scheme !== b.scheme) return url
  const scheme = b.scheme
  if (r.netloc !== '') return unsplit({ ...r, scheme, path: removeDotSegments(r.path) })
  if (r.path === '') return unsplit({ scheme, netloc: b.netloc, path: b.path, query: r.query ?? b.query, fragment: r.fragment })
  let path: string
  if (r.path.startsWith('/')) {
    path = r.path
  } else {
    const slash = b.path.lastIndexOf('/')
    path = (slash === -1 ? (b.netloc !== '' ? '/' : '') : b.path.slice(0, slash + 1)) + r.path
  }
  return unsplit({ scheme, netloc: b.netloc, path: removeDotSegments(path), query: r.query, fragment: r.fragment })
}
