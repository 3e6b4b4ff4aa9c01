import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { AsyncConsumer, AsyncWebsocketConsumer, type ConnectionControl, type ConsumerHandler, type OutgoingFrame } from './consumer.js'
import { DenyConnection, StopConsumer } from './exceptions.js'
import { handshakeHeaderLines, type HandshakeHeaders } from './handshake.js'
import type { ChannelLayer, LayerMessage, LocalReceiver } from './layer.js'
import { kConsumerConnection, kSession, kSocketConnection, kSubscribe } from '../symbols.js'
import { LOGIN_ID_KEY } from '../auth/core.js'
import type { Session } from '../sessions/session.js'
import { sendFrame, textFrame, wsErrorCloseCode } from '../compat.js'
import { Queue } from '../waiting.js'
import { Scope } from './scope.js'
import { SyncContext, contexts, runInContext } from '../sync/context.js'
import { ERR_CLIENT_GONE, ERR_HANDSHAKE_STATE, ERR_INVALID_CLOSE_CODE, ERR_INVALID_FRAME, ERR_INVALID_SUBPROTOCOL, ERR_SEND_BEFORE_ACCEPT } from '../errors.js'

/** How the handshake ends: upgraded, or refused with an HTTP status. */
export type Decision = { accept: true, subprotocol: string | null, headers: string[] | undefined } | { accept: false, status: number, closeCode: number }

// A layer event is queued as the message itself (no wrapper per delivery);
// everything else is a Control (told apart by class, never by a field a message could have).
class Control {
  readonly kind: 'connect' | 'frame' | 'disconnect'
  readonly data: Buffer | undefined
  readonly binary: boolean
  readonly code: number
  constructor (kind: Control['kind'], data?: Buffer, binary = false, code = 0) {
    this.kind = kind
    this.data = data
    this.binary = binary
    this.code = code
  }
}
const CONNECT = new Control('connect')
type Item = Control | LayerMessage

// Beyond this many bytes queued on the socket, send() waits for the client:
// the consumer's backlog then grows and the layer refuses it more (ChannelFull).
const HIGH_WATER = 1024 * 1024

const GONE = 'The client went away during the handshake'

const VALID_CLOSE = (code: number): boolean =>
  Number.isInteger(code) && ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999))

/**
 * Drives one consumer over one WebSocket: the handshake decision, then client
 * frames and layer events through one serial queue (one at a time, in order),
 * then disconnect and cleanup.
 */
export class Connection implements LocalReceiver, ConnectionControl {
  readonly consumer: AsyncConsumer
  state: 'connecting' | 'accepted' | 'open' | 'closed' = 'connecting'
  socket: WebSocket | undefined
  /** For the ping sweep: false once a ping is out and no pong came back. */
  alive = true
  // Per-connection state is kept small (thousands of idle sockets): promises and
  // their resolvers exist only while someone waits on them.
  #decision: { promise: Promise<Decision> | undefined, resolve: (decision: Decision) => void } | undefined
  #decided = false
  #finished = false
  #finishWaiters: Array<() => void> | undefined
  readonly #onFinished: ((connection: Connection) => void) | undefined
  #accepted: { promise: Promise<void>, resolve: () => void, reject: (error: Error) => void } | undefined
  #pendingClose: { code: number, reason: string | undefined } | undefined
  #errorCode: number | undefined
  // Items waiting while one is handled; made on the first wait (most sockets are idle).
  #queue: Queue<Item> | undefined
  #draining = false
  /** The client left before the upgrade completed. */
  #gone = false
  /** What the consumer's code is busy with, for app.close()'s report. */
  #phase: 'starting' | 'connect()' | 'disconnect()' | undefined = 'starting'
  #unsubscribe: (() => void) | undefined
  readonly #layer: ChannelLayer
  /** The connection's thread-sensitive context, made once the app uses the bridge. */
  #syncContext: SyncContext | undefined
  /** `auth.login.<id>` of the session's login, if any. */
  #authGroup: string | undefined

