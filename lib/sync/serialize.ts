import { deserialize, serialize } from 'node:v8'
import { AsyncViewsError, errorClassOf } from '../errors.js'
import {
  BadRequest, DisallowedHost, DisallowedRedirect, Http404, HttpException, MiddlewareNotUsed, PermissionDenied, SuspiciousOperation
} from '../http/exceptions.js'

// Values cross threads as postMessage clones them (natively, the cheapest
// way), unless they hold a Buffer (which a clone turns into a Uint8Array) or a
// value no clone takes: those are v8-serialized here, in JS, where a Buffer
// stays a Buffer and what cannot cross fails with an error naming it.

/** Serialises a value; a value that cannot cross threads throws DataCloneError. */
export function pack (value: unknown): Uint8Array {
  return serialize(value)
}

export function unpack<T = unknown> (bytes: Uint8Array): T {
  return deserialize(bytes) as T
}

/** Arguments as they cross: the list as it is (postMessage clones it), or v8 bytes when it needs packing. */
export type PackedArgs = Uint8Array | unknown[]
type Primitive = string | number | boolean | bigint | null | undefined

export function packArgs (args: unknown[]): PackedArgs {
  for (let i = 0; i < args.length; i++) if (!isPrimitive(args[i])) return needsPacking(args) ? pack(args) : args
  // The caller's own rest array: posted (and so copied) as it is.
  return args
}

/**
 * True when a clone would not carry `value` as it is: it holds a Buffer, a
 * function or a symbol (then pack() keeps the Buffer, or throws naming what
 * cannot cross). Plain data, Maps, Sets, Dates and typed arrays clone as they are.
 */
export function needsPacking (value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol'
  return walk(value as object, new Set())
}

function walk (object: object, seen: Set<object>): boolean {
  if (seen.has(object)) return false
  seen.add(object)
  if (ArrayBuffer.isView(object)) return Buffer.isBuffer(object)
  if (object instanceof Map) {
    for (const [key, value] of object) if (leafNeedsPacking(key, seen) || leafNeedsPacking(value, seen)) return true
    return false
  }
  if (object instanceof Set) {
    for (const value of object) if (leafNeedsPacking(value, seen)) return true
    return false
  }
  if (Array.isArray(object)) {
    for (let i = 0; i < object.length; i++) if (leafNeedsPacking(object[i], seen)) return true
    return false
  }
  for (const key in object) {
    if (Object.hasOwn(object, key) && leafNeedsPacking((object as Record<string, unknown>)[key], seen)) return true
  }
  return false
}

function leafNeedsPacking (value: unknown, seen: Set<object>): boolean {
  if (value === null) return false
  const type = typeof value
  if (type === 'object') return walk(value as object, seen)
  return type === 'function' || type === 'symbol'
}

export function unpackArgs (a: PackedArgs): unknown[] {
  return Array.isArray(a) ? a : unpack<unknown[]>(a)
}

/** A value postMessage copies exactly as v8.serialize would (symbols are not: they fail in pack). */
export function isPrimitive (value: unknown): value is Primitive {
  return value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')
}

/** An error as it crosses threads. */
export interface PackedError {
  name: string
  message: string
  stack: string | undefined
  code: unknown
  cause: PackedError | { value: unknown } | undefined
  props: Record<string, unknown>
}

type ErrorClass = new (message?: string) => Error

// Django's exceptions and the user's classes come back as themselves, by name
// (an Http404 from a worker is still a 404); the package's coded errors by code.
const registry = new Map<string, ErrorClass>()

/** Lets errors of `cls` cross threads as themselves (the package's classes are registered already). */
export function registerErrorClass (cls: ErrorClass, name = cls.name): void {
  registry.set(name, cls)
}

for (const cls of [HttpException, Http404, PermissionDenied, BadRequest, SuspiciousOperation, DisallowedHost, DisallowedRedirect, MiddlewareNotUsed]) {
  registerErrorClass(cls as ErrorClass)
}

const OWN_SKIP = new Set(['name', 'message', 'stack', 'cause', 'code'])

function safeGet (value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

/** Turns anything thrown into a PackedError (never throws). */
export function packError (error: unknown, depth = 0): PackedError {
  const isObject = error !== null && (typeof error === 'object' || typeof error === 'function')
  const name = isObject ? safeGet(error, 'name') : undefined
  const message = isObject ? safeGet(error, 'message') : undefined
  const stack = isObject ? safeGet(error, 'stack') : undefined
  const props: Record<string, unknown> = {}
  if (isObject) {
    let keys: string[] = []
    try { keys = Object.keys(error) } catch {}
    for (const key of keys) {
      if (OWN_SKIP.has(key)) continue
      const value = safeGet(error, key)
      try {
        serialize(value)
        props[key] = value
      } catch {}
    }
  }
  const rawCause = isObject ? safeGet(error, 'cause') : undefined
  let cause: PackedError['cause']
  if (rawCause !== undefined && depth < 5) {
    cause = rawCause !== null && typeof rawCause === 'object' && 'message' in rawCause ? packError(rawCause, depth + 1) : cloneable(rawCause)
  }
  return {
    name: typeof name === 'string' ? name : isObject ? 'Error' : typeof error,
    message: typeof message === 'string' ? message : isObject ? '' : String(error),
    stack: typeof stack === 'string' ? stack : undefined,
    code: cloneable(isObject ? safeGet(error, 'code') : undefined)?.value,
    cause,
    props
  }
}

function cloneable (value: unknown): { value: unknown } | undefined {
  try {
    serialize(value)
    return { value }
  } catch {
    return { value: String(value) }
  }
}

/** Rebuilds a thrown error: the package's classes as themselves, others as Error keeping their name. */
export function unpackError (packed: PackedError): Error {
  const Coded = errorClassOf(packed.code)
  const Cls = registry.get(packed.name)
  let error: Error
  if (Coded !== undefined) {
    error = new Coded(packed.message)
  } else if (Cls !== undefined) {
    error = new Cls(packed.message)
  } else {
    error = new Error(packed.message)
    Object.defineProperty(error, 'name', { value: packed.name, writable: true, configurable: true, enumerable: false })
  }
  if (packed.stack !== undefined) Object.defineProperty(error, 'stack', { value: packed.stack, writable: true, configurable: true, enumerable: false })
  if (packed.code !== undefined && !(error instanceof AsyncViewsError)) (error as { code?: unknown }).code = packed.code
  if (packed.cause !== undefined) {
    const cause = 'props' in packed.cause ? unpackError(packed.cause) : packed.cause.value
    Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true, enumerable: false })
  }
  Object.assign(error, packed.props)
  return error
}
