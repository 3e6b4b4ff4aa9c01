import type { Redis } from 'ioredis'
import { ChannelFull, ChannelLayerUnavailable, ERR_FOREIGN_CHANNEL, ERR_INVALID_LAYER_OPTION } from '../errors.js'
import { checkLayerOptions, dropExpired, randomSuffix, Sweeper, type ChannelLayer, type LayerLogger, type LocalReceiver } from './layer.js'
import { kSubscribe } from '../symbols.js'
import { waitIn, type Waiter as WaiterOf } from '../waiting.js'
import { checkChannelName, checkGroupName, nonLocalName, type LayerMessage } from './names.js'
import { decodeMessage, encodeMessage, shareable } from './codec.js'
import { checkRedisOptions, type RedisLayerOptions } from './redis-options.js'
import { isLate, Shard, type Scripted } from './redis-shard.js'

export type { RedisLayerOptions } from './redis-options.js'

// FNV-1a with a final mix (murmur3's fmix32, so names differing in one
// character spread over servers): every process maps a name to the same server.
function hash (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref())

type Waiter = WaiterOf<LayerMessage>

/** The reader of a named channel: one connection, serving its receive() calls in order. */
interface NamedReader { waiters: Waiter[], client: Redis | undefined, running: boolean, idle: NodeJS.Timeout | undefined }
const NAMED_IDLE_MS = 30_000

/**
 * channels_redis on ioredis. Every channel made by `newChannel()` in this
 * process shares one Redis key (`<prefix>:ch:specific.<id>!`), read by one
 * blocking connection; `groupSend` writes one message per process, naming its
 * target channels, in one round trip. Delivery is at most once.
 */
export class RedisChannelLayer implements ChannelLayer {
  readonly capacity: number
  readonly #capacityOf: (channel: string) => number
  /** channelCapacity was given: a groupSend needs each key's own capacity. */
  readonly #patterns: boolean
  readonly expiry: number
  readonly groupExpiry: number
  readonly prefix: string
  /** Ms a command may go unanswered before it fails (and Redis refuses it if it comes later). */
  readonly commandTimeout: number
  log: LayerLogger | undefined
  readonly #shards: Shard[]
  readonly #clientId = randomSuffix()
  #sequence = 0
  #closed = false
  #connecting: Promise<void> | undefined
  readonly #receivers = new Map<string, LocalReceiver>()
  readonly #waiters = new Map<string, Waiter[]>()
  /** Messages the reader took for this process's channels that nobody waits on yet, until they expire. */
  readonly #buffers = new Map<string, Array<{ message: LayerMessage, expires: number }>>()
  readonly #sweeper: Sweeper
  readonly #local = new Set<string>()
  readonly #readers = new Map<string, { stop: () => void }>()
  readonly #memberships = new Map<string, Set<string>>()
  readonly #named = new Map<string, NamedReader>()
  /** Member lists already resolved to this process's receivers; emptied whenever a receiver comes or goes. */
  readonly #resolved: Array<{ list: string, names: string[], receivers: LocalReceiver[] }> = []

