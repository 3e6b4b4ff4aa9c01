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
}

/** A piscina task. `a` is the argument list (see packArgs). */
export interface Task {
  u: string
  n: string
  a: PackedArgs
  /** syncView: the first argument is a request snapshot to rebuild. */
  view?: boolean
  /** syncView: the request's token (its entry in liveRequests). */
  k?: number
}

/** Worker -> main over the bridge port. */
export type ToMain =
  | { t: 'call', id: number, u: string, n: string, a: Uint8Array }
  | { t: 'done', id: number, ok: true, v: Uint8Array }
  | { t: 'done', id: number, ok: false, e: PackedError }
  | { t: 'log', level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal', token: number, msg: string, obj: unknown }
  /** A sync view that logged has returned: after its last log line, the request can go. */
  | { t: 'end', token: number }
  /** The result of a 'run'. */
  | { t: 'ran', id: number, r: TaskResult }

/** Main -> worker over the bridge port. */
export type ToWorker =
  | { t: 'result', id: number, ok: true, v: Uint8Array }
  | { t: 'result', id: number, ok: false, e: PackedError }
  | { t: 'task', id: number, u: string, n: string, a: PackedArgs }
  /** A thread-sensitive call sent straight to its worker (piscina's task machinery costs more than the call). */
  | { t: 'run', id: number, task: Task }

/** A task's outcome, v8-serialised as a whole (so it can be transferred). `l`: a sync view that logged (an 'end' follows on the port). */
export type Outcome = { ok: true, v: unknown, l?: true } | { ok: false, e: PackedError, l?: true }

/** What a task returns: the serialised Outcome, or a primitive result as it is (cheaper to post). */
export type TaskResult = Uint8Array | { ok: true, v: string | number | boolean | bigint | null | undefined }

/** A request as it crosses to a sync view's worker. */
export interface RequestSnapshot {
  token: number
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  body: Buffer
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
    body: Buffer
    deferred: { to: string, options: unknown } | undefined
  }

/** The pseudo-module a worker calls to reverse a URL through the request it serves. */
export const REVERSE_HREF = 'fastify-async-views:reverse'
