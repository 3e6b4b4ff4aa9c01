import { ChannelFull, ChannelLayerUnavailable } from '../errors.js'
import { checkLayerOptions, dropExpired, randomSuffix, Sweeper, type ChannelLayer, type LayerLogger, type LayerOptions, type LocalReceiver } from './layer.js'
import { waitIn, type Waiter as WaiterOf } from '../waiting.js'
import { kSubscribe } from '../symbols.js'
import { checkChannelName, checkGroupName, type LayerMessage } from './names.js'
import { decodeMessage, encodeMessage, shareable } from './codec.js'

type Waiter = WaiterOf<LayerMessage>

/** A queue of messages for a channel nobody in this process subscribed to. */
interface Mailbox {
  messages: Array<{ message: LayerMessage, expires: number }>
  waiters: Waiter[]
}

/**
 * Channels' InMemoryChannelLayer: one process, no persistence. Expiry is
 * checked when messages are read or counted, and a sweep on an unref'd timer
 * reclaims expired messages and lapsed memberships nobody touches any more.
 */
export class InMemoryChannelLayer implements ChannelLayer {
  readonly capacity: number
  readonly expiry: number
  readonly groupExpiry: number
  log: LayerLogger | undefined
  readonly #mailboxes = new Map<string, Mailbox>()
  readonly #receivers = new Map<string, LocalReceiver>()
  /** channel -> when its membership lapses, in ms since #epoch (a small integer, no heap number per member). */
  readonly #groups = new Map<string, Map<string, number>>()
  readonly #epoch = Date.now()
  #closed = false
  readonly #sweeper: Sweeper

  /** Per-channel capacities (channelCapacity); undefined: `capacity` for all. */
  readonly #capacityOf: ((channel: string) => number) | undefined

  constructor (options: LayerOptions = {}) {
    const checked = checkLayerOptions('InMemoryChannelLayer', options)
    this.capacity = checked.capacity
    this.#capacityOf = options.channelCapacity === undefined ? undefined : checked.capacityOf
    this.expiry = checked.expiry
    this.groupExpiry = checked.groupExpiry
    this.log = options.log
    this.#sweeper = new Sweeper(Math.min(this.expiry, this.groupExpiry), () => this.#sweep())
  }

  async send (channel: string, message: LayerMessage): Promise<void> {
    checkChannelName(channel)
    // Through the codec, as on Redis: the same values arrive, the same ones are refused.
    const text = encodeMessage(message)
    this.#open()
    this.#deliver(channel, decodeMessage(text), Date.now())
  }

