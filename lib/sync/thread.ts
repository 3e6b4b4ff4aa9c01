import { MessageChannel, isMainThread, parentPort, receiveMessageOnPort, threadId, type MessagePort } from 'node:worker_threads'
import { ERR_NOT_CLONEABLE } from '../errors.js'
import { Queue } from '../waiting.js'
import { checkNotThenable, checkSync, loadExportSync } from './modules.js'
import { CANCEL_SLOTS, Result, type Registration, type Task, type ToMain, type ToWorker } from './protocol.js'
import { pack, packError, unpack, unpackArgs, unpackError } from './serialize.js'

// The worker side of the bridge: a port to the main thread and a shared flag
// to sleep on, so asyncToSync can block with Atomics.wait and still run the
// thread-sensitive calls the main thread sends back (asgiref's design).

let port: MessagePort | undefined
let signal: Int32Array | undefined
let cancel: Int32Array | undefined
let sequence = 0
const early = new Map<number, Extract<ToWorker, { t: 'result' }>>()

/** Called once by the bridge's worker script. */
export function registerBridgeWorker (threadSensitive: boolean): void {
  if (isMainThread || parentPort === null || port !== undefined) return
  const channel = new MessageChannel()
  port = channel.port1
  signal = new Int32Array(new SharedArrayBuffer(4))
  cancel = new Int32Array(new SharedArrayBuffer(4 * CANCEL_SLOTS))
  const registration: Registration = { bridge: 'fastify-async-views', threadId, threadSensitive, port: channel.port2, signal, cancel }
  parentPort.postMessage(registration, [channel.port2])
  port.unref()
}

/** A call's outcome: its Result tag and payload; `n` names the call for a result that cannot cross. */
export interface Outcome { tag: number, payload: unknown }
type Execute = (task: Task) => Outcome | Promise<Outcome>

let execute: Execute | undefined
// Calls shipped here, run one at a time in order; results wait in `out` (id, tag, payload...) to go back together.
const tasks = new Queue<Task>()
let out: unknown[] = []
let names: string[] = []
let draining = false
let posted = 0

/** Serves the calls the main thread ships over the bridge port. */
export function serveTasks (run: Execute): void {
  if (port === undefined) return
  execute = run
  // Messages that come while the event loop turns (between parks, during a module's import).
  port.on('message', (message: ToWorker) => {
    handle(message)
    if (!draining) schedulePark()
  })
  schedulePark()
}

function handle (message: ToWorker): void {
  if (message.t === 'batch') take(message.c)
  else if (message.t === 'task') runNested(message)
  // A result only comes while this thread is blocked waiting for it (taken there); keep a stray one for its waiter.
  else early.set(message.id, message)
}

// An idle worker parks in Atomics.wait on its signal (the main thread sets it
// after each batch) rather than in its event loop: a futex wake costs a third
// of a loop's wake-up and message event, and asgiref's threads have no loop
// at all. Every PARK_MS it lets the loop turn once, so timers and I/O a
// module started still run (late by that much at most).
const PARK_MS = 50
let parkScheduled = false

function schedulePark (): void {
  if (parkScheduled) return
  parkScheduled = true
  setImmediate(park)
}

function park (): void {
  parkScheduled = false
  const bridge = port as MessagePort
  const flag = signal as Int32Array
  for (;;) {
    const entry = receiveMessageOnPort(bridge)
    if (entry !== undefined) {
      handle(entry.message as ToWorker)
      // A call awaits its module's import: the loop must turn; drain parks again when it is done.
      if (draining) return
      continue
    }
    if (Atomics.wait(flag, 0, 0, PARK_MS) === 'timed-out') {
      schedulePark()
      return
    }
    Atomics.store(flag, 0, 0)
  }
}

function take (batch: Task[]): void {
  for (const task of batch) tasks.push(task)
  // While a call runs (blocked in asyncToSync, or awaiting its module), the queue waits for it.
  if (!draining) drain()
}

function drain (): void {
  draining = true
  for (let task = tasks.shift(); task !== undefined; task = tasks.shift()) {
    if (Atomics.load(cancel as Int32Array, task.id % CANCEL_SLOTS) === task.id) {
      keep(task, { tag: Result.SKIPPED, payload: undefined })
      continue
    }
    const outcome = (execute as Execute)(task)
    if (outcome instanceof Promise) {
      // Its module is loading: the calls behind it wait (order is kept).
      const current = task
      outcome.then((o) => {
        keep(current, o)
        drain()
        if (!draining) schedulePark()
      }, () => {})
      return
    }
    keep(task, outcome)
    // Results go back when the queue is empty, or every millisecond while a long batch runs.
    if (performance.now() - posted > 1) sendResults()
  }
  draining = false
  sendResults()
}

function resume (): void {
  if (!draining) drain()
  if (!draining) schedulePark()
}

function keep (task: Task, outcome: Outcome): void {
  out.push(task.id, outcome.tag, outcome.payload)
  names.push(task.n)
}

/** Posts the results gathered so far (before blocking in asyncToSync, too). */
function sendResults (): void {
  posted = performance.now()
  if (out.length === 0) return
  const r = out
  const n = names
  out = []
  names = []
  try {
    ;(port as MessagePort).postMessage({ t: 'ran', r } satisfies ToMain)
  } catch {
    // A value the walk let through and the clone refused: serialised one by one, or its error.
    for (let i = 0; i < r.length; i += 3) {
      if (r[i + 1] !== Result.VALUE) continue
      try {
        r[i + 2] = pack(r[i + 2])
        r[i + 1] = Result.PACKED
      } catch (error) {
        r[i + 1] = Result.ERROR
        r[i + 2] = packError(notSendable(n[i / 3], error))
      }
    }
    ;(port as MessagePort).postMessage({ t: 'ran', r } satisfies ToMain)
  }
}

/** The error for a result that cannot go back to the main thread. */
export function notSendable (name: string | undefined, error: unknown): Error {
  return new ERR_NOT_CLONEABLE(`The result of ${name ?? 'the call'}() cannot be sent back from the worker thread: ${(error as Error).message}`)
}

export function isBridgeWorker (): boolean {
  return port !== undefined
}

/** Runs an async export on the main event loop and blocks this thread until it settles. */
export function callMainSync (href: string, name: string, args: unknown[]): unknown {
  const bridge = port as MessagePort
  const id = ++sequence
  // The calls that ran before this one are answered first (the main thread may reclaim the ones behind it).
  sendResults()
  bridge.postMessage({ t: 'call', id, u: href, n: name, a: pack(args) } satisfies ToMain)
  for (;;) {
    const stashed = early.get(id)
    const message = stashed ?? next()
    if (stashed !== undefined) early.delete(id)
    if (message.t === 'task') {
      runNested(message)
      continue
    }
    if (message.t === 'batch') {
      // Calls shipped meanwhile: run after the current one, in order.
      for (const task of message.c) tasks.push(task)
      if (!draining) setImmediate(resume)
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

/** Forwards a log line to the main thread's logger (fire and forget). */
export function logToMain (level: Extract<ToMain, { t: 'log' }>['level'], token: number, msg: string, obj: unknown): void {
  if (port === undefined) return
  // The results of the calls before this view's go first: the main thread finds the view as the worker's running call.
  sendResults()
  let safe: unknown
  try {
    safe = obj === undefined ? undefined : unpack(pack(obj))
  } catch {
    safe = { note: 'log object could not cross threads' }
  }
  port.postMessage({ t: 'log', level, token, msg, obj: safe } satisfies ToMain)
}
