import type { MessagePort } from 'node:worker_threads'
import type { PackedArgs, PackedError } from './serialize.js'

/** What a bridge worker registers with the main thread when it starts. */
export interface Registration {
  bridge: 'fastify-async-views'
  threadId: number
  threadSensitive: boolean
  port: MessagePort
  /** Int32Array over a SharedArrayBuffer: set to 1 by the main thread after each message. */
  signal: Int32Array
  /** Int32Array over a SharedArrayBuffer of CANCEL_SLOTS: a call's id at index id % CANCEL_SLOTS means "aborted, skip it". */
  cancel: Int32Array
}

/** Calls shipped to a worker in one message at most (and the size of its cancel array). */
export const CANCEL_SLOTS = 256

/** A call as it is shipped to a worker. `a` is the argument list (see packArgs). */
export interface Task {
  id: number
  u: string
  n: string
  a: PackedArgs
  /** syncView: the first argument is a request snapshot to rebuild. */
  view?: boolean
  /** syncView: the request's token (the worker names its request by it, for reverse() and log lines). */
  k?: number
}

/** Worker -> main over the bridge port. */
export type ToMain =
  | { t: 'call', id: number, u: string, n: string, a: Uint8Array }
  | { t: 'done', id: number, ok: true, v: Uint8Array }
  | { t: 'done', id: number, ok: false, e: PackedError }
  | { t: 'log', level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal', token: number, msg: string, obj: unknown }
  /** Results of shipped calls, in the order they were shipped: id, Result tag, payload, id, tag, payload... */
  | { t: 'ran', r: unknown[] }

/** Main -> worker over the bridge port. */
export type ToWorker =
  | { t: 'result', id: number, ok: true, v: Uint8Array }
  | { t: 'result', id: number, ok: false, e: PackedError }
  | { t: 'task', id: number, u: string, n: string, a: PackedArgs }
  /** Calls to run in this order, one at a time (several per message: one wake-up, one message for many calls). */
  | { t: 'batch', c: Task[] }

/** How a call's result crosses back: its value as postMessage clones it, its value v8-serialised (it holds Buffers), a PackedError, or not run (cancelled). */
export const Result = { VALUE: 0, PACKED: 1, ERROR: 2, SKIPPED: 3 } as const

/** A request as it crosses to a sync view's worker. */
export interface RequestSnapshot {
  token: number
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  /** The body's bytes (see crossingBytes: a latin1 string when small). */
  body: Uint8Array | string
  remoteAddress: string | undefined
  remotePort: number | undefined
  encrypted: boolean
  httpVersion: string
  protocol: string
  host: string
  prefixLength: number
  reqId: unknown
  match: {
    route: string
    urlName: string | undefined
    namespaces: string[]
    appNames: string[]
    args: string[]
    kwargs: Record<string, unknown>
    viewName: string
  } | null
  /** Attributes middleware set (`user` and any other cloneable ones). */
  attributes: Record<string, unknown>
  /** A spooled multipart form (`uploads`): its fields, and its files as [field, name, size, contentType, path]. */
  form?: { fields: Array<[string, string]>, files: Array<[string, string, number, string, string]> }
}

/** A sync view's answer as it crosses back. */
export type PackedViewResult =
  | { kind: 'json', data: unknown }
  | {
    kind: 'response'
    cls: string
    status: number
    headers: Array<[string, string | string[]]>
    body: Uint8Array | string
    deferred: { to: string, options: unknown } | undefined
  }

/** The pseudo-module a worker calls to reverse a URL through the request it serves. */
export const REVERSE_HREF = 'fastify-async-views:reverse'