  private constructor (handler: ConsumerHandler, request: FastifyRequest, urlRoute: Scope['urlRoute'], layer: ChannelLayer, onFinished: ((connection: Connection) => void) | undefined) {
    const Consumer = handler.consumerClass
    const consumer = new Consumer()
    Object.assign(consumer, handler.initkwargs)
    consumer.scope = new Scope(request, urlRoute)
    consumer.channelLayer = layer
    consumer[kConsumerConnection] = this
    this.consumer = consumer
    this.#layer = layer
    this.#onFinished = onFinished
    let settle!: (decision: Decision) => void
    const promise = new Promise<Decision>((resolve) => { settle = resolve })
    this.#decision = { promise, resolve: settle }
  }

  /**
   * Creates the consumer and starts it: a channel, its groups, then `connect()`.
   * Returned at once, so the caller can follow the client from the first moment.
   */
  /**
   * `onFinished` gets the connection (one function for all of them: a closure
   * made per connection in a hook would keep the hook's context, its `done`
   * and Fastify's hook runner alive as long as the socket).
   */
  static start (handler: ConsumerHandler, request: FastifyRequest, urlRoute: Scope['urlRoute'], layer: ChannelLayer, onFinished?: (connection: Connection) => void): Connection {
    const connection = new Connection(handler, request, urlRoute, layer, onFinished)
    // Whatever comes meanwhile (a client gone, layer events) waits for connect().
    connection.#draining = true
    connection.#begin().catch(() => {})
    return connection
  }

  async #begin (): Promise<void> {
    const consumer = this.consumer
    const layer = this.#layer
    try {
      consumer.channelName = await layer.newChannel()
      this.#unsubscribe = subscribe(layer, consumer.channelName, this)
      for (const group of consumer.groups) await layer.groupAdd(group, consumer.channelName)
      // A logged-in user's consumers hear logout() from any process (close 4003).
      const loginId = (this.request as { [kSession]?: Session })[kSession]?.get(LOGIN_ID_KEY)
      if (typeof loginId === 'string') {
        this.#authGroup = `auth.login.${loginId}`
        await layer.groupAdd(this.#authGroup, consumer.channelName)
      }
    } catch (error) {
      this.#report('error', error, `${consumer.constructor.name} could not ${consumer.channelName === undefined ? 'get a channel' : 'join its groups'}; the handshake is refused (500)`)
      this.#refuse(500, 1011)
      this.#resume()
      return
    }
    this.#run(CONNECT)
  }

  // Read through the scope: two fields fewer on every idle connection.
  get request (): FastifyRequest {
    return (this.consumer.scope as Scope).request
  }

  get log (): FastifyBaseLogger {
    return this.request.log
  }

  /** True once disconnect() ran and the groups were left. */
  get done (): boolean {
    return this.#finished
  }

  /** How the handshake ends (accept, or refusal with an HTTP status); read once, by the upgrade. */
  takeDecision (): Promise<Decision> {
    const pending = this.#decision
    const promise = pending?.promise
    if (pending !== undefined) {
      pending.promise = undefined
      if (pending.resolve === noop) this.#decision = undefined
    }
    return promise ?? Promise.reject(new ERR_HANDSHAKE_STATE('the handshake decision was already taken'))
  }

