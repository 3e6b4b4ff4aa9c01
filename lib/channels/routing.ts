import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import { ImproperlyConfigured } from '../errors.js'
import type { FlatPattern } from '../urls/compile.js'
import type { RouteGroup } from '../urls/router.js'
import { describe } from '../describe.js'
import { Connection } from './connection.js'
import type { ConsumerHandler } from './consumer.js'
import type { ChannelLayer } from './layer.js'
import { originChecker } from './origins.js'

/** The `websocket` option. */
export interface WebsocketOptions {
  /** WebSocket URL patterns: `path('ws/chat/<str:room>/', Chat.asHandler())`. */
  urlpatterns?: unknown
  /** Origins allowed to connect (see README); unset: same host only. Requests without Origin are admitted. */
  allowedOrigins?: string[]
  /** Largest frame accepted, in bytes; bigger -> close 1009. Default 1048576. */
  maxPayload?: number
  /** Ms between pings; a peer that misses one is dropped. 0 turns pings off. Default 30000. */
  pingInterval?: number
}

// Set on the raw upgrade request: the consumer's runtime, the chosen subprotocol,
// and the close code a refused consumer gave (read by the in-process test communicator).
export const kConnection = Symbol.for('fastify-async-views.ws.connection')
export const kSubprotocol = Symbol.for('fastify-async-views.ws.subprotocol')
export const kCloseCode = Symbol.for('fastify-async-views.ws.closeCode')

type RawUpgrade = FastifyRequest['raw'] & { [kConnection]?: Connection, [kSubprotocol]?: string | null, [kCloseCode]?: number }

const KEY = /^[+/0-9A-Za-z]{22}==$/

const kEarly = Symbol('fastify-async-views.ws.early')
type EarlySocket = NonNullable<FastifyRequest['raw']['socket']> & { [kEarly]?: Connection }

/** The live consumers of an app, for app.close() and the ping sweep. */
export class WebsocketRuntime {
  readonly connections = new Set<Connection>()
  #timer: NodeJS.Timeout | undefined

  startPings (interval: number): void {
    if (interval <= 0) return
    this.#timer = setInterval(() => { for (const connection of this.connections) connection.ping() }, interval)
    this.#timer.unref()
  }

  /**
   * app.close(): every consumer closes with 1001 and its disconnect() is awaited.
   * A peer that does not answer the close frame within `grace` ms is cut off.
   */
  async closeAll (grace = 2000): Promise<void> {
    clearInterval(this.#timer)
    const pending: Array<Promise<void>> = []
    for (const connection of this.connections) {
      pending.push(connection.finished)
      if (connection.state === 'open') connection.socket?.close(1001, 'server shutting down')
      else if (connection.state === 'accepted') connection.close(1001).catch(() => {})
    }
    const all = Promise.all(pending)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, grace, 'late') })
    if (await Promise.race([all, late]) === 'late') {
      for (const connection of this.connections) connection.socket?.terminate()
      await all
    }
    clearTimeout(timer)
  }
}

/** Registers @fastify/websocket (unless the app has it) with options that suit consumers. */
export async function ensureWebsocketPlugin (app: FastifyInstance, options: WebsocketOptions, runtime: WebsocketRuntime): Promise<void> {
  const maxPayload = options.maxPayload ?? 1048576
  const handleProtocols = (_protocols: Set<string>, request: RawUpgrade): string | false => request[kSubprotocol] ?? false
  if (app.hasDecorator('websocketServer')) {
    // The app registered @fastify/websocket itself: adopt what we can, say what we cannot.
    const wss = app.websocketServer as unknown as { options: Record<string, unknown> }
    wss.options.handleProtocols = handleProtocols
    wss.options.maxPayload = maxPayload
    app.log.warn('fastify-async-views: @fastify/websocket was registered by the app; its preClose runs too (consumers still close with 1001 first)')
    app.addHook('preClose', async () => { await runtime.closeAll() })
    return
  }
  await app.register(fastifyWebsocket, {
    options: { maxPayload, handleProtocols: handleProtocols as never },
    // Close consumers with 1001 and wait for their disconnect(), instead of a bare close.
    preClose: async function (this: FastifyInstance) {
      await runtime.closeAll()
      await new Promise<void>((resolve) => this.websocketServer.close(() => resolve()))
    },
    // ws closes the connection itself (1009 for a huge frame, 1007 for bad UTF-8...): log, do not terminate.
    errorHandler: (error: Error, _socket: WebSocket, request: FastifyRequest) => {
      request.log.info({ err: error }, 'WebSocket error')
    }
  })
}

/** Checks that every WebSocket pattern mounts a consumer. */
export function checkConsumerPatterns (patterns: readonly FlatPattern[]): void {
  for (const flat of patterns) {
    const view = flat.view as Partial<ConsumerHandler>
    if (typeof view.consumerClass !== 'function') {
      throw new ImproperlyConfigured(`websocket.urlpatterns: '${flat.pattern.toString()}' must mount a consumer with Consumer.asHandler() (got ${describe(flat.view)})`)
    }
  }
}

