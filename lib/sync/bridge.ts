import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { describe } from '../describe.js'
import { ERR_NOT_CLONEABLE, ERR_SYNC_BRIDGE_CLOSED, ERR_SYNC_REQUEST_FINISHED, ERR_SYNC_WORKER_EXITED } from '../errors.js'
import type { MessagePort } from 'node:worker_threads'
import { SyncContext, currentContext, enableContexts, runInContext } from './context.js'
import { Lane } from './lane.js'
import { loadExport } from './modules.js'
import { REVERSE_HREF, type Outcome, type Registration, type Task, type TaskResult, type ToMain, type ToWorker } from './protocol.js'
import { pack, packArgs, packError, unpack, unpackError, type PackedArgs } from './serialize.js'

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
  nested: Map<number, { resolve: (value: unknown) => void, reject: (error: unknown) => void }>
  /** asyncToSync calls this worker is blocked on (its thread-sensitive calls run on it meanwhile). */
  waiting: number
  /** Calls sent straight over the port ('run'), by id. */
  runs: Map<number, { resolve: (value: TaskResult) => void, reject: (error: unknown) => void }>
}

/** One thread-sensitive worker: a context pinned to it runs all its thread-sensitive calls there. */
interface Slot {
  pool: Piscina | undefined
  /** Its worker's port once registered: calls then go straight over it, not through piscina. */
  channel: Channel | undefined
  readonly lane: Lane
  closed: boolean
}

