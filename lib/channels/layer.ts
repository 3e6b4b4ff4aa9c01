import { randomBytes } from 'node:crypto'
import type { LayerMessage } from './names.js'

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

export const kSubscribe = Symbol.for('fastify-async-views.layer.subscribe')

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

export interface LayerOptions {
  /** Messages a channel holds before `send` raises ChannelFull. Default 100. */
  capacity?: number
  /** Seconds a message waits before it is dropped. Default 60. */
  expiry?: number
  /** Seconds a group membership lasts unless renewed by groupAdd. Default 86400. */
  groupExpiry?: number
  log?: LayerLogger
}

export function checkLayerOptions (options: LayerOptions): Required<Pick<LayerOptions, 'capacity' | 'expiry' | 'groupExpiry'>> {
  const capacity = options.capacity ?? 100
  const expiry = options.expiry ?? 60
  const groupExpiry = options.groupExpiry ?? 86400
  if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError(`capacity must be a positive integer (got ${String(capacity)})`)
  if (typeof expiry !== 'number' || !(expiry > 0)) throw new TypeError(`expiry must be a positive number of seconds (got ${String(expiry)})`)
  if (typeof groupExpiry !== 'number' || !(groupExpiry > 0)) throw new TypeError(`groupExpiry must be a positive number of seconds (got ${String(groupExpiry)})`)
  return { capacity, expiry, groupExpiry }
}

/** A random suffix for channel names (unique across processes). */
export function randomSuffix (): string {
  return randomBytes(9).toString('base64url').replace(/[^a-zA-Z0-9]/g, 'x')
}
