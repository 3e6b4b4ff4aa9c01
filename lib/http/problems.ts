import { STATUS_CODES } from 'node:http'
import { HttpException } from './exceptions.js'
import { HttpResponse } from './response.js'

// What an error becomes when nothing handles it. Every property read is
// guarded: a view may throw anything (a frozen error, a Proxy that throws).

export const PRODUCTION_500 = '{"statusCode":500,"error":"Internal Server Error","message":"Internal Server Error"}'

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** Reads a property without letting a throwing getter or Proxy escape. */
export function read (value: unknown, key: string): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined
  try {
    return (value as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

export function isInstance (value: unknown, cls: abstract new (...args: any[]) => unknown): boolean {
  try {
    return value instanceof cls
  } catch {
    return false
  }
}

/** The status a view error maps to: the package's exceptions, 502/504 for failed fetches, else 500. */
export function statusOfViewError (error: unknown): number {
  if (isInstance(error, HttpException)) return (error as HttpException).statusCode
  if (isTimeout(error)) return 504
  if (isFetchFailure(error)) return 502
  return 500
}

/** `AbortSignal.timeout()`'s TimeoutError, or undici's `fetch failed` caused by a *_TIMEOUT. */
export function isTimeout (error: unknown): boolean {
  if (read(error, 'name') === 'TimeoutError') return true
  if (!isFetchFailure(error)) return false
  const cause = read(error, 'cause')
  const code = read(cause, 'code')
  return (typeof code === 'string' && TIMEOUT_CODES.has(code)) || read(cause, 'name') === 'TimeoutError'
}

/** undici's `TypeError: fetch failed` (connection refused, reset, DNS...). */
export function isFetchFailure (error: unknown): boolean {
  return isInstance(error, TypeError) && read(error, 'message') === 'fetch failed'
}

export function messageOf (error: unknown): string {
  const message = read(error, 'message')
  if (typeof message === 'string') return message
  try {
    return String(error)
  } catch {
    try {
      return Object.prototype.toString.call(error)
    } catch {
      return '[unprintable value]'
    }
  }
}

/** Every error body the package sends: `{ statusCode, error, message }`, plus extras (debug, a code). */
export function problemBody (statusCode: number, message: string | undefined, extra?: Record<string, unknown>): string {
  if (statusCode === 500 && extra === undefined && message === undefined) return PRODUCTION_500
  const error = STATUS_CODES[statusCode] ?? 'Error'
  return JSON.stringify({ statusCode, error, message: message === undefined || message === '' ? error : message, ...extra })
}

export const PROBLEM_TYPE = 'application/json; charset=utf-8'

/** problemBody as an HttpResponse. */
export function problemResponse (statusCode: number, message: string | undefined, extra?: Record<string, unknown>): HttpResponse {
  return new HttpResponse(problemBody(statusCode, message, extra), { status: statusCode, contentType: PROBLEM_TYPE })
}

/** Debug details of an error: name, message, stack and cause, never throwing. */
export function debugDetails (error: unknown): Record<string, unknown> {
  const details: Record<string, unknown> = { name: read(error, 'name') ?? typeof error }
  const stack = read(error, 'stack')
  if (typeof stack === 'string') details.stack = stack.split('\n')
  const cause = read(error, 'cause')
  if (cause !== undefined) details.cause = messageOf(cause)
  return details
}

/** A plain, extensible copy of an error for loggers that write on the object they log. */
export function safeCopy (error: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { type: String(read(error, 'name') ?? typeof error), message: messageOf(error) }
  const stack = read(error, 'stack')
  if (typeof stack === 'string') copy.stack = stack
  const code = read(error, 'code')
  if (typeof code === 'string' || typeof code === 'number') copy.code = code
  const cause = read(error, 'cause')
  if (cause !== undefined) copy.cause = messageOf(cause)
  return copy
}
