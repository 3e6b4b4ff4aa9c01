// The one codec of both channel layers: what a message may hold, how it
// travels, and what a receiver gets. The memory layer encodes and decodes
// too, so a message arrives as the same value on either layer, and a value
// neither can carry is refused by both, at send time, with the same TypeError.
//
// Carried: plain objects (arriving with Object.prototype), arrays, strings,
// booleans, null, every number (NaN, Infinity and -0 included), BigInt, Date
// and bytes (a Uint8Array or Buffer, arriving as a plain Uint8Array). As in
// JSON, an undefined property is left out and an undefined array item becomes
// null. Refused: functions, symbols, Map, Set, class instances and every other
// object, other typed arrays, and nesting deeper than MAX_DEPTH (a cycle).
//
// On the wire it is JSON: a message of plain values is JSON itself (starting
// with '{'); one holding a value JSON cannot say is TAGGED followed by JSON in
// which such values are objects with the single key TAG, and a user's own
// object with that key is escaped the same way.
//
// A received message is deep-frozen, so one decoded object can go to every
// receiver of a group: a consumer cannot change what the next one sees. Dates
// and bytes cannot be frozen, so a message holding them is decoded once per
// receiver instead (`shareable` says which).
import type { LayerMessage } from './names.js'
import { ERR_INVALID_MESSAGE } from '../errors.js'

const TAG = '~'
const TAGGED = '~'
const MAX_DEPTH = 256

/** Encodes a layer message; throws the codec's TypeError for what it cannot carry. */
export function encodeMessage (message: unknown): string {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw new ERR_INVALID_MESSAGE(`A channel layer message must be a plain object with a string 'type' (got ${message === null ? 'null' : Array.isArray(message) ? 'an array' : typeof message})`)
  }
  const proto = Object.getPrototypeOf(message)
  if (proto !== Object.prototype && proto !== null) throw new ERR_INVALID_MESSAGE(`A channel layer message must be a plain object (got ${describe(message)})`)
  if (typeof (message as { type?: unknown }).type !== 'string') throw new ERR_INVALID_MESSAGE('A channel layer message needs a string \'type\'')
  let exact: boolean
  try {
    exact = plain(message, 0)
  } catch (error) {
    if (!(error instanceof Refusal)) throw error
    throw new ERR_INVALID_MESSAGE(`A channel layer message cannot carry ${error.what} (at message${error.path.slice(0, 8).join('')}${error.path.length > 8 ? '...' : ''}): use plain objects, arrays, strings, numbers, booleans, null, BigInt, Date and Uint8Array (bytes)`)
  }
  return exact ? JSON.stringify(message) : TAGGED + JSON.stringify(tagged(message))
}

/** Decodes what encodeMessage made: a deep-frozen message. */
export function decodeMessage (text: string): LayerMessage {
  if (text.charCodeAt(0) !== 0x7e) return deepFreeze(JSON.parse(text)) as LayerMessage
  return revive(JSON.parse(text.slice(1))) as LayerMessage
}

/** True when one decoded message may be handed to every receiver (it holds no Date or bytes). */
export function shareable (text: string): boolean {
  return text.charCodeAt(0) !== 0x7e || (!text.includes('["d",') && !text.includes('["b",'))
}

// Checks a value and says whether JSON alone carries it exactly (true: no tags needed).
function plain (value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) throw new Refusal(`values nested deeper than ${MAX_DEPTH} levels (a circular reference?)`)
  let exact = true
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) throw new Refusal(describe(value))
    let i = 0
    try {
      for (; i < value.length; i++) if (!check(value[i], depth)) exact = false
    } catch (error) {
      if (error instanceof Refusal) error.path.unshift(`[${i}]`)
      throw error
    }
    return exact
  }
  const object = value as Record<string, unknown>
  for (const key of Object.keys(object)) {
    if (key === TAG) exact = false
    try {
      if (!check(object[key], depth)) exact = false
    } catch (error) {
      if (error instanceof Refusal) error.path.unshift(/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)
      throw error
    }
  }
  return exact
}

function check (value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0)
    case 'bigint':
      return false
    case 'object': {
      if (value === null) return true
      const proto = Object.getPrototypeOf(value)
      if (proto === Object.prototype || proto === null || proto === Array.prototype) return plain(value, depth + 1)
      if (value instanceof Date || value instanceof Uint8Array) {
        if (value instanceof Uint8Array && proto !== Uint8Array.prototype && proto !== Buffer.prototype) throw new Refusal(describe(value))
        return false
      }
      throw new Refusal(describe(value))
    }
    default:
      throw new Refusal(typeof value === 'function' ? 'a function' : 'a symbol')
  }
}

// A copy in which every value JSON cannot say is { [TAG]: [kind, payload] }.
function tagged (value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value
      return { [TAG]: ['n', Object.is(value, -0) ? '-0' : String(value)] }
    case 'bigint':
      return { [TAG]: ['i', value.toString()] }
    case 'object': {
      if (value === null) return null
      // An invalid Date's time is NaN, which JSON says as null.
      if (value instanceof Date) return { [TAG]: ['d', value.getTime()] }
      if (value instanceof Uint8Array) return { [TAG]: ['b', Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')] }
      if (Array.isArray(value)) return value.map(tagged)
      // Null prototype: a '__proto__' key stays a key.
      const copy: Record<string, unknown> = Object.create(null)
      for (const key of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[key]
        if (item !== undefined) copy[key] = tagged(item)
      }
      return Object.hasOwn(copy, TAG) ? { [TAG]: ['o', copy] } : copy
    }
    default:
      return value
  }
}

function revive (value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i])
    return Object.freeze(value)
  }
  const object = value as Record<string, unknown>
  const tag = object[TAG] as [string, unknown] | undefined
  if (tag !== undefined) {
    const [kind, payload] = tag
    switch (kind) {
      case 'n': return payload === '-0' ? -0 : Number(payload)
      case 'i': return BigInt(payload as string)
      case 'd': return new Date(payload === null ? Number.NaN : payload as number)
      case 'b': {
        // Its own ArrayBuffer: a view into Buffer's shared pool would expose other data.
        const bytes = new Uint8Array(Buffer.byteLength(payload as string, 'base64'))
        const written = Buffer.from(bytes.buffer).write(payload as string, 'base64')
        return written === bytes.length ? bytes : bytes.slice(0, written)
      }
      case 'o': {
        const inner = payload as Record<string, unknown>
        for (const key of Object.keys(inner)) inner[key] = revive(inner[key])
        return Object.freeze(inner)
      }
    }
  }
  for (const key of Object.keys(object)) object[key] = revive(object[key])
  return Object.freeze(object)
}

function deepFreeze (value: unknown): unknown {
  if (value !== null && typeof value === 'object') {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) deepFreeze(value[i])
    } else {
      for (const key in value) deepFreeze((value as Record<string, unknown>)[key])
    }
    Object.freeze(value)
  }
  return value
}

// Thrown inside the walk; encodeMessage turns it into a TypeError naming the path to the value.
class Refusal {
  readonly what: string
  readonly path: string[] = []
  constructor (what: string) {
    this.what = what
  }
}

function describe (value: object): string {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `a ${value.constructor.name} (bytes travel as a Uint8Array)`
  const name = (value.constructor as { name?: string } | undefined)?.name
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object with a prototype'
}