  /** Resolves once disconnect() ran and the groups were left. */
  get finished (): Promise<void> {
    if (this.#finished) return Promise.resolve()
    return new Promise((resolve) => { (this.#finishWaiters ??= []).push(resolve) })
  }

  #decide (decision: Decision): void {
    const pending = this.#decision
    if (pending === undefined) return
    pending.resolve(decision)
    pending.resolve = noop
    // Taken and settled: nothing left to hold.
    if (pending.promise === undefined) this.#decision = undefined
  }

  get backlog (): number {
    return this.#queue?.size ?? 0
  }

  /** A layer event for this consumer's channel. */
  deliver (message: LayerMessage): void {
    if (this.state === 'closed') return
    this.#push(message)
  }

  /** Called with the upgraded socket; listeners go on at once so no frame is missed. */
  attach (socket: WebSocket): void {
    this.socket = socket
    // Shared listener functions (no closures per socket): they find us through the socket.
    ;(socket as Linked)[kSocketConnection] = this
    socket.on('message', onMessage)
    socket.on('pong', onPong)
    socket.on('error', onError)
    socket.once('close', onSocketClose)
    if (this.state === 'closed') {
      socket.close(this.#pendingClose?.code ?? 1011)
      return
    }
    this.state = 'open'
    this.#accepted?.resolve()
    this.#accepted = ACCEPTED
    if (this.#pendingClose !== undefined) socket.close(this.#pendingClose.code, this.#pendingClose.reason)
  }

  /** @internal a client frame. */
  frame (data: Buffer, binary: boolean): void {
    this.#push(new Control('frame', data, binary))
  }

  /** @internal a protocol error: ws sends the right close code (1009, 1007...) but its 'close' then says 1006. */
  protocolError (error: Error): void {
    this.#errorCode ??= closeCodeOf(error)
  }

  /** @internal the socket closed. */
  socketClosed (code: number): void {
    this.#onClose(code === 1006 && this.#errorCode !== undefined ? this.#errorCode : code)
  }

  /** The client went away before the upgrade finished, whatever the consumer was doing (connect() too). */
  abortHandshake (): void {
    if (this.state === 'open' || this.state === 'closed') return
    this.#gone = true
    this.#accepted?.reject(new ERR_CLIENT_GONE(GONE))
    if (!this.#decided) {
      this.#decided = true
      this.#decide({ accept: false, status: 400, closeCode: 1006 })
    }
    this.#onClose(1006)
  }

  accept (subprotocol?: string | null, headers?: HandshakeHeaders): Promise<void> {
    if (this.#accepted !== undefined) return this.#accepted.promise
    if (this.#gone) return Promise.reject(new ERR_CLIENT_GONE(GONE))
    if (this.#decided) return Promise.reject(new ERR_HANDSHAKE_STATE('accept() after the connection was refused or closed'))
    // Checked before anything is stored: a bad call leaves the consumer free to accept again, or close.
    const offered = (this.consumer.scope as Scope).subprotocols
    const chosen = subprotocol ?? null
    if (chosen !== null && !offered.includes(chosen)) {
      return Promise.reject(new ERR_INVALID_SUBPROTOCOL(`accept(${JSON.stringify(chosen)}): the client offered ${offered.length === 0 ? 'no subprotocols' : offered.map((p) => JSON.stringify(p)).join(', ')}`))
    }
    let lines: string[] | undefined
    try {
      if (headers !== undefined) lines = handshakeHeaderLines(headers)
    } catch (error) {
      return Promise.reject(error)
    }
    let settle!: { resolve: () => void, reject: (error: Error) => void }
    const promise = new Promise<void>((resolve, reject) => { settle = { resolve, reject } })
    this.#accepted = { promise, ...settle }
    this.state = 'accepted'
    this.#decided = true
    this.#decide({ accept: true, subprotocol: chosen, headers: lines })
    return promise
  }

  // Not async: the usual case (written at once, nothing to wait for) allocates no promise.
  send (data: OutgoingFrame, close?: boolean | number): Promise<void> {
    const socket = this.socket
    if (this.state !== 'open' || socket === undefined || socket.readyState !== 1) {
      if (this.state === 'connecting') return Promise.reject(new ERR_SEND_BEFORE_ACCEPT('send() before accept(): accept the connection first'))
      return DONE
    }
    let payload: string | Uint8Array
    if (typeof data?.text === 'string') payload = data.text
    else if (data?.bytes instanceof Uint8Array) payload = data.bytes
    else return Promise.reject(new ERR_INVALID_FRAME('send() takes { text: string } or { bytes: Uint8Array }'))
    let sent = DONE
    if (socket.bufferedAmount > HIGH_WATER) {
      sent = new Promise<void>((resolve) => socket.send(payload, { binary: typeof payload !== 'string' }, () => resolve()))
    } else if (typeof payload === 'string') {
      sendText(socket, payload)
    } else {
      socket.send(payload, { binary: true })
    }
    if (close === undefined || close === false) return sent
    return sent.then(async () => { await this.close(close === true ? 1000 : close) })
  }

  async close (code = 1000, reason?: string): Promise<void> {
    if (!VALID_CLOSE(code)) throw new ERR_INVALID_CLOSE_CODE(`Invalid WebSocket close code: ${code}`)
    if (this.state === 'connecting') {
      this.#refuse(403, code)
      return
    }
    if (this.state === 'accepted') {
      this.#pendingClose = { code, reason }
      return
    }
    if (this.state === 'open') this.socket?.close(code, reason)
  }

  /** app.close(): an open consumer closes with 1001; one still in connect() gets its handshake refused (503). */
  shutdown (): void {
    if (this.state === 'open') this.socket?.close(1001, 'server shutting down')
    else if (this.state === 'accepted') this.#pendingClose = { code: 1001, reason: 'server shutting down' }
    else if (this.state === 'connecting') this.#refuse(503, 1001)
  }

  /** app.close() stopped waiting for this consumer: its connection goes, whatever its code is doing. */
  abandon (): void {
    this.socket?.terminate()
    this.request.raw.socket?.destroy()
  }

  /** `Consumer (path, in connect())`: for app.close()'s report. */
  describe (): string {
    return `${this.consumer.constructor.name} (${this.request.raw.url ?? '?'}, ${this.#phase === undefined ? this.state : `in ${this.#phase}`})`
  }

  /** Sweep tick: a peer that did not answer the last ping is dropped. */
  ping (): void {
    const socket = this.socket
    if (socket === undefined || this.state !== 'open') return
    if (!this.alive) {
      socket.terminate()
      return
    }
    this.alive = false
    try {
      socket.ping()
    } catch {}
  }

  #refuse (status: number, closeCode: number): void {
    if (this.#decided) return
    this.#decided = true
    this.state = 'closed'
    this.#decide({ accept: false, status, closeCode })
    // The handshake is refused: disconnect(1006) runs and the groups are left, after connect().
    this.#push(new Control('disconnect', undefined, false, 1006))
  }

  #onClose (code: number): void {
    if (this.state === 'closed' && this.#decided && this.#accepted === undefined) return
    const wasOpen = this.state !== 'closed'
    this.state = 'closed'
    if (wasOpen) this.#push(new Control('disconnect', undefined, false, code))
  }

  #push (item: Item): void {
    if (this.#draining) (this.#queue ??= new Queue()).push(item)
    else this.#run(item)
  }

  // Items one at a time, in order. Not async: an item handled synchronously
  // costs no promise, and one whose handler returns a promise costs one then()
  // (a delivery to a busy fan-out is on this path once per consumer).
  #run (first: Item): void {
    // Everything the consumer does (handlers and what they await) is one thread-sensitive context.
    if (contexts.on) runInContext(() => { this.#drain(first) }, this.#syncContext ??= new SyncContext())
    else this.#drain(first)
  }

  #drain (first: Item): void {
    this.#draining = true
    let item: Item | undefined = first
    while (item !== undefined) {
      if (item instanceof Control && item.kind === 'disconnect') {
        const done = (): void => { this.#afterTeardown() }
        this.#teardown(item.code).then(done, done)
        return
      }
      let pending: Promise<void> | undefined
      try {
        pending = this.#handle(item)
      } catch (error) {
        this.#failed(error, item)
      }
      if (pending !== undefined) {
        const current = item
        Promise.resolve(pending).then(() => { this.#resume() }, (error: unknown) => {
          this.#failed(error, current)
          this.#resume()
        })
        return
      }
      item = this.#next()
    }
    this.#draining = false
  }

  #resume (): void {
    const item = this.#next()
    if (item === undefined) this.#draining = false
    else this.#run(item)
  }

  #next (): Item | undefined {
    return this.#queue?.shift()
  }

  // Whatever was queued behind the disconnect, or while it ran, is not handled (the consumer is gone).
  #afterTeardown (): void {
    this.#queue?.clear()
    this.#draining = false
  }

  #handle (item: Item): Promise<void> | undefined {
    const consumer = this.consumer
    if (!(item instanceof Control)) {
      if (this.state === 'closed') return undefined
      // As in Channels, layer messages of these types are handled as the client's own would be.
      if (item.type === 'websocket.receive') return this.#layerFrame(item)
      if (item.type === 'websocket.disconnect') return this.#layerDisconnect(item)
      if (item.type === 'auth.logout' && this.#authGroup !== undefined) return this.close(4003)
      return consumer.dispatch(item)
    }
    if (item.kind === 'frame') {
      if (this.state !== 'open') return undefined
      const data = item.data as Buffer
      const frame = item.binary ? { bytes: data } : { text: data.toString() }
      return (consumer as AsyncWebsocketConsumer).receive(frame)
    }
    return this.#connect()
  }

  #layerFrame (message: LayerMessage): Promise<void> | undefined {
    if (this.state !== 'open' && this.state !== 'accepted') return undefined
    const { text, bytes } = message
    if (typeof text === 'string') return (this.consumer as AsyncWebsocketConsumer).receive({ text })
    if (bytes instanceof Uint8Array) return (this.consumer as AsyncWebsocketConsumer).receive({ bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) })
    return Promise.reject(new ERR_INVALID_FRAME("A 'websocket.receive' message needs a string 'text' or Uint8Array 'bytes'"))
  }

  // The consumer ends as if its client had closed with the message's code: the socket is closed (1000).
  #layerDisconnect (message: LayerMessage): undefined {
    const code = typeof message.code === 'number' ? message.code : 1000
    if (this.state === 'open') this.socket?.close(1000)
    else if (this.state === 'accepted') this.#pendingClose = { code: 1000, reason: undefined }
    this.state = 'closed'
    this.#push(new Control('disconnect', undefined, false, code))
    return undefined
  }

  async #connect (): Promise<void> {
    const consumer = this.consumer as AsyncWebsocketConsumer
    this.#phase = 'connect()'
    try {
      await consumer.connect()
    } catch (error) {
      if (error instanceof DenyConnection) {
        this.#refuse(403, 1000)
        return
      }
      if (!this.#decided) {
        this.#report('error', error, `${consumer.constructor.name}.connect() failed`)
        this.#refuse(500, 1011)
        return
      }
      throw error
    } finally {
      this.#phase = undefined
    }
    // connect() returned without accepting or closing: refuse rather than hang, and say so.
    if (!this.#decided) {
      this.log.warn(`${consumer.constructor.name}.connect() returned without calling accept() or close(); the handshake is refused (403)`)
      this.#refuse(403, 1000)
    }
  }

  #failed (error: unknown, item: Item): void {
    const what = item instanceof Control ? item.kind : `'${item.type}' event`
    if (error instanceof StopConsumer) {
      if (this.state === 'open') this.socket?.close(1000)
      return
    }
    if (this.state === 'closed' && item === CONNECT) return
    this.#report('error', error, `${this.consumer.constructor.name} failed handling a ${what}; closing with 1011`)
    if (this.state === 'open') this.socket?.close(1011)
    else if (this.state === 'accepted') this.#pendingClose = { code: 1011, reason: undefined }
  }

  // Logs an error the consumer or the layer raised; a value the logger cannot serialise must not stop the connection's course.
  #report (level: 'error' | 'warn', error: unknown, message: string): void {
    try {
      this.log[level]({ err: error }, message)
    } catch {
      try { this.log[level](`${message} (the error could not be logged)`) } catch {}
    }
  }

  async #teardown (code: number): Promise<void> {
    this.state = 'closed'
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    const consumer = this.consumer as AsyncWebsocketConsumer
    this.#phase = 'disconnect()'
    try {
      if (typeof consumer.disconnect === 'function') await consumer.disconnect(code)
    } catch (error) {
      if (!(error instanceof StopConsumer)) this.#report('error', error, `${consumer.constructor.name}.disconnect() failed`)
    }
    this.#phase = undefined
    // Without a channel (the layer gave none) there is no membership to leave.
    const groups = this.#authGroup === undefined ? consumer.groups : [...consumer.groups, this.#authGroup]
    for (const group of consumer.channelName === undefined ? [] : groups) {
      try {
        await this.#layer.groupDiscard(group, consumer.channelName)
      } catch (error) {
        this.#report('warn', error, `could not leave the group ${group}`)
      }
    }
    this.#finished = true
    const waiters = this.#finishWaiters
    this.#finishWaiters = undefined
    if (waiters !== undefined) for (const resolve of waiters) resolve()
    this.#onFinished?.(this)
  }
}

