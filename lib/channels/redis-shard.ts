// One Redis server of a RedisChannelLayer: its command connection (with a
// bound on every command), its blocking reader connections, and what the
// layer knows of the server's clock.
//
// A command that gets no answer within `commandTimeout` fails. That alone
// would not make it undone: a hung server (SIGSTOP, a stalled VM) still has
// the bytes in its socket and runs them when it wakes. So every script that
// delivers takes a deadline, in the server's own clock, half the timeout after
// it was sent, and refuses to act past it: a send that failed here is never
// delivered later. The server's clock is read with TIME when connecting, after
// each reconnect and every minute (and at once when a script says a command
// came late although its answer came in time).
import { performance } from 'node:perf_hooks'
import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis'
import { ChannelLayerUnavailable, SentinelsUnreachable } from '../errors.js'
import { CLUSTER_PASSED } from './redis-options.js'
import { DELIVER, GROUP_ADD, GROUP_DISCARD, GROUP_SEND, GROUP_TARGETS, SEND } from './redis-scripts.js'

export type Scripted = Redis & {
  favSend: (key: string, now: number, expiry: number, capacity: number, member: string, ttl: number, deadline: number) => Promise<number>
  favGroupAdd: (set: string, hash: string, now: number, channel: string, field: string, ttl: number, deadline: number) => Promise<number>
  favGroupDiscard: (set: string, hash: string, channel: string, field: string) => Promise<number>
  favGroupSend: (set: string, hash: string, now: number, groupExpiry: number, expiry: number, capacity: number, keyPrefix: string, order: string, json: string, ttl: number, deadline: number) => Promise<string[]>
  favGroupTargets: (set: string, hash: string, now: number, groupExpiry: number) => Promise<string[]>
  favDeliver: (...args: Array<string | number>) => Promise<number[]>
}

// Commands fail at once while Redis is down (never queued for later, never
// sent again after a reconnect), and the client keeps reconnecting in the background.
const CLIENT_DEFAULTS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (times) => Math.min(times * 100, 1000),
  // close() must not leave a timer holding the process.
  disconnectTimeout: 100
}

const CALIBRATE_EVERY_MS = 60_000

/** A Redis Cluster as the layer's one "server": ioredis routes each command to its slot's node. */
export interface ClusterTarget { cluster: ClusterNode[] }

/** The error scripts answer with when a command reached Redis after its deadline. */
export function isLate (error: unknown): boolean {
  return typeof (error as Error)?.message === 'string' && (error as Error).message.startsWith('FAV_LATE')
}

/**
 * One Redis server (or a whole Cluster): a command connection and blocking ones
 * for readers. A Cluster client is typed as a Redis one: both have the same
 * command methods; where they differ (scanning keys) `cluster` says which.
 */
export class Shard {
  readonly label: string
  readonly client: Scripted
  readonly timeout: number
  readonly cluster: boolean
  readonly #options: RedisOptions & { url?: string }
  readonly #nodes: ClusterNode[] | undefined
  readonly #blocking = new Set<Redis>()
  #lastError: Error | undefined
  #readyOnce = false
  /** The server's clock minus performance.now(), in ms (undefined: not read yet). */
  #offset: number | undefined
  #calibration: NodeJS.Timeout | undefined
  /** False once the server said it has no BZMPOP (Redis < 7). */
  bzmpop: boolean | undefined
  onReconnect: (() => void) | undefined

  constructor (target: string | RedisOptions | ClusterTarget, extra: RedisOptions, timeout: number) {
    const nodes = typeof target === 'object' && 'cluster' in target ? target.cluster : undefined
    const options = typeof target === 'string' ? { ...CLIENT_DEFAULTS, ...extra, url: target } : { ...CLIENT_DEFAULTS, ...extra, ...(nodes === undefined ? target : {}) }
    this.#options = options
    this.#nodes = nodes
    this.cluster = nodes !== undefined
    this.timeout = timeout
    this.label = nodes === undefined ? describeTarget(target as string | RedisOptions, options) : `cluster ${nodes.map((node) => typeof node === 'object' ? `${node.host ?? '127.0.0.1'}:${node.port ?? 6379}` : String(node)).join(', ')}`
    this.client = this.#make() as Scripted
    this.client.defineCommand('favSend', { numberOfKeys: 1, lua: SEND })
    this.client.defineCommand('favGroupAdd', { numberOfKeys: 2, lua: GROUP_ADD })
    this.client.defineCommand('favGroupDiscard', { numberOfKeys: 2, lua: GROUP_DISCARD })
    this.client.defineCommand('favGroupSend', { numberOfKeys: 2, lua: GROUP_SEND })
    this.client.defineCommand('favGroupTargets', { numberOfKeys: 2, lua: GROUP_TARGETS })
    this.client.defineCommand('favDeliver', { lua: DELIVER })
    this.client.on('ready', () => {
      if (!this.#readyOnce) {
        this.#readyOnce = true
        return
      }
      // Redis without persistence forgets memberships on restart: re-add ours (with the clock read again).
      this.calibrate().catch(() => {}).finally(() => this.onReconnect?.())
    })
  }

