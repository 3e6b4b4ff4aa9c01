import { AsyncLocalStorage } from 'node:async_hooks'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { describe } from '../describe.js'
import { ERR_NOT_CLONEABLE, ERR_SYNC_BRIDGE_CLOSED, ERR_SYNC_REQUEST_FINISHED, ERR_SYNC_WORKER_EXITED } from '../errors.js'
import type { MessagePort } from 'node:worker_threads'
import { Lane } from './lane.js'
import { loadExport } from './modules.js'
import { REVERSE_HREF, type Outcome, type Registration, type Task, type TaskResult, type ToMain, type ToWorker } from './protocol.js'
import { pack, packArgs, packError, unpack, unpackError, type PackedArgs } from './serialize.js'

export interface SyncOptions {
  /** Threads of the pool for `threadSensitive: false` calls and sync views. Default: the number of CPUs. */
  maxThreads?: number
  /** Ms an idle pool thread lives (the thread-sensitive one never dies idle). Default 10000. */
  idleTimeout?: number
  /** With `debug`, warn when a view or middleware blocks the event loop this long (ms). Default 100. */
  blockingWarnMs?: number
}

interface Channel {
  port: MessagePort
  signal: Int32Array
  threadSensitive: boolean
  nested: Map<number, { resolve: (value: unknown) => void, reject: (error: unknown) => void }>
}