  // Throws ChannelFull; `message` is decoded (frozen) for this delivery.
  #deliver (channel: string, message: LayerMessage, now: number): void {
    const receiver = this.#receivers.get(channel)
    const capacity = this.#capacityOf === undefined ? this.capacity : this.#capacityOf(channel)
    if (receiver !== undefined) {
      if (receiver.backlog >= capacity) throw new ChannelFull(`Channel ${channel} is full (${capacity} messages waiting)`)
      receiver.deliver(message)
      return
    }
    let mailbox = this.#mailboxes.get(channel)
    if (mailbox === undefined) {
      mailbox = { messages: [], waiters: [] }
      this.#mailboxes.set(channel, mailbox)
    }
    const waiter = mailbox.waiters.shift()
    if (waiter !== undefined) {
      if (mailbox.waiters.length === 0 && mailbox.messages.length === 0) this.#mailboxes.delete(channel)
      waiter.resolve(message)
      return
    }
    dropExpired(mailbox.messages, now)
    if (mailbox.messages.length >= capacity) throw new ChannelFull(`Channel ${channel} is full (${capacity} messages waiting)`)
    mailbox.messages.push({ message, expires: now + this.expiry * 1000 })
    this.#sweeper.start()
  }

  // Runs while there is something to reclaim.
  #sweep (): boolean {
    const now = Date.now()
    for (const [channel, mailbox] of this.#mailboxes) {
      dropExpired(mailbox.messages, now)
      this.#tidy(channel, mailbox)
    }
    for (const [group, members] of this.#groups) {
      for (const [channel, expires] of members) if (expires <= now - this.#epoch) members.delete(channel)
      if (members.size === 0) this.#groups.delete(group)
    }
    return this.#mailboxes.size > 0 || this.#groups.size > 0
  }

  async receive (channel: string, options: { signal?: AbortSignal } = {}): Promise<LayerMessage> {
    checkChannelName(channel)
    this.#open()
    const { signal } = options
    if (signal?.aborted === true) throw signal.reason
    const mailbox = this.#mailboxes.get(channel)
    if (mailbox !== undefined) {
      dropExpired(mailbox.messages, Date.now())
      const first = mailbox.messages.shift()
      if (first !== undefined) {
        this.#tidy(channel, mailbox)
        return first.message
      }
    }
    const box = mailbox ?? { messages: [], waiters: [] }
    if (mailbox === undefined) this.#mailboxes.set(channel, box)
    return await waitIn(box.waiters, signal, () => { this.#tidy(channel, box) })
  }

  // A departed reader or an emptied queue leaves nothing behind.
  #tidy (channel: string, mailbox: Mailbox): void {
    if (mailbox.messages.length === 0 && mailbox.waiters.length === 0 && this.#mailboxes.get(channel) === mailbox) this.#mailboxes.delete(channel)
  }

  async newChannel (prefix = 'specific'): Promise<string> {
    this.#open()
    return checkChannelName(`${prefix}.inmemory!${randomSuffix()}`)
  }

  async groupAdd (group: string, channel: string): Promise<void> {
    checkGroupName(group)
    checkChannelName(channel)
    this.#open()
    let members = this.#groups.get(group)
    if (members === undefined) {
      members = new Map()
      this.#groups.set(group, members)
    }
    // Re-adding renews the membership: its age restarts.
    members.set(channel, Math.ceil(Date.now() - this.#epoch + this.groupExpiry * 1000))
    this.#sweeper.start()
  }

  async groupDiscard (group: string, channel: string): Promise<void> {
    checkGroupName(group)
    checkChannelName(channel)
    this.#open()
    const members = this.#groups.get(group)
    if (members === undefined) return
    members.delete(channel)
    if (members.size === 0) this.#groups.delete(group)
  }

  async groupSend (group: string, message: LayerMessage): Promise<void> {
    checkGroupName(group)
    const text = encodeMessage(message)
    this.#open()
    const members = this.#groups.get(group)
    if (members === undefined) return
    // One frozen message for the whole group, unless it holds Dates or bytes (never frozen): then one each.
    const shared = shareable(text) ? decodeMessage(text) : undefined
    const now = Date.now()
    const age = now - this.#epoch
    for (const [channel, expires] of members) {
      if (expires <= age) {
        members.delete(channel)
        continue
      }
      try {
        this.#deliver(channel, shared ?? decodeMessage(text), now)
      } catch (error) {
        if (!(error instanceof ChannelFull)) throw error
        this.#dropped(group, channel)
      }
    }
    if (members.size === 0) this.#groups.delete(group)
  }

  #dropped (group: string, channel: string): void {
    try {
      this.log?.warn({ group, channel }, `groupSend to ${group}: channel ${channel} is full, message dropped for it`)
    } catch {}
  }

  async flush (): Promise<void> {
    for (const mailbox of this.#mailboxes.values()) mailbox.messages.length = 0
    for (const [channel, mailbox] of this.#mailboxes) this.#tidy(channel, mailbox)
    this.#groups.clear()
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#sweeper.stop()
    const error = new ChannelLayerUnavailable('The channel layer was closed')
    for (const mailbox of this.#mailboxes.values()) for (const waiter of mailbox.waiters) waiter.reject(error)
    this.#mailboxes.clear()
    this.#groups.clear()
    this.#receivers.clear()
  }

  [kSubscribe] (channel: string, receiver: LocalReceiver): () => void {
    checkChannelName(channel)
    this.#receivers.set(channel, receiver)
    return () => {
      if (this.#receivers.get(channel) === receiver) this.#receivers.delete(channel)
    }
  }

  #open (): void {
    if (this.#closed) throw new ChannelLayerUnavailable('The channel layer is closed')
  }
}
