import { ERR_INVALID_ORIGIN_PATTERN } from '../errors.js'
// Origin checks for WebSocket handshakes (Channels' OriginValidator, stricter
// by default). Patterns: '*'; 'https://a.com' (scheme, host and port);
// 'a.com' (that host, any scheme); '*.a.com' (subdomains only); '.a.com'
// (a.com and its subdomains). Hostnames are compared parsed, never as a
// suffix of the raw header, so 'evila.com' never matches 'a.com'.

type Matcher = (origin: URL) => boolean

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' }

function portOf (url: URL): string {
  return url.port === '' ? DEFAULT_PORTS[url.protocol] ?? '' : url.port
}

function compile (pattern: string): Matcher {
  if (pattern === '*') return () => true
  if (pattern.includes('://')) {
    const wanted = new URL(pattern)
    return (origin) => origin.protocol === wanted.protocol && origin.hostname === wanted.hostname && portOf(origin) === portOf(wanted)
  }
  const host = pattern.toLowerCase()
  if (host.startsWith('*.')) {
    const base = host.slice(2)
    return (origin) => origin.hostname.endsWith('.' + base) && origin.hostname.length > base.length + 1
  }
  if (host.startsWith('.')) {
    const base = host.slice(1)
    return (origin) => origin.hostname === base || origin.hostname.endsWith('.' + base)
  }
  const [name, port] = splitHostPort(host)
  return (origin) => origin.hostname === name && (port === undefined || portOf(origin) === port)
}

function splitHostPort (host: string): [string, string | undefined] {
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    return [host.slice(0, end + 1), host[end + 1] === ':' ? host.slice(end + 2) : undefined]
  }
  const colon = host.lastIndexOf(':')
  return colon === -1 ? [host, undefined] : [host.slice(0, colon), host.slice(colon + 1)]
}

/** Checks Origin headers against `allowedOrigins`, or the request's own Host when unset. */
export function originChecker (allowed: readonly string[] | undefined): (origin: string | undefined, host: string | undefined) => boolean {
  const matchers = allowed?.map(compile)
  return (origin, host) => {
    // No Origin: not a browser, so not cross-site hijacking (refuse in your own hook if you must).
    if (origin === undefined) return true
    let parsed: URL
    try {
      parsed = new URL(origin)
    } catch {
      return false
    }
    if (parsed.hostname === '') return false
    if (matchers !== undefined) return matchers.some((match) => match(parsed))
    if (host === undefined) return false
    // Same host only: host and port equal to the Host header's.
    return `${parsed.hostname}:${portOf(parsed)}` === normaliseHost(host, parsed.protocol)
  }
}

function normaliseHost (host: string, protocol: string): string {
  const [name, port] = splitHostPort(host.toLowerCase())
  return `${name}:${port ?? DEFAULT_PORTS[protocol] ?? ''}`
}

/** Throws on a pattern that can never match. */
export function checkOriginPatterns (patterns: unknown): string[] {
  if (!Array.isArray(patterns)) throw new ERR_INVALID_ORIGIN_PATTERN('allowedOrigins must be an array of strings')
  for (const pattern of patterns) {
    if (typeof pattern !== 'string' || pattern === '') throw new ERR_INVALID_ORIGIN_PATTERN(`allowedOrigins holds an invalid pattern: ${JSON.stringify(pattern)}`)
    if (pattern.includes('://')) new URL(pattern) // eslint-disable-line no-new
  }
  return patterns
}