  #make (): Redis {
    const { url, ...options } = this.#options
    const client = this.#nodes !== undefined ? makeCluster(this.#nodes, options) : url === undefined ? new Redis(options) : new Redis(url, options)
    client.on('error', (error: Error) => { this.#lastError = error })
    if (this.#nodes !== undefined) client.on('node error', (error: Error) => { this.#lastError = error })
    return client
  }

  /** Resolves on the client's 'ready': a Cluster's connect() may never settle although it gets ready (TRAPS 47). */
  async #ready (client: Redis): Promise<void> {
    let onReady: (() => void) | undefined
    const ready = new Promise<void>((resolve) => { onReady = resolve; client.once('ready', resolve) })
    try {
      await Promise.race([client.connect(), ready])
      if (client.status !== 'ready') await ready
    } finally {
      if (onReady !== undefined) client.off('ready', onReady)
    }
  }

  /** The servers to scan for keys: every master of a Cluster, or the one server. */
  nodes (): Redis[] {
    return this.#nodes !== undefined ? (this.client as unknown as Cluster).nodes('master') : [this.client]
  }

  async connect (): Promise<void> {
    const status = this.client.status
    if (status === 'ready') return
    // Not ready and already trying (connecting, reconnecting): say so now, never wait for later.
    if (status !== 'wait') throw this.unavailable(new Error(`connection is ${status}`))
    // ioredis keeps asking the sentinels again and again, its connect() unsettled: their
    // refusal, reported as an 'error', ends the wait (and the timeout, when none answers at all).
    let onError: ((error: Error) => void) | undefined
    const refused = new Promise<never>((_resolve, reject) => {
      onError = (error) => { if (SENTINELS_DOWN.test(error.message)) reject(error) }
      this.client.on('error', onError)
    })
    try {
      await this.within(Promise.race([this.#ready(this.client), refused]))
      await this.calibrate()
    } catch (error) {
      throw this.unavailable(error)
    } finally {
      if (onError !== undefined) this.client.off('error', onError)
    }
    this.#calibration ??= setInterval(() => { if (this.client.status === 'ready') this.calibrate().catch(() => {}) }, CALIBRATE_EVERY_MS)
    this.#calibration.unref()
  }

  /** Reads the server's clock (TIME); a server refusing TIME leaves the local clock in use. */
  async calibrate (): Promise<void> {
    const before = performance.now()
    let time: Array<string | number>
    try {
      time = await this.within(this.client.time())
    } catch (error) {
      if (error instanceof ChannelLayerUnavailable) throw error
      return
    }
    this.#offset = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000) - (before + performance.now()) / 2
  }

  /** The server's clock `ms` from now, in ms: a deadline for a script. */
  deadline (ms: number): number {
    return Math.floor(performance.now() + (this.#offset ?? Date.now() - performance.now()) + ms)
  }

  /**
   * `promise`, or a rejection once it has gone `timeout` ms unanswered. The
   * check runs after the event loop's I/O phase, so an answer already
   * received when the timer fires still counts.
   */
  within<T> (promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (settled) return
          settled = true
          reject(new ChannelLayerUnavailable(`Redis at ${this.label} did not answer within ${this.timeout} ms (commandTimeout)`))
        })
      }, this.timeout)
      promise.then((value) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(value)
      }, (error: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(error)
      })
    })
  }

  /** A clear error naming the server. */
  unavailable (error: unknown): ChannelLayerUnavailable {
    if (error instanceof SentinelsUnreachable) return error
    const cause = this.#lastError ?? error
    const message = (cause as Error)?.message ?? String(cause)
    // Over Sentinel, before any master was reached (or when none of them answers), the sentinels are what to name.
    if (this.#options.sentinels != null && (SENTINELS_DOWN.test(message) || (!this.#readyOnce && this.client.status !== 'ready'))) {
      return new SentinelsUnreachable(`Redis via ${this.label} is not available: ${message}`, { cause })
    }
    if (error instanceof ChannelLayerUnavailable) return error
    return new ChannelLayerUnavailable(`Redis at ${this.label} is not available: ${message}`, { cause })
  }

  /** A connection of its own for a blocking command. */
  async blocking (): Promise<Redis> {
    const client = this.#make()
    this.#blocking.add(client)
    client.once('end', () => this.#blocking.delete(client))
    try {
      await this.within(this.#ready(client))
    } catch (error) {
      // A connection that could not be made must not linger, retrying on its own.
      this.release(client)
      throw error
    }
    return client
  }

  release (client: Redis): void {
    this.#blocking.delete(client)
    client.disconnect()
  }

  disconnect (): void {
    clearInterval(this.#calibration)
    this.#calibration = undefined
    // disconnect(), not quit(): quit waits, and a process would linger.
    this.client.disconnect()
    for (const client of this.#blocking) client.disconnect()
    this.#blocking.clear()
  }
}

const SENTINELS_DOWN = /sentinels are unreachable/i

// ioredis' Cluster: the layer's guarantees (no offline queue, no resend) at the
// top, the connection options for every node under redisOptions.
function makeCluster (nodes: ClusterNode[], options: RedisOptions): Redis {
  const clusterOptions: ClusterOptions = {}
  const redisOptions: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options)) {
    if ((CLUSTER_PASSED as readonly string[]).includes(key)) (clusterOptions as Record<string, unknown>)[key] = value
    else if (key !== 'lazyConnect' && key !== 'enableOfflineQueue' && key !== 'retryStrategy') redisOptions[key] = value
  }
  const cluster = new Cluster(nodes, {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: options.retryStrategy ?? undefined,
    ...clusterOptions,
    redisOptions
  })
  return cluster as unknown as Redis
}

function describeTarget (target: string | RedisOptions, options: RedisOptions): string {
  if (options.sentinels != null) {
    const list = options.sentinels.map((sentinel) => `${sentinel.host ?? '127.0.0.1'}:${sentinel.port ?? 26379}`).join(', ')
    return `sentinels ${list} (master '${options.name ?? 'mymaster'}')`
  }
  if (typeof target === 'string') {
    try {
      const url = new URL(target)
      url.password = ''
      url.username = ''
      return url.href.replace(/\/$/, '')
    } catch {
      return target
    }
  }
  return `redis://${target.host ?? '127.0.0.1'}:${target.port ?? 6379}`
}