type Linked = WebSocket & { [kSocketConnection]?: Connection }
const noop = (): void => {}
const ACCEPTED = { promise: Promise.resolve(), resolve: noop, reject: noop }

function onMessage (this: Linked, data: Buffer, isBinary: boolean): void { this[kSocketConnection]?.frame(data, isBinary) }
function onPong (this: Linked): void { const connection = this[kSocketConnection]; if (connection !== undefined) connection.alive = true }
function onError (this: Linked, error: Error): void { this[kSocketConnection]?.protocolError(error) }
function onSocketClose (this: Linked, code: number): void { this[kSocketConnection]?.socketClosed(code) }

// A group fan-out sends the same text to many sockets in a row: encode and
// frame it once and write that frame to each (as engine.io does). Only when
// the socket's sender is idle and uncompressed; otherwise ws's own send().
// In a group fan-out every consumer of the process sends the same text: it is
// framed once and the frame written to each socket. The frame is kept for the
// rest of this event-loop turn only (nothing outlives the burst that made it).
let lastText: string | undefined
let lastFrame: Buffer[] | undefined
let clearing = false

function forgetFrame (): void {
  lastText = undefined
  lastFrame = undefined
  clearing = false
}

function sendText (socket: WebSocket, text: string): void {
  if (text !== lastText) {
    lastFrame = textFrame(text)
    lastText = text
    if (!clearing) {
      clearing = true
      setImmediate(forgetFrame)
    }
  }
  if (lastFrame === undefined || !sendFrame(socket, lastFrame)) socket.send(text)
}

const DONE = Promise.resolve()

const PROTOCOL_ERRORS: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007
}

function closeCodeOf (error: Error): number {
  return wsErrorCloseCode(error) ?? PROTOCOL_ERRORS[(error as { code?: string }).code ?? ''] ?? 1002
}

// The layer's push fast path, or (for a layer without one) a receive() loop
// that an AbortSignal ends, so a departed consumer's receive steals nothing.
function subscribe (layer: ChannelLayer, channel: string, receiver: LocalReceiver): () => void {
  const fast = layer[kSubscribe]
  if (typeof fast === 'function') return fast.call(layer, channel, receiver)
  const controller = new AbortController()
  const loop = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        receiver.deliver(await layer.receive(channel, { signal: controller.signal }))
      } catch {
        if (controller.signal.aborted) return
        await new Promise((resolve) => setTimeout(resolve, 100).unref())
      }
    }
  }
  loop().catch(() => {})
  return () => controller.abort()
}
