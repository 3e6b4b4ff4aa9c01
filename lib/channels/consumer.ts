import type { HttpRequest } from '../http/request.js'
import { HttpResponse } from '../http/response.js'
import type { ViewFunction } from '../http/view-types.js'
import { encodeJson } from './json.js'
import type { HandshakeHeaders } from './handshake.js'
import type { ChannelLayer, LayerMessage } from './layer.js'
import type { ChannelScope, Scope } from './scope.js'
import { ERR_INVALID_INITKWARG, ERR_MALFORMED_TYPE, ERR_NO_HANDLER } from '../errors.js'
import { kConsumerConnection, kHandlers } from '../symbols.js'

/** What a consumer's socket-facing methods are delegated to (set by the runtime). */
export interface ConnectionControl {
  accept (subprotocol?: string | null, headers?: HandshakeHeaders): Promise<void>
  send (data: OutgoingFrame, close?: boolean | number): Promise<void>
  close (code: number, reason?: string): Promise<void>
}

/** A frame to send: text or bytes. */
export type OutgoingFrame = { text: string, bytes?: undefined } | { bytes: Uint8Array, text?: undefined }
/** A frame received: `text` for text frames, `bytes` for binary ones. */
export interface IncomingFrame { text?: string, bytes?: Buffer }

/**
 * What `asHandler()` returns: mount it in `websocket.urlpatterns` (as an HTTP view it answers 426).
 * `K` is the consumer's URL kwargs type, so `path()` checks the route gives them.
 */
export interface ConsumerHandler<K = Record<string, unknown>> extends ViewFunction<K> {
  consumerClass: new () => AsyncConsumer
  initkwargs: Readonly<Record<string, unknown>>
}

/** The URL kwargs a consumer class declares with its type parameter (`AsyncWebsocketConsumer<{ room: string }>`). */
type KwargsOfConsumer<T> = T extends { scope: Scope<infer K> } ? K : Record<string, unknown>

const baseMethods = new Set<string>()

// `a.b_c` -> `aBC` (camelCase), then `a_b_c` (Channels' name). Base class
// methods (close, send, accept...) are never event handlers.
function handlerName (consumer: AsyncConsumer, type: string): string | undefined {
  const ctor = consumer.constructor as { [kHandlers]?: Map<string, string | undefined> }
  let cache = Object.hasOwn(ctor, kHandlers) ? ctor[kHandlers] : undefined
  if (cache === undefined) {
    cache = new Map()
    Object.defineProperty(ctor, kHandlers, { value: cache })
  }
  if (cache.has(type)) return cache.get(type)
  const words = type.split(/[._]/)
  const camel = words.map((word, i) => i === 0 ? word : word.charAt(0).toUpperCase() + word.slice(1)).join('')
  const snake = type.replace(/\./g, '_')
  let found: string | undefined
  for (const name of [camel, snake]) {
    if (name === '' || baseMethods.has(name)) continue
    if (typeof (consumer as unknown as Record<string, unknown>)[name] === 'function') {
      found = name
      break
    }
  }
  if (cache.size < 1000) cache.set(type, found)
  return found
}

/**
 * Channels' AsyncConsumer: layer events are dispatched by `type` to methods
 * (`chat.message` -> `chatMessage` or `chat_message`), one at a time, in order.
 */
export class AsyncConsumer {
  /** The scope: a WebSocket's (path, headers, user, url route...) or a worker's `{ type: 'channel', channel }`. */
  scope!: Scope<unknown> | ChannelScope
  /** The app's channel layer. */
  channelLayer!: ChannelLayer
  /** This consumer's own channel on the layer. */
  channelName!: string
  /** Groups joined before `connect()` and left after `disconnect()`. */
  groups: string[] = []
  declare [kConsumerConnection]: ConnectionControl