type Logger = { [K in 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal']: (obj: unknown, msg?: string) => void }

// The worker script sits beside this module (worker.js in dist, worker.ts in a TS loader).
const WORKER = fileURLToPath(new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

let nestedIds = 0

/**
 * The process-wide bridge: one thread-sensitive worker (calls run one at a
 * time, in call order) and a pool for the rest. Created on first use, closed
 * by `app.close()` or closeSyncBridge(); a later call starts fresh workers.
 */
class Bridge {
  // At least 2 threads: a process limited to one CPU (taskset, a small container) still runs two sync views at once.
  options: Required<Pick<SyncOptions, 'maxThreads' | 'idleTimeout'>> = { maxThreads: Math.max(2, availableParallelism()), idleTimeout: 10_000 }
  #sensitive: Piscina | undefined
  #pool: Piscina | undefined
  readonly #sensitiveLane = new Lane(1)
  readonly #poolLane = new Lane(this.options.maxThreads)
  readonly #channels = new Set<Channel>()
  // Only used once a worker calls asyncToSync: it tells which thread-sensitive
  // calls belong to the async code that worker is waiting on.
  #delegation: AsyncLocalStorage<Channel> | undefined
  /** Requests a sync view is serving, by token, for `request.reverse()` from the worker. */
  readonly liveRequests = new Map<number, { reverse: (name: string, options?: unknown) => string, log: Logger }>()

  configure (options: SyncOptions): void {
    const maxThreads = options.maxThreads ?? this.options.maxThreads
    const idleTimeout = options.idleTimeout ?? this.options.idleTimeout
    if (maxThreads === this.options.maxThreads && idleTimeout === this.options.idleTimeout) return
    this.options = { maxThreads, idleTimeout }
    this.#poolLane.limit = maxThreads
    // A running pool keeps its size until it is next closed.
  }

  call (threadSensitive: boolean, href: string, name: string, args: unknown[], signal: AbortSignal | undefined, view = false): Promise<unknown> {
    let a: PackedArgs
    try {
      a = packArgs(args)
    } catch (error) {
      return Promise.reject(notCloneable(name, args, error))
    }
    if (threadSensitive) {
      const owner = this.#delegation?.getStore()
      if (owner?.threadSensitive === true) return this.#nested(owner, href, name, a)
      return this.#sensitiveLane.run(() => this.#run(this.#sensitivePool(), { u: href, n: name, a, view }), signal)
    }
    return this.#poolLane.run(() => this.#run(this.#anyPool(), { u: href, n: name, a, view }), signal)
  }

  async #run (pool: Piscina, task: Task): Promise<unknown> {
    const result: TaskResult = await pool.run(task, transfer(task.a))
    const outcome = result instanceof Uint8Array ? unpack<Outcome>(result) : result
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

  #post (channel: Channel, message: ToWorker): void {
    channel.port.postMessage(message)
    Atomics.store(channel.signal, 0, 1)
    Atomics.notify(channel.signal, 0)
  }

  #sensitivePool (): Piscina {
    this.#sensitive ??= this.#create(true)
    return this.#sensitive
  }

  #anyPool (): Piscina {
    this.#pool ??= this.#create(false)
    return this.#pool
  }

  #create (threadSensitive: boolean): Piscina {
    const pool = new Piscina({
      filename: WORKER,
      minThreads: threadSensitive ? 1 : 0,
      maxThreads: threadSensitive ? 1 : this.options.maxThreads,
      // The thread-sensitive worker holds state (a connection): never reaped while idle.
      idleTimeout: threadSensitive ? Infinity : this.options.idleTimeout,
      concurrentTasksPerWorker: 1,
      stricterFIFO: true,
      workerData: { threadSensitive }
    })
    pool.on('message', (message: unknown) => {
      if ((message as Registration | null)?.bridge === 'fastify-async-views') this.#register(message as Registration)
    })
    // A crashed worker rejects its call (piscina) and is replaced; nothing else to do.
    pool.on('error', () => {})
    return pool
  }

  #register (registration: Registration): void {
    const channel: Channel = { port: registration.port, signal: registration.signal, threadSensitive: registration.threadSensitive, nested: new Map() }
    this.#channels.add(channel)
    channel.port.on('message', (message: ToMain) => { this.#onMessage(channel, message) })
    channel.port.on('close', () => {
      this.#channels.delete(channel)
      for (const { reject } of channel.nested.values()) reject(new ERR_SYNC_WORKER_EXITED('The worker thread exited'))
    })
    channel.port.unref()
  }

  #onMessage (channel: Channel, message: ToMain): void {
    if (message.t === 'done') {
      const pending = channel.nested.get(message.id)
      channel.nested.delete(message.id)
      if (pending === undefined) return
      if (message.ok) pending.resolve(unpack(message.v))
      else pending.reject(unpackError(message.e))
      return
    }
    if (message.t === 'log') {
      const log = this.liveRequests.get(Number(message.token))?.log
      try {
        log?.[message.level]({ ...(message.obj as object), fromWorker: true }, message.msg)
      } catch {}
      return
    }
    // t === 'call': asyncToSync from a worker; run it here, in the async world.
    this.#delegation ??= new AsyncLocalStorage<Channel>()
    this.#delegation.run(channel, () => this.#callAsync(message.u, message.n, unpack<unknown[]>(message.a))).then(
      (value) => {
        let v: Uint8Array
        try {
          v = pack(value)
        } catch (error) {
          this.#post(channel, { t: 'result', id: message.id, ok: false, e: packError(new ERR_NOT_CLONEABLE(`The result of ${message.n}() cannot be sent to the worker thread: ${(error as Error).message}`)) })
          return
        }
        this.#post(channel, { t: 'result', id: message.id, ok: true, v })
      },
      (error) => { this.#post(channel, { t: 'result', id: message.id, ok: false, e: packError(error) }) }
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

  /** Terminates the workers; calls still queued reject. A later call starts fresh workers. */
  async close (): Promise<void> {
    const closed = new ERR_SYNC_BRIDGE_CLOSED('The sync bridge was closed')
    this.#sensitiveLane.clear(closed)
    this.#poolLane.clear(closed)
    const pools = [this.#sensitive, this.#pool].filter((p): p is Piscina => p !== undefined)
    this.#sensitive = undefined
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

/** Terminates the bridge's worker threads (app.close() does it too). */
export async function closeSyncBridge (): Promise<void> {
  await bridge.close()
}
