import { MessageChannel, isMainThread, parentPort, receiveMessageOnPort, threadId, type MessagePort } from 'node:worker_threads'
import { checkNotThenable, checkSync, loadExportSync } from './modules.js'
import type { Registration, Task, TaskResult, ToMain, ToWorker } from './protocol.js'
import { pack, packError, unpack, unpackArgs, unpackError } from './serialize.js'

// The worker side of the bridge: a port to the main thread and a shared flag
// to sleep on, so asyncToSync can block with Atomics.wait and still run the
// thread-sensitive calls the main thread sends back (asgiref's design).

let port: MessagePort | undefined
let signal: Int32Array | undefined
let sequence = 0
const early = new Map<number, Extract<ToWorker, { t: 'result' }>>()

/** Called once by the bridge's worker script. */
export function registerBridgeWorker (threadSensitive: boolean): void {
  if (isMainThread || parentPort === null || port !== undefined) return
  const channel = new MessageChannel()
  port = channel.port1
  signal = new Int32Array(new SharedArrayBuffer(4))
  const registration: Registration = { bridge: 'fastify-async-views', threadId, threadSensitive, port: channel.port2, signal }
  parentPort.postMessage(registration, [channel.port2])
  port.unref()
}

/** True when `bytes` span their whole buffer, which can then be transferred. */
export function ownsBuffer (bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
}

type RunMessage = Extract<ToWorker, { t: 'run' }>
let execute: ((task: Task) => Promise<TaskResult>) | undefined
// 'run' messages taken off the port while this thread was blocked in asyncToSync.
const deferred: RunMessage[] = []

/** Serves the calls the main thread sends straight over the bridge port (thread-sensitive workers). */
export function serveTasks (run: (task: Task) => Promise<TaskResult>): void {
  if (port === undefined) return
  execute = run
  port.on('message', (message: ToWorker) => {
    if (message.t === 'run') serveRun(message)
    else if (message.t === 'task') runNested(message)
    // A result only comes while this thread is blocked waiting for it (taken there); keep a stray one for its waiter.
    else early.set(message.id, message)
  })
}

function serveRun (message: RunMessage): void {
  // execute() never rejects: a failing call comes back as its packed error.
  ;(execute as (task: Task) => Promise<TaskResult>)(message.task).then((r) => {
    const transfer = r instanceof Uint8Array && ownsBuffer(r) ? [r.buffer as ArrayBuffer] : undefined
    ;(port as MessagePort).postMessage({ t: 'ran', id: message.id, r } satisfies ToMain, transfer)
  }, () => {})
}

function serveDeferred (): void {
  for (let message = deferred.shift(); message !== undefined; message = deferred.shift()) serveRun(message)
}

export function isBridgeWorker (): boolean {
  return port !== undefined
}

/** Runs an async export on the main event loop and blocks this thread until it settles. */
export function callMainSync (href: string, name: string, args: unknown[]): unknown {
  const bridge = port as MessagePort
  const id = ++sequence
  bridge.postMessage({ t: 'call', id, u: href, n: name, a: pack(args) } satisfies ToMain)
  for (;;) {
    const stashed = early.get(id)
    const message = stashed ?? next()
    if (stashed !== undefined) early.delete(id)
    if (message.t === 'task') {
      runNested(message)
      continue
    }
    if (message.t === 'run') {
      // Not expected (a slot runs one call at a time), but never lost: served once this thread is free.
      if (deferred.push(message) === 1) setImmediate(serveDeferred)
      continue
    }
    if (message.id !== id) {
      // An outer call's result, arrived while this inner one waits.
      early.set(message.id, message)
      continue
    }
    if (message.ok) return unpack(message.v)
    throw unpackError(message.e)
  }
}

function next (): ToWorker {
  const bridge = port as MessagePort
  const flag = signal as Int32Array
  for (;;) {
    const entry = receiveMessageOnPort(bridge)
    if (entry !== undefined) return entry.message as ToWorker
    Atomics.wait(flag, 0, 0)
    Atomics.store(flag, 0, 0)
  }
}

// A thread-sensitive call made by the async code this thread is waiting on:
// it runs here, now, or it would wait behind this very thread forever.
function runNested (task: Extract<ToWorker, { t: 'task' }>): void {
  const bridge = port as MessagePort
  let reply: ToMain
  try {
    const fn = loadExportSync(task.u, task.n)
    checkSync(fn, task.n, 'syncToAsync()')
    const value = fn(...unpackArgs(task.a))
    checkNotThenable(value, task.n, 'syncToAsync()')
    reply = { t: 'done', id: task.id, ok: true, v: pack(value) }
  } catch (error) {
    reply = { t: 'done', id: task.id, ok: false, e: packError(error) }
  }
  bridge.postMessage(reply)
}

// Sync views that logged and have not returned yet.
const logged = new Set<number>()

/** A sync view returned: true when it logged, the main thread then waits for this 'end' to let the request go. */
export function endView (token: number): boolean {
  if (port === undefined || !logged.delete(token)) return false
  port.postMessage({ t: 'end', token } satisfies ToMain)
  return true
}

/** Forwards a log line to the main thread's logger (fire and forget). */
export function logToMain (level: Extract<ToMain, { t: 'log' }>['level'], token: number, msg: string, obj: unknown): void {
  if (port === undefined) return
  logged.add(token)
  let safe: unknown
  try {
    safe = obj === undefined ? undefined : unpack(pack(obj))
  } catch {
    safe = { note: 'log object could not cross threads' }
  }
  port.postMessage({ t: 'log', level, token, msg, obj: safe } satisfies ToMain)
}