  /** Calls the handler for a layer event's type; none -> an error (the connection closes with 1011). */
  dispatch (message: LayerMessage): Promise<void> {
    const type = message.type
    // As Channels (its #1430): a handler name starting with '_' (type '_a.b' or '.a') is private, never called.
    if (type.charCodeAt(0) === 95 || type.charCodeAt(0) === 46) return Promise.reject(new ERR_MALFORMED_TYPE(`Malformed type in message (leading underscore): ${JSON.stringify(type)}`))
    const name = handlerName(this, type)
    if (name === undefined) return Promise.reject(new ERR_NO_HANDLER(`No handler for message type ${JSON.stringify(type)} on ${this.constructor.name}`))
    try {
      // The handler's own promise, not another one wrapped around it.
      return Promise.resolve((this as unknown as Record<string, (m: LayerMessage) => Promise<void> | undefined>)[name](message))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** A handler for `websocket.urlpatterns`; `initkwargs` set attributes on each instance. */
  static asHandler<T extends AsyncConsumer> (this: new () => T, initkwargs: Partial<Omit<T, keyof AsyncConsumer>> = {}): ConsumerHandler<KwargsOfConsumer<T>> {
    const Cls = this
    const probe = new Cls() as unknown as Record<string, unknown>
    for (const key of Object.keys(initkwargs)) {
      if (!(key in probe)) throw new ERR_INVALID_INITKWARG(`${Cls.name}.asHandler() received an invalid keyword '${key}': only attributes the class already has`)
    }
    const handler = function (_request: HttpRequest): HttpResponse {
      return new HttpResponse('This URL only speaks WebSocket.', { status: 426, headers: { upgrade: 'websocket', connection: 'Upgrade' }, contentType: 'text/plain; charset=utf-8' })
    } as unknown as ConsumerHandler<KwargsOfConsumer<T>>
    Object.defineProperty(handler, 'name', { value: Cls.name })
    handler.consumerClass = Cls
    handler.initkwargs = Object.freeze({ ...initkwargs })
    return handler
  }
}

/**
 * Channels' AsyncWebsocketConsumer. `K` types the URL kwargs:
 * `class Chat extends AsyncWebsocketConsumer<{ room: string }>`.
 */
export class AsyncWebsocketConsumer<K = Record<string, unknown>> extends AsyncConsumer {
  /** The connection's scope (path, headers, cookies, user, url route...). */
  declare scope: Scope<K>

  /** Called before the handshake completes; the default accepts. */
  async connect (): Promise<void> {
    await this.accept()
  }

  /**
   * Accepts the connection, optionally choosing one of `scope.subprotocols` and
   * adding headers to the 101 (`[['Set-Cookie', 'a=1']]`); resolves once upgraded.
   */
  accept (subprotocol?: string | null, headers?: HandshakeHeaders): Promise<void> {
    return this[kConsumerConnection].accept(subprotocol, headers)
  }

  /** A frame from the client. */
  async receive (_data: IncomingFrame): Promise<void> {}

  /** Sends a frame; `close` closes afterwards (true for 1000, or a code). */
  send (data: OutgoingFrame, close?: boolean | number): Promise<void> {
    return this[kConsumerConnection].send(data, close)
  }

  /** Closes the connection (before `accept`: the handshake gets 403). */
  close (code = 1000, reason?: string): Promise<void> {
    return this[kConsumerConnection].close(code, reason)
  }

  /** Called once the connection is gone, with its close code. */
  async disconnect (_code: number): Promise<void> {}
}

/** Channels' AsyncJsonWebsocketConsumer: text frames are JSON. */
export class AsyncJsonWebsocketConsumer<K = Record<string, unknown>> extends AsyncWebsocketConsumer<K> {
  override async receive (data: IncomingFrame): Promise<void> {
    if (data.text === undefined) {
      await this.close(1003, 'binary frames are not accepted')
      return
    }
    let content: unknown
    try {
      content = this.decodeJson(data.text)
    } catch {
      await this.close(1007, 'invalid JSON')
      return
    }
    await this.receiveJson(content)
  }

  /** A decoded JSON message from the client. */
  async receiveJson (_content: unknown): Promise<void> {}

  /** Sends `content` encoded as JSON. */
  sendJson (content: unknown, close?: boolean | number): Promise<void> {
    return this.send({ text: this.encodeJson(content) }, close)
  }

  decodeJson (text: string): unknown {
    return JSON.parse(text)
  }

  encodeJson (content: unknown): string {
    return encodeJson(content)
  }
}

for (const proto of [Object.prototype, AsyncConsumer.prototype, AsyncWebsocketConsumer.prototype, AsyncJsonWebsocketConsumer.prototype]) {
  for (const name of Object.getOwnPropertyNames(proto)) baseMethods.add(name)
}