type Logger = { [K in 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal']: (obj: unknown, msg?: string) => void }

/** A request a sync view serves: `request.reverse()` and the logger, reached from the worker by token. */
export interface LiveRequest { reverse: (name: string, options?: unknown) => string, log: Logger }

// The worker script sits beside this module (worker.js in dist, worker.ts in a TS loader).
const WORKER = fileURLToPath(new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

let nestedIds = 0

/**
 * The process-wide bridge: thread-sensitive workers (one per slot; calls of a
 * slot run one at a time, in call order) and a pool for the rest. Slot 0 serves
 * calls made outside any context; contexts are pinned to the least busy slot,
 * up to `maxThreads` slots. Held by each app while registered; the threads end
 * when the last holder lets go or on closeSyncBridge(); a later call starts fresh ones.
 */
class Bridge {
  // At least 2 threads: a process limited to one CPU (taskset, a small container) still runs two sync views at once.
  options: Required<Pick<SyncOptions, 'maxThreads' | 'idleTimeout'>> = { maxThreads: Math.max(2, availableParallelism()), idleTimeout: 10_000 }
  #slots: Slot[] = []
  #pool: Piscina | undefined
  readonly #poolLane = new Lane(this.options.maxThreads)
  readonly #channels = new Set<Channel>()
  #holds = 0
  #cursor = 0
  /** Requests a sync view is serving, by token, for `request.reverse()` and logs from the worker. */
  readonly liveRequests = new Map<number, LiveRequest>()

  /**
   * Sizes the pool and the number of thread-sensitive slots. On a running pool
   * it takes effect at once: the pool is replaced (its running calls finish on
   * the old threads), new contexts use the new number of slots.
   */
  configure (options: SyncOptions): void {
    const maxThreads = options.maxThreads ?? this.options.maxThreads
    const idleTimeout = options.idleTimeout ?? this.options.idleTimeout
    if (maxThreads === this.options.maxThreads && idleTimeout === this.options.idleTimeout) return
    this.options = { maxThreads, idleTimeout }
    this.#poolLane.limit = maxThreads
    const old = this.#pool
    if (old !== undefined) {
      this.#pool = undefined
      // close() (not destroy) lets the calls it runs finish.
      old.close().catch(() => {})
    }
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

  /** Runs an export on a worker; `token` marks a sync view's call (its request in liveRequests). */
  call (threadSensitive: boolean, href: string, name: string, args: unknown[], signal: AbortSignal | undefined, token?: number): Promise<unknown> {
    let a: PackedArgs
    try {
      a = packArgs(args)
    } catch (error) {
      return Promise.reject(notCloneable(name, args, error))
    }
    const task: Task = token === undefined ? { u: href, n: name, a } : { u: href, n: name, a, view: true, k: token }
    if (!threadSensitive) return this.#poolLane.run(() => this.#run(this.#anyPool().run(task, transfer(task.a)), task), signal)
    const context = currentContext()
    if (context === undefined) return this.#runOn(this.#slot(0), task, signal)
    const waiting = context.waiting as Channel | undefined
    if (waiting !== undefined && waiting.waiting > 0 && token === undefined) return this.#nested(waiting, href, name, a)
    let slot = context.slot as Slot | undefined
    if (slot === undefined || slot.closed) context.slot = slot = this.#pickSlot()
    return this.#runOn(slot, task, signal)
  }

  #runOn (slot: Slot, task: Task, signal: AbortSignal | undefined): Promise<unknown> {
    return slot.lane.run(() => {
      slot.pool ??= this.#create(slot)
      const channel = slot.channel
      return this.#run(channel === undefined ? slot.pool.run(task, transfer(task.a)) : this.#send(channel, task), task)
    }, signal)
  }

  #slot (index: number): Slot {
    let slot = this.#slots[index]
    if (slot === undefined) {
      slot = { pool: undefined, channel: undefined, lane: new Lane(1), closed: false }
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
    for (let i = 1; i < count && best.lane.load > 0; i++) {
      const slot = this.#slot((start + i) % count)
      if (slot.lane.load < best.lane.load) best = slot
    }
    if (best.lane.load > 0 && this.#slots.length < limit) return this.#slot(this.#slots.length)
    return best
  }

  async #run (sent: Promise<TaskResult>, task: Task): Promise<unknown> {
    let result: TaskResult
    try {
      result = await sent
    } catch (error) {
      if (task.k !== undefined) this.liveRequests.delete(task.k)
      throw error
    }
    const outcome = result instanceof Uint8Array ? unpack<Outcome>(result) : result
    // A view that logged keeps its request until the worker's 'end' (after its last line).
    if (task.k !== undefined && (outcome as { l?: true }).l !== true) this.liveRequests.delete(task.k)
    if (outcome.ok) return outcome.v
    throw unpackError(outcome.e)
  }

  // Runs a thread-sensitive call on the worker that is blocked waiting for us.
  #nested (channel: Channel, href: string, name: string, a: PackedArgs): Promise<unknown> {
    const id = ++nestedIds
    return new Promise((resolve, reject) => {
      channel.nested.set(id, { resolve, reject })
      this.#post(channel, { t: 'task', id, u: href, n: name, a })
    })
  }

  // A thread-sensitive slot runs one call at a time on its one worker: a
  // message on the port it registered is all the call needs.
  #send (channel: Channel, task: Task): Promise<TaskResult> {
    const id = ++nestedIds
    return new Promise((resolve, reject) => {
      // piscina unrefs a worker it thinks idle: the port keeps the process alive while a call is out.
      if (channel.runs.size === 0) channel.port.ref()
      channel.runs.set(id, { resolve, reject })
      const t = transfer(task.a)
      channel.port.postMessage({ t: 'run', id, task } satisfies ToWorker, t?.transferList)
    })
  }

  #post (channel: Channel, message: ToWorker): void {
    channel.port.postMessage(message)
    Atomics.store(channel.signal, 0, 1)
    Atomics.notify(channel.signal, 0)
  }

  #anyPool (): Piscina {
    this.#pool ??= this.#create(undefined)
    return this.#pool
  }

  /** A pool of one worker for a thread-sensitive slot, or the shared pool (no slot). */
  #create (slot: Slot | undefined): Piscina {
    const threadSensitive = slot !== undefined
    const pool = new Piscina({
      filename: WORKER,
      minThreads: threadSensitive ? 1 : 0,
      maxThreads: threadSensitive ? 1 : this.options.maxThreads,
      // A thread-sensitive worker holds state (a connection): never reaped while idle.
      idleTimeout: threadSensitive ? Infinity : this.options.idleTimeout,
      concurrentTasksPerWorker: 1,
      stricterFIFO: true,
      // Its idle worker must keep its event loop turning to hear calls on the bridge port (not sleep in Atomics.wait).
      ...(threadSensitive ? { atomics: 'disabled' as const } : {}),
      workerData: { threadSensitive }
    })
    pool.on('message', (message: unknown) => {
      if ((message as Registration | null)?.bridge !== 'fastify-async-views') return
      const channel = this.#register(message as Registration)
      if (slot !== undefined && !slot.closed && slot.pool === pool) slot.channel = channel
    })
    // A crashed worker rejects its call (piscina) and is replaced; nothing else to do.
    pool.on('error', () => {})
    return pool
  }

  #register (registration: Registration): Channel {
    const channel: Channel = { port: registration.port, signal: registration.signal, nested: new Map(), waiting: 0, runs: new Map() }
    this.#channels.add(channel)
    channel.port.on('message', (message: ToMain) => { this.#onMessage(channel, message) })
    channel.port.on('close', () => {
      this.#channels.delete(channel)
      for (const slot of this.#slots) {
        if (slot.channel !== channel) continue
        // Its worker is gone (piscina may not know yet and would hand it the next call): a fresh pool.
        slot.channel = undefined
        slot.pool?.destroy().catch(() => {})
        slot.pool = undefined
      }
      const exited = new ERR_SYNC_WORKER_EXITED('The worker thread exited')
      for (const { reject } of channel.nested.values()) reject(exited)
      for (const { reject } of channel.runs.values()) reject(exited)
    })
    channel.port.unref()
    return channel
  }

  #onMessage (channel: Channel, message: ToMain): void {
    if (message.t === 'ran') {
      const pending = channel.runs.get(message.id)
      channel.runs.delete(message.id)
      if (channel.runs.size === 0) channel.port.unref()
      pending?.resolve(message.r)
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
      const log = this.liveRequests.get(message.token)?.log
      try {
        log?.[message.level]({ ...(message.obj as object), fromWorker: true }, message.msg)
      } catch {}
      return
    }
    if (message.t === 'end') {
      // The view's last log line came before this (one port, in order).
      this.liveRequests.delete(message.token)
      return
    }
    // t === 'call': asyncToSync from a worker; run it here, in the async world,
    // in a context that sends its thread-sensitive calls back to that worker.
    enableContexts()
    channel.waiting++
    runInContext(() => this.#callAsync(message.u, message.n, unpack<unknown[]>(message.a)), new SyncContext(channel)).then(
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

  async #callAsync (href: string, name: string, args: unknown[]): Promise<unknown> {
    if (href === REVERSE_HREF) {
      const live = this.liveRequests.get(Number(name))
      if (live === undefined) throw new ERR_SYNC_REQUEST_FINISHED('request.reverse() called after the sync view returned')
      return live.reverse(args[0] as string, args[1])
    }
    const fn = await loadExport(href, name)
    return await fn(...args)
  }

  /** Terminates the workers, whoever holds them; calls still queued reject. A later call starts fresh workers. */
  async close (): Promise<void> {
    const closed = new ERR_SYNC_BRIDGE_CLOSED('The sync bridge was closed')
    const pools: Piscina[] = []
    for (const slot of this.#slots) {
      slot.closed = true
      slot.lane.clear(closed)
      if (slot.pool !== undefined) pools.push(slot.pool)
    }
    this.#slots = []
    this.#poolLane.clear(closed)
    if (this.#pool !== undefined) pools.push(this.#pool)
    this.#pool = undefined
    for (const channel of this.#channels) channel.port.close()
    this.#channels.clear()
    await Promise.all(pools.map(async (pool) => { await pool.destroy() }))
  }
}

function transfer (bytes: PackedArgs): { transferList: ArrayBuffer[] } | undefined {
  if (Array.isArray(bytes)) return undefined
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.byteLength > 4096) {
    return { transferList: [bytes.buffer as ArrayBuffer] }
  }
  return undefined
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
