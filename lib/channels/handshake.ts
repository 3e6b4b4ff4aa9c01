// The WebSocket handshake's headers: what makes a request malformed (refused
// with 400 before any consumer code runs), and the extra headers a consumer
// may put on the 101 with accept(subprotocol, headers).
import type { IncomingHttpHeaders } from 'node:http'
import { validateHeaderName, validateHeaderValue } from 'node:http'
import { parseExtensions, parseSubprotocols } from '../compat.js'
import { ERR_INVALID_HANDSHAKE_HEADER } from '../errors.js'

/** Headers for the 101: `[name, value]` pairs (as Channels' accept) or an object of names to values. */
export type HandshakeHeaders = Iterable<readonly [string, string]> | Record<string, string | readonly string[]>

const KEY = /^[+/0-9A-Za-z]{22}==$/

/** Why a handshake request is malformed, or undefined when ws would take it. */
export function malformedHandshake (headers: IncomingHttpHeaders): string | undefined {
  const version = headers['sec-websocket-version']
  if (headers.upgrade?.toLowerCase() !== 'websocket') return 'Invalid Upgrade header'
  if (!KEY.test(headers['sec-websocket-key'] ?? '')) return 'Missing or invalid Sec-WebSocket-Key header'
  if (version !== '13' && version !== '8') return 'Missing or invalid Sec-WebSocket-Version header'
  const protocols = headers['sec-websocket-protocol']
  if (protocols !== undefined && !parses(parseSubprotocols ?? parseTokenList, protocols)) return 'Invalid Sec-WebSocket-Protocol header'
  const extensions = headers['sec-websocket-extensions']
  // ws's own parsers, so what passes here passes ws too.
  if (extensions !== undefined && parseExtensions !== undefined && !parses(parseExtensions, extensions)) return 'Invalid Sec-WebSocket-Extensions header'
  return undefined
}

function parses (parse: (header: string) => unknown, header: string): boolean {
  try {
    parse(header)
    return true
  } catch {
    return false
  }
}

// RFC 6455's 1#token with no duplicates, should ws ever stop exporting its parser.
function parseTokenList (header: string): Set<string> {
  const tokens = new Set<string>()
  for (const part of header.split(',')) {
    const token = part.trim()
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(token) || tokens.has(token)) throw new SyntaxError('Invalid token list')
    tokens.add(token)
  }
  return tokens
}

// Headers the handshake itself owns: the subprotocol is accept()'s first argument.
const RESERVED = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions', 'sec-websocket-version', 'content-length', 'transfer-encoding'])

/** accept()'s headers as `Name: value` lines for the 101; a TypeError for a bad name or value. */
export function handshakeHeaderLines (headers: HandshakeHeaders): string[] {
  if (headers === null || typeof headers !== 'object') throw new ERR_INVALID_HANDSHAKE_HEADER('accept(): headers must be [name, value] pairs or an object of names to values')
  const pairs: Array<readonly [unknown, unknown]> = []
  if (Symbol.iterator in headers) {
    for (const pair of headers as Iterable<readonly [string, string]>) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new ERR_INVALID_HANDSHAKE_HEADER('accept(): each header must be a [name, value] pair')
      pairs.push(pair)
    }
  } else {
    for (const [name, value] of Object.entries(headers)) {
      for (const one of Array.isArray(value) ? value : [value]) pairs.push([name, one])
    }
  }
  return pairs.map(([name, value]) => {
    if (typeof name !== 'string' || typeof value !== 'string') throw new ERR_INVALID_HANDSHAKE_HEADER(`accept(): header names and values must be strings (got ${typeof name} ${String(name)}: ${typeof value})`)
    try {
      validateHeaderName(name)
      validateHeaderValue(name, value)
    } catch (error) {
      throw new ERR_INVALID_HANDSHAKE_HEADER(`accept(): invalid header ${JSON.stringify(name)}: ${(error as Error).message}`)
    }
    if (RESERVED.has(name.toLowerCase())) throw new ERR_INVALID_HANDSHAKE_HEADER(`accept(): the handshake sets ${name} itself${name.toLowerCase() === 'sec-websocket-protocol' ? ' (choose the subprotocol with accept(subprotocol))' : ''}`)
    return `${name}: ${value}`
  })
}
