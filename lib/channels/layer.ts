import { randomBytes } from 'node:crypto'
import { ImproperlyConfigured, ERR_INVALID_LAYER_OPTION } from '../errors.js'
import type { LayerMessage } from './names.js'
import { kSubscribe } from '../symbols.js'

export type { LayerMessage } from './names.js'

/** Where a layer's consumers in this process take delivery (our consumers use it instead of `receive`). */
export interface LocalReceiver {
  /** Messages waiting to be handled: at `capacity`, new ones are refused (ChannelFull). */
  readonly backlog: number
  deliver (message: LayerMessage): void
}

/** Logger the layer reports dropped messages to (pino-like). */
export interface LayerLogger {
  warn (obj: unknown, msg?: string): void
  error (obj: unknown, msg?: string): void
}

/**
 * The channel layer contract (Channels' BaseChannelLayer). Both the in-memory
 * and the Redis layer implement it, and pass one contract test suite.
 */
export interface ChannelLayer {
  readonly capacity: number
  readonly expiry: number
  readonly groupExpiry: number
  /** Reports drops (a full channel skipped by groupSend...). The plugin sets the app's logger when unset. */
  log: LayerLogger | undefined
  send (channel: string, message: LayerMessage): Promise<void>
  receive (channel: string, options?: { signal?: AbortSignal }): Promise<LayerMessage>
  newChannel (prefix?: string): Promise<string>
  groupAdd (group: string, channel: string): Promise<void>
  groupDiscard (group: string, channel: string): Promise<void>
  groupSend (group: string, message: LayerMessage): Promise<void>
  flush (): Promise<void>
  close (): Promise<void>
  /**
   * Optional fast path: registers this process's receiver for a channel made by
   * `newChannel()`, so messages are pushed to it instead of waiting for
   * `receive()` calls. Returns the function that unregisters it. A layer
   * without it still works: consumers then loop on `receive()`.
   */
  [kSubscribe]?: (channel: string, receiver: LocalReceiver) => () => void
}

/** Channels' channel_capacity: name patterns (globs with `*`, `?`, `[...]`, or RegExps) to capacities; the first match wins. */
export type ChannelCapacity = Record<string, number> | Iterable<readonly [string | RegExp, number]>

export interface LayerOptions {
  /** Messages a channel holds before `send` raises ChannelFull. Default 100. */
  capacity?: number
  /** Capacities for channels whose names match a pattern (default `capacity`). */
  channelCapacity?: ChannelCapacity
  /** Seconds a message waits before it is dropped. Default 60. */
  expiry?: number
  /** Seconds a group membership lasts unless renewed by groupAdd. Default 86400. */
  groupExpiry?: number
  log?: LayerLogger
}

const LAYER_KEYS = ['capacity', 'channelCapacity', 'expiry', 'groupExpiry', 'log']

/** Checks the options every layer takes; a key neither they nor `ownKeys` name is refused. */
export function checkLayerOptions (layer: string, options: LayerOptions, ownKeys: readonly string[] = []): Required<Pick<LayerOptions, 'capacity' | 'expiry' | 'groupExpiry'>> & { capacityOf: (channel: string) => number } {
  if (options === null || typeof options !== 'object') throw new ERR_INVALID_LAYER_OPTION(`${layer} options must be an object`)
  for (const key of Object.keys(options)) {
    if (!LAYER_KEYS.includes(key) && !ownKeys.includes(key)) throw new ImproperlyConfigured(`${layer}: unknown option '${key}'`)
  }
  const capacity = options.capacity ?? 100
  const expiry = options.expiry ?? 60
  const groupExpiry = options.groupExpiry ?? 86400
  if (!Number.isInteger(capacity) || capacity < 1) throw new ERR_INVALID_LAYER_OPTION(`capacity must be a positive integer (got ${String(capacity)})`)
  if (typeof expiry !== 'number' || !(expiry > 0)) throw new ERR_INVALID_LAYER_OPTION(`expiry must be a positive number of seconds (got ${String(expiry)})`)
  if (typeof groupExpiry !== 'number' || !(groupExpiry > 0)) throw new ERR_INVALID_LAYER_OPTION(`groupExpiry must be a positive number of seconds (got ${String(groupExpiry)})`)
  return { capacity, expiry, groupExpiry, capacityOf: capacityResolver(capacity, options.channelCapacity) }
}

// The capacity of a channel by name: without patterns, a constant.
function capacityResolver (capacity: number, channelCapacity: ChannelCapacity | undefined): (channel: string) => number {
  if (channelCapacity === undefined) return () => capacity
  if (channelCapacity === null || typeof channelCapacity !== 'object') throw new ERR_INVALID_LAYER_OPTION('channelCapacity must be an object or a list of [pattern, capacity] pairs')
  const entries = Symbol.iterator in channelCapacity ? [...channelCapacity] : Object.entries(channelCapacity)
  const compiled: Array<[RegExp, number]> = entries.map((entry) => {
    const [pattern, value] = (Array.isArray(entry) ? entry : []) as [unknown, number]
    if (!Number.isInteger(value) || value < 1) throw new ERR_INVALID_LAYER_OPTION(`channelCapacity: the capacity for ${String(pattern)} must be a positive integer (got ${String(value)})`)
    if (pattern instanceof RegExp) return [pattern, value]
    if (typeof pattern !== 'string') throw new ERR_INVALID_LAYER_OPTION(`channelCapacity: a pattern must be a string (glob) or a RegExp (got ${String(pattern)})`)
    return [globToRegExp(pattern), value]
  })
  if (compiled.length === 0) return () => capacity
  return (channel) => {
    for (const [pattern, value] of compiled) {
      pattern.lastIndex = 0
      if (pattern.test(channel)) return value
    }
    return capacity
  }
}

// Python's fnmatch: `*` any run, `?` one character, `[abc]` / `[!abc]` a set; the whole name.
function globToRegExp (glob: string): RegExp {
  let source = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*') source += '.*'
    else if (c === '?') source += '.'
    else if (c === '[' && glob.indexOf(']', i + 2) !== -1) {
      const end = glob.indexOf(']', i + 2)
      let set = glob.slice(i + 1, end).replace(/\\/g, '\\\\')
      if (set.startsWith('!')) set = '^' + set.slice(1)
      else if (set.startsWith('^')) set = '\\' + set
      source += `[${set}]`
      i = end
    } else source += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
  }
  return new RegExp(`^${source}$`, 's')
}

/**
 * Reclaims what expired without waiting for traffic: `sweep` runs on an unref'd
 * interval (half the given seconds, 50 ms to 30 s) from start() until it
 * returns false (nothing left) or stop().
 */
export class Sweeper {
  readonly #every: number
  readonly #sweep: () => boolean
  #timer: NodeJS.Timeout | undefined

  constructor (seconds: number, sweep: () => boolean) {
    this.#every = Math.min(Math.max(seconds * 500, 50), 30_000)
    this.#sweep = sweep
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { if (!this.#sweep()) this.stop() }, this.#every)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

/** Drops the expired head of a list ordered by expiry. */
export function dropExpired (list: Array<{ expires: number }>, now: number): void {
  let drop = 0
  while (drop < list.length && list[drop].expires <= now) drop++
  if (drop > 0) list.splice(0, drop)
}

/** A random suffix for channel names (unique across processes). */
export function randomSuffix (): string {
  return randomBytes(9).toString('base64url').replace(/[^a-zA-Z0-9]/g, 'x')
}