  constructor (options: RedisLayerOptions = {}) {
    checkRedisOptions(options)
    const { capacity, channelCapacity, expiry, groupExpiry, log, url, hosts, cluster, prefix, commandTimeout, ...ioredisOptions } = options
    const checked = checkLayerOptions('RedisChannelLayer', { capacity, channelCapacity, expiry, groupExpiry, log })
    this.commandTimeout = commandTimeout ?? 3000
    if (typeof this.commandTimeout !== 'number' || !Number.isFinite(this.commandTimeout) || !(this.commandTimeout > 0)) {
      throw new ERR_INVALID_LAYER_OPTION(`commandTimeout must be a positive number of ms (got ${String(commandTimeout)})`)
    }
    this.capacity = checked.capacity
    this.#capacityOf = checked.capacityOf
    this.#patterns = channelCapacity !== undefined
    this.expiry = checked.expiry
    this.#sweeper = new Sweeper(this.expiry, () => this.#sweep())
    this.groupExpiry = checked.groupExpiry
    this.log = log
    this.prefix = prefix ?? 'asgi'
    if (!/^[a-zA-Z0-9\-_.:]+$/.test(this.prefix)) throw new ERR_INVALID_LAYER_OPTION(`prefix must be letters, digits, '-', '_', '.' or ':' (got ${JSON.stringify(this.prefix)})`)
    if (url !== undefined && hosts !== undefined) throw new ERR_INVALID_LAYER_OPTION("Give 'url' or 'hosts', not both")
    const targets = hosts ?? [url ?? 'redis://127.0.0.1:6379']
    if (!Array.isArray(targets) || targets.length === 0) throw new ERR_INVALID_LAYER_OPTION('hosts must be a non-empty array')
    this.#shards = cluster !== undefined ? [new Shard({ cluster }, ioredisOptions, this.commandTimeout)] : targets.map((target) => new Shard(target, ioredisOptions, this.commandTimeout))
    for (const shard of this.#shards) shard.onReconnect = () => { this.#readd(shard) }
  }

  /** Connects to every server; rejects with a clear error naming the one that is not reachable. */
  async connect (): Promise<void> {
    this.#open()
    this.#connecting ??= Promise.all(this.#shards.map(async (shard) => { await shard.connect() })).then(() => {}, (error: unknown) => {
      this.#connecting = undefined
      throw error
    })
    await this.#connecting
  }

  #open (): void {
    if (this.#closed) throw new ChannelLayerUnavailable('The channel layer is closed')
  }

  #shard (name: string): Shard {
    const shards = this.#shards
    return shards.length === 1 ? shards[0] : shards[hash(name) % shards.length]
  }

  #channelKey (channel: string): string {
    return `${this.prefix}:ch:${nonLocalName(channel)}`
  }

  // A group's two keys share a hash tag (the group's name), so on a Cluster they
  // are in one slot: the scripts that touch both run there (docs/scaling-out.md).
  #groupKey (group: string): string {
    return `${this.prefix}:gr:{${group}}`
  }

  #groupHashKey (group: string): string {
    return `${this.prefix}:gk:{${group}}`
  }

  // Unique and sortable: equal scores pop in this process's send order.
  #order (): string {
    return `${(++this.#sequence).toString(16).padStart(12, '0')}.${this.#clientId}.`
  }

  // One command, bounded by commandTimeout; `run` gets the deadline past which Redis must refuse it.
  async #call<T> (shard: Shard, run: (deadline: number) => Promise<T>): Promise<T> {
    await this.connect()
    for (let attempt = 0; ; attempt++) {
      try {
        return await shard.within(run(shard.deadline(this.commandTimeout / 2)))
      } catch (error) {
        if (error instanceof TypeError) throw error
        // Refused as late, yet answered in time: our reading of Redis's clock is off. Read it, try once more.
        if (attempt === 0 && isLate(error)) {
          await shard.calibrate().catch(() => {})
          continue
        }
        throw shard.unavailable(error)
      }
    }
  }

  async send (channel: string, message: LayerMessage): Promise<void> {
    checkChannelName(channel)
    const json = encodeMessage(message)
    this.#open()
    const shard = this.#shard(nonLocalName(channel))
    const member = `${this.#order()}0000|${channel}|${json}`
    const capacity = this.#capacityOf(channel)
    const added = await this.#call(shard, async (deadline) => await shard.client.favSend(this.#channelKey(channel), Date.now(), this.expiry * 1000, capacity, member, Math.ceil(this.expiry) + 1, deadline))
    if (added === 0) throw new ChannelFull(`Channel ${channel} is full (${capacity} messages waiting)`)
  }

  async receive (channel: string, options: { signal?: AbortSignal } = {}): Promise<LayerMessage> {
    checkChannelName(channel)
    this.#open()
    const { signal } = options
    if (signal?.aborted === true) throw signal.reason
    if (!channel.includes('!')) return await this.#receiveNamed(channel, signal)
    // Another process's key holds the messages of all its consumers: reading it would steal them.
    if (!nonLocalName(channel).endsWith(`.${this.#clientId}!`)) {
      throw new ERR_FOREIGN_CHANNEL(`receive(${JSON.stringify(channel)}): that process-local channel belongs to another process (or layer); only its owner may receive from it`)
    }
    return await this.#receiveLocal(channel, signal)
  }

  async #receiveLocal (channel: string, signal: AbortSignal | undefined): Promise<LayerMessage> {
    await this.connect()
    const buffered = this.#buffers.get(channel)
    if (buffered !== undefined) {
      dropExpired(buffered, Date.now())
      const first = buffered.shift()
      if (buffered.length === 0) this.#buffers.delete(channel)
      if (first !== undefined) return first.message
    }
    // connect() may have awaited: the caller may have left meanwhile.
    if (aborted(signal)) throw signal?.reason
    this.#local.add(channel)
    this.#startReader(nonLocalName(channel))
    let list = this.#waiters.get(channel)
    if (list === undefined) {
      list = []
      this.#waiters.set(channel, list)
    }
    const waiting = list
    return await waitIn(waiting, signal, () => { if (waiting.length === 0 && this.#waiters.get(channel) === waiting) this.#waiters.delete(channel) })
  }

  // A named channel has its own key, popped by one long-lived reader of this layer for
  // every receive() on it (a worker's loop pays no connection per job).
  async #receiveNamed (channel: string, signal: AbortSignal | undefined): Promise<LayerMessage> {
    await this.connect()
    if (aborted(signal)) throw signal?.reason
    let reader = this.#named.get(channel)
    if (reader === undefined) {
      reader = { waiters: [], client: undefined, running: false, idle: undefined }
      this.#named.set(channel, reader)
    }
    clearTimeout(reader.idle)
    const received = waitIn(reader.waiters, signal)
    this.#readNamed(channel, reader)
    return await received
  }

  #readNamed (channel: string, reader: NamedReader): void {
    if (reader.running || this.#closed) return
    reader.running = true
    const shard = this.#shard(channel)
    const key = this.#channelKey(channel)
    const loop = async (): Promise<void> => {
      while (reader.waiters.length > 0 && !this.#closed) {
        try {
          reader.client ??= await shard.blocking()
          const popped = await reader.client.bzpopmin(key, 1)
          if (popped === null || popped === undefined) continue
          const [, member, score] = popped
          const waiter = reader.waiters.shift()
          if (waiter === undefined || this.#closed) {
            // Popped just as the last caller left: put it back, steal nothing.
            await reader.client?.zadd(key, score, member).catch(() => {})
            continue
          }
          const decoded = decodeMember(member)
          if (decoded === undefined || Number(score) < Date.now() - this.expiry * 1000) reader.waiters.unshift(waiter)
          else waiter.resolve(decoded.message)
        } catch {
          if (this.#closed) break
          // Redis is down: keep waiting across the outage, on a new connection.
          if (reader.client !== undefined) shard.release(reader.client)
          reader.client = undefined
          await sleep(250)
        }
      }
    }
    loop().catch(() => {}).finally(() => {
      reader.running = false
      if (this.#closed) return
      // A receive() that came while the loop was ending.
      if (reader.waiters.length > 0) {
        this.#readNamed(channel, reader)
        return
      }
      // Unused for a while: the connection goes (the next receive() makes a new one).
      reader.idle = setTimeout(() => {
        if (reader.running || reader.waiters.length > 0) return
        if (reader.client !== undefined) shard.release(reader.client)
        if (this.#named.get(channel) === reader) this.#named.delete(channel)
      }, NAMED_IDLE_MS)
      reader.idle.unref()
    })
  }

  // One reader per process key: pops messages and hands them to this process's channels.
  #startReader (local: string): void {
    if (this.#readers.has(local)) return
    const state = { active: true }
    let client: Redis | undefined
    const shard = this.#shard(local)
    const key = this.#channelKey(local)
    this.#readers.set(local, { stop: () => { state.active = false; if (client !== undefined) shard.release(client) } })
    const loop = async (): Promise<void> => {
      let failures = 0
      while (state.active && !this.#closed) {
        try {
          client ??= await shard.blocking()
          if (shard.bzmpop !== false) {
            // Redis >= 7: block, then take up to 256 waiting messages in the same round trip.
            const popped = await bzmpop(client, key).catch((error: Error) => {
              if (!/unknown command/i.test(error.message)) throw error
              shard.bzmpop = false
              return null
            })
            failures = 0
            if (popped !== null) for (const [member, score] of popped) this.#dispatch(member, Number(score))
            continue
          }
          const popped = await client.bzpopmin(key, 2)
          failures = 0
          if (popped === null || popped === undefined) continue
          this.#dispatch(popped[1], Number(popped[2]))
          // Drain what else is waiting in one more round trip.
          const more = await client.zpopmin(key, 256)
          for (let i = 0; i < more.length; i += 2) this.#dispatch(more[i], Number(more[i + 1]))
        } catch (error) {
          if (!state.active || this.#closed) break
          if (failures++ === 0) this.#warn({ err: error, key }, `channel layer reader lost Redis at ${shard.label}; retrying`)
          if (client !== undefined) shard.release(client)
          client = undefined
          await sleep(Math.min(250 * failures, 1000))
        }
      }
    }
    loop().catch(() => {})
  }

  #dispatch (member: string, score: number): void {
    const decoded = decodeMember(member)
    if (decoded === undefined || score < Date.now() - this.expiry * 1000) return
    const { list, text } = decoded
    let message = decoded.message
    // One frozen message for every receiver, unless it holds Dates or bytes (never frozen): then one each.
    const copies = !shareable(text)
    // A group's member list repeats message after message: its receivers are
    // looked up once (until a channel here subscribes or leaves), not per message.
    // Compared, not hashed: a list is thousands of characters, and equal ones usually differ in length.
    for (const { list: known, names, receivers } of this.#resolved) {
      if (known !== list) continue
      for (let i = 0; i < receivers.length; i++) {
        this.#deliverTo(names[i], receivers[i], message)
        if (copies) message = decodeMessage(text)
      }
      return
    }
    // A copy (names are ASCII) to keep: slices of the member would keep it, message and all, alive.
    const copy = Buffer.from(list, 'latin1').toString('latin1')
    const targets = copy.split(',')
    const receivers: LocalReceiver[] = []
    for (const target of targets) {
      if (copies && target !== targets[0]) message = decodeMessage(text)
      const receiver = this.#receivers.get(target)
      if (receiver !== undefined) {
        receivers.push(receiver)
        this.#deliverTo(target, receiver, message)
        continue
      }
      const waiters = this.#waiters.get(target)
      const waiter = waiters?.shift()
      if (waiter !== undefined) {
        if (waiters?.length === 0) this.#waiters.delete(target)
        waiter.resolve(message)
        continue
      }
      // Kept for a later receive() only for channels this process made and still uses.
      if (!this.#local.has(target)) continue
      let buffer = this.#buffers.get(target)
      if (buffer === undefined) {
        buffer = []
        this.#buffers.set(target, buffer)
        this.#sweeper.start()
      }
      dropExpired(buffer, Date.now())
      if (buffer.length >= this.#capacityOf(target)) this.#warn({ channel: target }, `channel ${target} is full, message dropped`)
      else buffer.push({ message, expires: score + this.expiry * 1000 })
    }
    if (receivers.length === targets.length) {
      if (this.#resolved.length >= 8) this.#resolved.shift()
      this.#resolved.push({ list: copy, names: targets, receivers })
    }
  }

  // Expired messages that waited here go without further traffic.
  #sweep (): boolean {
    const now = Date.now()
    for (const [channel, buffer] of this.#buffers) {
      dropExpired(buffer, now)
      if (buffer.length === 0) this.#buffers.delete(channel)
    }
    return this.#buffers.size > 0
  }

  #deliverTo (channel: string, receiver: LocalReceiver, message: LayerMessage): void {
    if (receiver.backlog >= (this.#patterns ? this.#capacityOf(channel) : this.capacity)) this.#warn({ channel }, `channel ${channel} is full, message dropped`)
    else receiver.deliver(message)
  }

  async newChannel (prefix = 'specific'): Promise<string> {
    this.#open()
    const name = checkChannelName(`${prefix}.${this.#clientId}!${randomSuffix()}`)
    this.#local.add(name)
    return name
  }

  async groupAdd (group: string, channel: string): Promise<void> {
    checkGroupName(group)
    checkChannelName(channel)
    this.#open()
    const shard = this.#shard(group)
    await this.#call(shard, async (deadline) => {
      await shard.client.favGroupAdd(this.#groupKey(group), this.#groupHashKey(group), Date.now(), channel, nonLocalName(channel), Math.ceil(this.groupExpiry), deadline)
    })
    let members = this.#memberships.get(group)
    if (members === undefined) {
      members = new Set()
      this.#memberships.set(group, members)
    }
    members.add(channel)
  }

  async groupDiscard (group: string, channel: string): Promise<void> {
    checkGroupName(group)
    checkChannelName(channel)
    this.#open()
    const members = this.#memberships.get(group)
    members?.delete(channel)
    if (members?.size === 0) this.#memberships.delete(group)
    const shard = this.#shard(group)
    await this.#call(shard, async () => { await shard.client.favGroupDiscard(this.#groupKey(group), this.#groupHashKey(group), channel, nonLocalName(channel)) })
  }

  async groupSend (group: string, message: LayerMessage): Promise<void> {
    checkGroupName(group)
    const json = encodeMessage(message)
    this.#open()
    const shard = this.#shard(group)
    const now = Date.now()
    let full: string[]
    // One script on one server; with several servers (or a Cluster's slots), or capacities per channel, the members are fetched first.
    if (this.#shards.length === 1 && !this.#shards[0].cluster && !this.#patterns) {
      const lists = await this.#call(shard, async (deadline) => await shard.client.favGroupSend(
        this.#groupKey(group), this.#groupHashKey(group), now, this.groupExpiry * 1000, this.expiry * 1000, this.capacity, `${this.prefix}:ch:`, this.#order(), json, Math.ceil(this.expiry) + 1, deadline))
      full = lists.flatMap((list) => list.split(','))
    } else {
      full = await this.#groupSendSharded(group, json, now)
    }
    for (const channel of full) this.#warn({ group, channel }, `groupSend to ${group}: channel ${channel} is full, message dropped for it`)
  }

  // The group's keys and members from its server, then one script per server
  // holding those keys (on a Cluster, per key: a script's keys must share a slot).
  async #groupSendSharded (group: string, json: string, now: number): Promise<string[]> {
    const groupShard = this.#shard(group)
    const fields = await this.#call(groupShard, async () => await groupShard.client.favGroupTargets(this.#groupKey(group), this.#groupHashKey(group), now, this.groupExpiry * 1000))
    const batches: Array<[Shard, Array<[string, string]>]> = []
    const byShard = new Map<Shard, Array<[string, string]>>()
    for (let i = 0; i < fields.length; i += 2) {
      const shard = this.#shard(fields[i])
      const entry: [string, string] = [this.#channelKey(fields[i]), fields[i + 1]]
      const list = shard.cluster ? undefined : byShard.get(shard)
      if (list !== undefined) list.push(entry)
      else {
        batches.push([shard, [entry]])
        if (!shard.cluster) byShard.set(shard, batches[batches.length - 1][1])
      }
    }
    const full: string[] = []
    await Promise.all(batches.map(async ([shard, list]) => {
      const order = this.#order()
      const members = list.map(([, names]) => names)
      const capacities = members.map((names) => this.#capacityOf(names.slice(0, (names + ',').indexOf(','))))
      const fullIndexes = await this.#call(shard, async (deadline) => await shard.client.favDeliver(
        list.length, ...list.map(([key]) => key), now, this.expiry * 1000, order, json, Math.ceil(this.expiry) + 1, deadline, ...members, ...capacities))
      for (const index of fullIndexes) full.push(...list[index - 1][1].split(','))
    }))
    return full
  }

  async #readd (shard: Shard): Promise<void> {
    const now = Date.now()
    for (const [group, channels] of this.#memberships) {
      if (this.#shard(group) !== shard || channels.size === 0) continue
      const pipeline = shard.client.pipeline() as unknown as Scripted & { exec: () => Promise<unknown> }
      const deadline = shard.deadline(this.commandTimeout / 2)
      for (const channel of channels) pipeline.favGroupAdd(this.#groupKey(group), this.#groupHashKey(group), now, channel, nonLocalName(channel), Math.ceil(this.groupExpiry), deadline)
      try {
        await shard.within(pipeline.exec())
      } catch (error) {
        this.#warn({ err: error, group }, 'could not re-add a group membership after reconnecting')
      }
    }
  }

  /** Deletes this layer's keys (only those under its prefix, on every server). */
  async flush (): Promise<void> {
    this.#open()
    this.#buffers.clear()
    for (const shard of this.#shards) {
      await this.connect()
      for (const node of shard.nodes()) {
        let cursor = '0'
        do {
          const [next, keys] = await this.#call(shard, async () => await node.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 500))
          cursor = next
          // A Cluster refuses a DEL of keys in several slots: one each there.
          if (keys.length > 0) await this.#call(shard, async () => shard.cluster ? await Promise.all(keys.map(async (key) => await shard.client.del(key))) : await shard.client.del(...keys))
        } while (cursor !== '0')
      }
    }
  }

  /** Ends every Redis connection (the process can exit); waiting receives reject. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const error = new ChannelLayerUnavailable('The channel layer was closed')
    for (const reader of this.#readers.values()) reader.stop()
    this.#readers.clear()
    for (const list of this.#waiters.values()) for (const waiter of list) waiter.reject(error)
    this.#waiters.clear()
    for (const reader of this.#named.values()) {
      clearTimeout(reader.idle)
      for (const waiter of reader.waiters.splice(0)) waiter.reject(error)
    }
    this.#named.clear()
    this.#sweeper.stop()
    this.#buffers.clear()
    this.#receivers.clear()
    this.#resolved.length = 0
    for (const shard of this.#shards) shard.disconnect()
  }

  [kSubscribe] (channel: string, receiver: LocalReceiver): () => void {
    checkChannelName(channel)
    this.#receivers.set(channel, receiver)
    this.#resolved.length = 0
    this.#local.add(channel)
    if (channel.includes('!')) this.#startReader(nonLocalName(channel))
    return () => {
      if (this.#receivers.get(channel) === receiver) {
        this.#receivers.delete(channel)
        this.#resolved.length = 0
      }
      this.#local.delete(channel)
      this.#buffers.delete(channel)
    }
  }

  #warn (obj: unknown, msg: string): void {
    try {
      this.log?.warn(obj, msg)
    } catch {}
  }
}

// `<order>|<targets>|<message>` -> the comma-joined targets, the encoded message and its decoded value.
function decodeMember (member: string): { list: string, text: string, message: LayerMessage } | undefined {
  const first = member.indexOf('|')
  const second = member.indexOf('|', first + 1)
  if (first === -1 || second === -1) return undefined
  const text = member.slice(second + 1)
  try {
    return { list: member.slice(first + 1, second), text, message: decodeMessage(text) }
  } catch {
    return undefined
  }
}

function aborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

// BZMPOP 2 1 key MIN COUNT 256 -> [key, [[member, score], ...]] or null.
async function bzmpop (client: Redis, key: string): Promise<Array<[string, string]> | null> {
  const reply = await client.call('BZMPOP', 2, 1, key, 'MIN', 'COUNT', 256) as [string, Array<[string, string]>] | null
  return reply === null ? null : reply[1]
}
