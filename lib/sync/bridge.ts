import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { describe } from '../describe.js'
import { ERR_NOT_CLONEABLE, ERR_SYNC_ABORTED, ERR_SYNC_BRIDGE_CLOSED, ERR_SYNC_REQUEST_FINISHED, ERR_SYNC_WORKER_EXITED } from '../errors.js'
import { Queue } from '../waiting.js'
import type { HttpRequest } from '../http/request.js'
import { kClientGone } from '../symbols.js'
import type { MessagePort } from 'node:worker_threads'
import { SyncContext, currentContext, enableContexts, runInContext } from './context.js'
import { loadExport } from './modules.js'
import { CANCEL_SLOTS, REVERSE_HREF, Result, type Registration, type Task, type ToMain, type ToWorker } from './protocol.js'
import { pack, packArgs, packError, unpack, unpackError, type PackedArgs, type PackedError } from './serialize.js'

export interface SyncOptions {
  /** Threads of the pool for `threadSensitive: false` calls and sync views, and the most thread-sensitive workers contexts spread over. Default: the number of CPUs. */
  maxThreads?: number
  /** Ms an idle pool thread lives (thread-sensitive ones never die idle). Default 10000. */
  idleTimeout?: number
  /** With `debug`, warn when a view or middleware blocks the event loop this long (ms). Default 100. */
  blockingWarnMs?: number
}

interface Channel {
  port: MessagePort
  signal: Int32Array
  /** Where the main thread marks a shipped call as aborted (the worker then skips it). */
  cancel: Int32Array
  nested: Map<number, { resolve: (value: unknown) => void, reject: (error: unknown) => void }>
  /** asyncToSync calls this worker is blocked on (its thread-sensitive calls run on it meanwhile). */
  waiting: number
  /** Calls shipped to the worker, in order: their results come back in that order. */
  readonly shipped: Queue<Call>
  slot: Slot | undefined
}

/** A worker of the bridge: a thread-sensitive one (contexts pinned to it) or one of the pool. */
interface Slot {
  readonly threadSensitive: boolean
  /** A pool of this one worker: piscina starts it and nothing else (calls go over the port). */
  pool: Piscina | undefined
  /** Its worker's port once registered. */
  channel: Channel | undefined
  /** Calls waiting for a thread-sensitive worker (pool workers take from the bridge's queue). */
  readonly queue: Queue<Call>
  closed: boolean
  /** A pool worker's idle timer. */
  idle: NodeJS.Timeout | undefined
}

interface Call {
  readonly task: Task
  /** The arguments as given, to name the one that cannot cross. */
  readonly args: unknown[]
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
  readonly signal: AbortSignal | undefined
  /** A sync view's request: its reverse() and logger serve the worker while the call runs. */
  readonly request: ViewRequest | undefined
  onAbort: (() => void) | undefined
  /** Settled already (aborted, or failed to ship): a result that still comes is dropped. */
  done: boolean
  /** The worker it was shipped to. */
  channel: Channel | undefined
}

/** What a sync view's call keeps of its request. */
export type ViewRequest = Pick<HttpRequest, 'reverse' | 'fastify' | typeof kClientGone>