/** The Fastify route options for one group of WebSocket patterns. */
export function websocketRoute (group: RouteGroup, layer: () => ChannelLayer, runtime: WebsocketRuntime, allowedOrigins: string[] | undefined): Record<string, unknown> {
  const originAllowed = originChecker(allowedOrigins)
  const candidates = group.candidates

  // Before any consumer code: a malformed handshake is a 400, a foreign Origin a 403.
  const checkHandshake: onRequestHookHandler = function (req, reply, done) {
    if (!req.ws) {
      done()
      return
    }
    const headers = req.raw.headers
    const version = headers['sec-websocket-version']
    if (!KEY.test(headers['sec-websocket-key'] ?? '') || (version !== '13' && version !== '8') || !/\bwebsocket\b/i.test(headers.upgrade ?? '')) {
      refuse(reply, 400, 'Malformed WebSocket handshake')
      return
    }
    const origin = headers.origin
    if (!originAllowed(typeof origin === 'string' ? origin : undefined, headers.host ?? (headers[':authority'] as string | undefined))) {
      req.log.info({ origin }, 'WebSocket origin refused')
      refuse(reply, 403, 'Origin not allowed')
      return
    }
    done()
  }

  const connect: preHandlerHookHandler = function (req, reply, done) {
    if (!req.ws) {
      done()
      return
    }
    const params = req.params as Record<string, string>
    let found: { handler: ConsumerHandler, args: string[], kwargs: Record<string, unknown> } | undefined
    for (const candidate of candidates) {
      const match = candidate.match(params)
      if (match !== null) {
        found = { handler: match.pattern.view as unknown as ConsumerHandler, args: match.args, kwargs: match.kwargs }
        break
      }
    }
    if (found === undefined) {
      refuse(reply, 404, 'Not Found')
      return
    }
    const raw = req.raw as RawUpgrade
    let started: Connection | undefined
    Connection.start(found.handler, req, { args: found.args, kwargs: found.kwargs }, layer(), () => { if (started !== undefined) runtime.connections.delete(started) }).then(async (connection) => {
      started = connection
      const decision = await connection.takeDecision()
      if (!decision.accept) {
        // The consumer's own close code (close() / DenyConnection); a crash reports the HTTP status.
        if (decision.status === 403) raw[kCloseCode] = decision.closeCode
        refuse(reply, decision.status, decision.status === 403 ? 'WebSocket connection denied' : 'Internal Server Error')
        return
      }
      raw[kSubprotocol] = decision.subprotocol
      raw[kConnection] = connection
      runtime.connections.add(connection)
      // A client gone before the upgrade completes still gets its disconnect().
      if (raw.socket !== null && raw.socket !== undefined) {
        ;(raw.socket as EarlySocket)[kEarly] = connection
        raw.socket.once('close', onEarlyClose)
      }
      done()
    }, (error: unknown) => {
      req.log.error({ err: error }, 'WebSocket consumer could not start')
      refuse(reply, 500, 'Internal Server Error')
    })
  }

  // A GET that is not an upgrade: a handshake missing its Upgrade header is malformed (400),
  // anything else is told to upgrade (426).
  const httpHandler = function (req: FastifyRequest, reply: FastifyReply): void {
    const headers = req.raw.headers
    if (headers['sec-websocket-key'] !== undefined || headers['sec-websocket-version'] !== undefined) {
      refuse(reply, 400, 'Malformed WebSocket handshake')
      return
    }
    reply.header('upgrade', 'websocket')
    refuse(reply, 426, 'This URL only speaks WebSocket')
  }

  // An upgrade refused with an HTTP answer (by any hook) must not leave its socket open.
  const closeRefused = function (req: FastifyRequest, _reply: FastifyReply, done: () => void): void {
    if (req.raw.headers.upgrade !== undefined && (req.raw as RawUpgrade)[kConnection]?.socket === undefined) req.raw.socket?.destroy()
    done()
  }

  const handler = function (socket: WebSocket, req: FastifyRequest): void {
    const raw = req.raw as RawUpgrade
    const connection = raw[kConnection]
    if (raw.socket !== null && raw.socket !== undefined) {
      raw.socket.off('close', onEarlyClose)
      ;(raw.socket as EarlySocket)[kEarly] = undefined
    }
    if (connection === undefined) {
      socket.close(1011)
      return
    }
    connection.attach(socket)
  }

  // Shared (no closure per connection): the socket leads to its connection.
  function onEarlyClose (this: EarlySocket): void {
    this[kEarly]?.abortHandshake()
  }

  return {
    method: 'GET',
    url: group.url,
    onRequest: checkHandshake,
    preHandler: connect,
    onResponse: closeRefused,
    handler: httpHandler,
    wsHandler: handler
  }
}

function refuse (reply: FastifyReply, status: number, message: string): void {
  if (reply.sent) return
  reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify({ statusCode: status, error: STATUS[status] ?? 'Error', message }))
}

const STATUS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 426: 'Upgrade Required', 500: 'Internal Server Error' }