// The worker script sits beside this module (worker.js in dist, worker.ts in a TS loader).
const WORKER = fileURLToPath(new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

let ids = 0
// Call ids stay int32 (they are written to the workers' Int32Array cancel marks).
const nextId = (): number => (ids = ids === 0x7fffffff ? 1 : ids + 1)

/**
 * The process-wide bridge: thread-sensitive workers (one per slot; calls of a
 * slot run one at a time, in call order) and a pool for the rest. Slot 0 serves
 * calls made outside any context; contexts are pinned to the least busy slot,
 * up to `maxThreads` slots. Calls travel over each worker's own port, several
 * per message when they queue (one wake-up of each thread for many calls).
 * Held by each app while registered; the threads end when the last holder
 * lets go or on closeSyncBridge(); a later call starts fresh ones.
 */
class Bridge {
  // At least 2 threads: a process limited to one CPU (taskset, a small container) still runs two sync views at once.
  options: Required<Pick<SyncOptions, 'maxThreads' | 'idleTimeout'>> = { maxThreads: Math.max(2, availableParallelism()), idleTimeout: 10_000 }
  #slots: Slot[] = []
  #pooled: Slot[] = []
  /** Pool workers of an earlier size: they finish their calls, then end. */
  readonly #retiring = new Set<Slot>()
  readonly #poolQueue = new Queue<Call>()
  readonly #channels = new Set<Channel>()
  #holds = 0
  #cursor = 0
  /** Calls not settled by their worker yet: while there are some, a ref'd timer keeps the process alive. */
  #pending = 0
  #alive: NodeJS.Timeout | undefined

  /**
   * Sizes the pool and the number of thread-sensitive slots. On a running pool
   * it takes effect at once: its workers finish the calls they have and end,
   * new calls start new ones; new contexts use the new number of slots.
   */
  configure (options: SyncOptions): void {
    const maxThreads = options.maxThreads ?? this.options.maxThreads
    const idleTimeout = options.idleTimeout ?? this.options.idleTimeout
    if (maxThreads === this.options.maxThreads && idleTimeout === this.options.idleTimeout) return
    this.options = { maxThreads, idleTimeout }
    const old = this.#pooled
    this.#pooled = []
    for (const slot of old) {
      this.#retiring.add(slot)
      if (!busy(slot)) this.#end(slot)
    }
    // Calls that were waiting for the old workers get new ones.
    this.#grow()
  }

  /** An app's hold: the threads live until every holder has released (or closeSyncBridge()). */
  hold (): () => Promise<void> {
    this.#holds++
    let released = false
    return async () => {
      if (released) return
      released = true
      if (--this.#holds === 0) await this.close()
    }
  }

  /**
   * Runs an export on a worker. `token` and `request` mark a sync view's call,
   * whose arguments come packed already (syncView knows which parts to look at).
   */
  call (threadSensitive: boolean, href: string, name: string, args: unknown[] | PackedArgs, signal: AbortSignal | undefined, token?: number, request?: ViewRequest): Promise<unknown> {
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    let a: PackedArgs
    try {
      a = token === undefined ? packArgs(args as unknown[]) : args
    } catch (error) {
      return Promise.reject(notCloneable(name, args as unknown[], error))
    }
    let slot: Slot | undefined
    if (threadSensitive) {
      const context = currentContext()
      if (context === undefined) {
        slot = this.#slot(0)
      } else {
        const waiting = context.waiting as Channel | undefined
        if (waiting !== undefined && waiting.waiting > 0 && token === undefined) return this.#nested(waiting, href, name, a)
        slot = context.slot as Slot | undefined
        if (slot === undefined || slot.closed) context.slot = slot = this.#pickSlot()
      }
    }
    const task: Task = token === undefined ? { id: nextId(), u: href, n: name, a } : { id: nextId(), u: href, n: name, a, view: true, k: token }
    return new Promise((resolve, reject) => {
      const call: Call = { task, args: args as unknown[], resolve, reject, signal, request, onAbort: undefined, done: false, channel: undefined }
      if (signal !== undefined) {
        call.onAbort = () => { this.#abort(call) }
        signal.addEventListener('abort', call.onAbort, { once: true })
      }
      if (++this.#pending === 1) this.#keepAlive(true)
      if (slot === undefined) this.#toPool(call)
      else this.#toSlot(slot, call)
    })
  }

  // A thread-sensitive slot runs one batch at a time: a call waits while one is out.
  #toSlot (slot: Slot, call: Call): void {
    const channel = slot.channel
    if (channel !== undefined && channel.shipped.size === 0 && slot.queue.size === 0) {
      this.#ship(channel, [call])
      return
    }
    slot.queue.push(call)
    if (slot.pool === undefined) this.#start(slot)
  }

  // To an idle pool worker, else the pool's queue (and one more worker while the limit allows).
  #toPool (call: Call): void {
    for (const slot of this.#pooled) {
      const channel = slot.channel
      if (channel !== undefined && channel.shipped.size === 0) {
        this.#ship(channel, [call])
        return
      }
    }
    this.#poolQueue.push(call)
    this.#grow()
  }

  // One more pool worker for each queued call beyond those starting, up to the limit.
  #grow (): void {
    let starting = 0
    for (const slot of this.#pooled) if (slot.channel === undefined) starting++
    while (this.#pooled.length < Math.max(1, this.options.maxThreads) && this.#poolQueue.size > starting) {
      const slot = newSlot(false)
      this.#pooled.push(slot)
      this.#start(slot)
      starting++
    }
  }

  #ship (channel: Channel, calls: Call[]): void {
    const tasks: Task[] = []
    const shipped: Call[] = []
    for (const call of calls) {
      // A sync view's client that left while its call waited: dropped, as request.signal would drop it.
      if (!call.done && call.request?.[kClientGone]() === true) {
        call.done = true
        call.reject(new DOMException('Client disconnected', 'AbortError'))
      }
      if (call.done) {
        this.#release(call)
        continue
      }
      tasks.push(call.task)
      shipped.push(call)
    }
    if (tasks.length === 0) return
    try {
      channel.port.postMessage({ t: 'batch', c: tasks } satisfies ToWorker)
    } catch {
      // Something the walk let through that the clone refused: each call alone, the culprit rejected.
      for (const call of shipped) {
        try {
          channel.port.postMessage({ t: 'batch', c: [call.task] } satisfies ToWorker)
        } catch (error) {
          call.done = true
          call.reject(notCloneable(call.task.n, call.args, error))
          this.#release(call)
          continue
        }
        call.channel = channel
        channel.shipped.push(call)
      }
      wake(channel)
      return
    }
    for (const call of shipped) {
      call.channel = channel
      channel.shipped.push(call)
    }
    wake(channel)
  }

  /** The worker answered (or skipped) calls, in the order they were shipped. */
  #ran (channel: Channel, results: unknown[]): void {
    for (let i = 0; i < results.length; i += 3) {
      const call = channel.shipped.shift() as Call
      this.#settle(call, results[i + 1] as number, results[i + 2])
    }
    if (channel.shipped.size === 0) this.#next(channel)
  }

  #settle (call: Call, tag: number, payload: unknown): void {
    this.#release(call)
    if (call.done) return
    call.done = true
    if (tag === Result.VALUE) call.resolve(payload)
    else if (tag === Result.PACKED) call.resolve(unpack(payload as Uint8Array))
    else if (tag === Result.ERROR) call.reject(unpackError(payload as PackedError))
  }

  // A worker with nothing out: the next calls for it, or idle.
  #next (channel: Channel): void {
    const slot = channel.slot
    if (slot === undefined || slot.closed || slot.channel !== channel) return
    if (slot.threadSensitive) {
      if (slot.queue.size > 0) this.#ship(channel, take(slot.queue, CANCEL_SLOTS))
      return
    }
    if (this.#retiring.has(slot)) {
      this.#end(slot)
      return
    }
    const queued = this.#poolQueue.size
    if (queued > 0) {
      // Its share of the queue: the other workers take theirs as they come free.
      this.#ship(channel, take(this.#poolQueue, Math.min(CANCEL_SLOTS, Math.ceil(queued / this.#pooled.length))))
      return
    }
    if (slot.idle === undefined) slot.idle = setTimeout(() => { this.#reap(slot) }, this.options.idleTimeout).unref()
    else slot.idle.refresh()
  }

  #reap (slot: Slot): void {
    if (slot.closed || busy(slot)) return
    const index = this.#pooled.indexOf(slot)
    if (index !== -1) this.#pooled.splice(index, 1)
    this.#end(slot)
  }

  #end (slot: Slot): void {
    this.#retiring.delete(slot)
    slot.closed = true
    if (slot.idle !== undefined) clearTimeout(slot.idle)
    slot.pool?.destroy().catch(() => {})
  }

  #release (call: Call): void {
    if (call.onAbort !== undefined) call.signal?.removeEventListener('abort', call.onAbort)
    call.onAbort = undefined
    if (--this.#pending === 0) this.#keepAlive(false)
  }

  // Dropped if still queued (skipped when its turn comes), detached if running: its worker is never interrupted.
  #abort (call: Call): void {
    if (call.done) return
    call.done = true
    call.reject(abortError(call.signal as AbortSignal))
    const channel = call.channel
    if (channel !== undefined) Atomics.store(channel.cancel, call.task.id % CANCEL_SLOTS, call.task.id)
  }

  #keepAlive (on: boolean): void {
    if (on) (this.#alive ??= setInterval(() => {}, 0x7fffffff)).ref()
    else this.#alive?.unref()
  }

  #slot (index: number): Slot {
    let slot = this.#slots[index]
    if (slot === undefined) {
      slot = newSlot(true)
      this.#slots[index] = slot
    }
    return slot
  }

  // The least busy slot (ties taken in turn, so idle long-lived contexts
  // spread too); a new one when all are busy and the limit allows.
  #pickSlot (): Slot {
    const limit = Math.max(1, this.options.maxThreads)
    const count = Math.max(1, Math.min(this.#slots.length, limit))
    const start = this.#cursor++ % count
    let best = this.#slot(start)
    let bestLoad = load(best)
    for (let i = 1; i < count && bestLoad > 0; i++) {
      const slot = this.#slot((start + i) % count)
      const l = load(slot)
      if (l < bestLoad) {
        best = slot
        bestLoad = l
      }
    }
    if (bestLoad > 0 && this.#slots.length < limit) return this.#slot(this.#slots.length)
    return best
  }

  // Runs a thread-sensitive call on the worker that is blocked waiting for us.
  #nested (channel: Channel, href: string, name: string, a: PackedArgs): Promise<unknown> {
    const id = nextId()
    return new Promise((resolve, reject) => {
      channel.nested.set(id, { resolve, reject })
      this.#post(channel, { t: 'task', id, u: href, n: name, a })
    })
  }

  #post (channel: Channel, message: ToWorker): void {
    channel.port.postMessage(message)
    wake(channel)
  }

  #start (slot: Slot): void {
    const pool = new Piscina({
      filename: WORKER,
      minThreads: 1,
      maxThreads: 1,
      // The bridge ends idle pool workers itself (piscina sees no task of its own and would think them all idle).
      idleTimeout: Infinity,
      // piscina's own wait for its tasks stays off: the worker parks on the bridge's signal (thread.ts).
      atomics: 'disabled',
      workerData: { threadSensitive: slot.threadSensitive }
    })
    slot.pool = pool
    pool.on('message', (message: unknown) => {
      if ((message as Registration | null)?.bridge !== 'fastify-async-views') return
      const channel = this.#register(message as Registration)
      if (slot.closed || slot.pool !== pool) return
      slot.channel = channel
      channel.slot = slot
      this.#next(channel)
    })
    // A crashed worker closes its port (handled there); piscina's own report adds nothing.
    pool.on('error', () => {})
  }

  #register (registration: Registration): Channel {
    const channel: Channel = { port: registration.port, signal: registration.signal, cancel: registration.cancel, nested: new Map(), waiting: 0, shipped: new Queue(), slot: undefined }
    this.#channels.add(channel)
    channel.port.on('message', (message: ToMain) => { this.#onMessage(channel, message) })
    channel.port.on('close', () => { this.#lost(channel) })
    channel.port.unref()
    return channel
  }

  // Its worker is gone (crashed, or ended by us): its calls reject, its slot gets a fresh worker when calls wait.
  #lost (channel: Channel): void {
    this.#channels.delete(channel)
    const exited = new ERR_SYNC_WORKER_EXITED('The worker thread exited')
    for (let call = channel.shipped.shift(); call !== undefined; call = channel.shipped.shift()) {
      this.#release(call)
      if (call.done) continue
      call.done = true
      call.reject(exited)
    }
    for (const { reject } of channel.nested.values()) reject(exited)
    channel.nested.clear()
    const slot = channel.slot
    if (slot === undefined || slot.channel !== channel) return
    slot.channel = undefined
    slot.pool?.destroy().catch(() => {})
    slot.pool = undefined
    if (slot.closed) return
    if (slot.threadSensitive) {
      if (slot.queue.size > 0) this.#start(slot)
      return
    }
    slot.closed = true
    const index = this.#pooled.indexOf(slot)
    if (index !== -1) this.#pooled.splice(index, 1)
    this.#retiring.delete(slot)
    this.#grow()
  }

  #onMessage (channel: Channel, message: ToMain): void {
    if (message.t === 'ran') {
      this.#ran(channel, message.r)
      return
    }
    if (message.t === 'done') {
      const pending = channel.nested.get(message.id)
      channel.nested.delete(message.id)
      if (pending === undefined) return
      if (message.ok) pending.resolve(unpack(message.v))
      else pending.reject(unpackError(message.e))
      return
    }
    if (message.t === 'log') {
      // From the call running on that worker (the worker sends the results before it first): its request's logger.
      const call = channel.shipped.peek()
      if (call?.request === undefined || call.task.k !== message.token) return
      try {
        call.request.fastify.log[message.level]({ ...(message.obj as object), fromWorker: true }, message.msg)
      } catch {}
      return
    }
    // t === 'call': asyncToSync from a worker; run it here, in the async world,
    // in a context that sends its thread-sensitive calls back to that worker.
    enableContexts()
    channel.waiting++
    runInContext(() => this.#callAsync(channel, message.u, message.n, unpack<unknown[]>(message.a)), new SyncContext(channel)).then(
      (value) => {
        channel.waiting--
        let v: Uint8Array
        try {
          v = pack(value)
        } catch (error) {
          this.#post(channel, { t: 'result', id: message.id, ok: false, e: packError(new ERR_NOT_CLONEABLE(`The result of ${message.n}() cannot be sent to the worker thread: ${(error as Error).message}`)) })
          return
        }
        this.#post(channel, { t: 'result', id: message.id, ok: true, v })
      },
      (error) => {
        channel.waiting--
        this.#post(channel, { t: 'result', id: message.id, ok: false, e: packError(error) })
      }
    )
  }

  async #callAsync (channel: Channel, href: string, name: string, args: unknown[]): Promise<unknown> {
    if (href === REVERSE_HREF) {
      // The view running on that worker, if it is the one asking.
      const call = channel.shipped.peek()
      if (call?.request === undefined || call.task.k !== Number(name)) throw new ERR_SYNC_REQUEST_FINISHED('request.reverse() called after the sync view returned')
      return call.request.reverse(args[0] as string, args[1] as Parameters<HttpRequest['reverse']>[1])
    }
    const fn = await loadExport(href, name)
    return await fn(...args)
  }

  /** Terminates the workers, whoever holds them; calls still queued or running reject. A later call starts fresh workers. */
  async close (): Promise<void> {
    const closed = new ERR_SYNC_BRIDGE_CLOSED('The sync bridge was closed')
    const fail = (call: Call): void => {
      this.#release(call)
      if (call.done) return
      call.done = true
      call.reject(closed)
    }
    const slots = [...this.#slots, ...this.#pooled, ...this.#retiring]
    this.#slots = []
    this.#pooled = []
    this.#retiring.clear()
    const pools: Piscina[] = []
    for (const slot of slots) {
      slot.closed = true
      if (slot.idle !== undefined) clearTimeout(slot.idle)
      for (let call = slot.queue.shift(); call !== undefined; call = slot.queue.shift()) fail(call)
      if (slot.pool !== undefined) pools.push(slot.pool)
      slot.pool = undefined
    }
    for (let call = this.#poolQueue.shift(); call !== undefined; call = this.#poolQueue.shift()) fail(call)
    for (const channel of this.#channels) {
      for (let call = channel.shipped.shift(); call !== undefined; call = channel.shipped.shift()) fail(call)
      channel.port.close()
    }
    this.#channels.clear()
    if (this.#alive !== undefined) clearInterval(this.#alive)
    this.#alive = undefined
    this.#pending = 0
    await Promise.all(pools.map(async (pool) => { await pool.destroy() }))
  }
}

// The worker sleeps in Atomics.wait when idle or blocked in asyncToSync: a message is there.
function wake (channel: Channel): void {
  Atomics.store(channel.signal, 0, 1)
  Atomics.notify(channel.signal, 0)
}

function newSlot (threadSensitive: boolean): Slot {
  return { threadSensitive, pool: undefined, channel: undefined, queue: new Queue(), closed: false, idle: undefined }
}

function busy (slot: Slot): boolean {
  return (slot.channel?.shipped.size ?? 0) > 0
}

function load (slot: Slot): number {
  return slot.queue.size + (slot.channel?.shipped.size ?? 0)
}

function take (queue: Queue<Call>, most: number): Call[] {
  const calls: Call[] = []
  for (let call = queue.shift(); call !== undefined; call = calls.length < most ? queue.shift() : undefined) calls.push(call)
  return calls
}

function abortError (signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'AbortError') return reason
  const error = new ERR_SYNC_ABORTED('The sync call was aborted', { cause: reason })
  error.name = 'AbortError'
  return error
}

function notCloneable (name: string, args: unknown[], cause: unknown): Error {
  for (let i = 0; i < args.length; i++) {
    try {
      pack(args[i])
    } catch (error) {
      return new ERR_NOT_CLONEABLE(`Argument ${i + 1} of ${name}() cannot be sent to a worker thread (${describe(args[i])}): ${(error as Error).message}`, { cause: error })
    }
  }
  return new ERR_NOT_CLONEABLE(`The arguments of ${name}() cannot be sent to a worker thread: ${(cause as Error)?.message}`, { cause })
}

export const bridge = new Bridge()

/** Terminates the bridge's worker threads now, whatever app still holds them (the last app's close() does it too). */
export async function closeSyncBridge (): Promise<void> {
  await bridge.close()
}
