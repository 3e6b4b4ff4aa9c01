import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import { ImproperlyConfigured } from '../errors.js'
import type { FlatPattern } from '../urls/compile.js'
import type { RouteGroup } from '../urls/router.js'
import { describe } from '../describe.js'
import { Connection } from './connection.js'
import type { ConsumerHandler } from './consumer.js'
import { malformedHandshake } from './handshake.js'
import type { ChannelLayer } from './layer.js'
import type { Scope } from './scope.js'
import { originChecker } from './origins.js'
import { kCloseCode, kEarly, kSession, kSocketCookie, kSubprotocol, kUpgradeConnection, kUpgradeCookies, kUpgradeHeaders } from '../symbols.js'
import { SessionError } from '../errors.js'
import { PROBLEM_TYPE, problemBody } from '../http/problems.js'

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
  /** Ms app.close() waits for consumers' disconnect() (Daphne's application close timeout); then it logs them and goes on. Default 10000. */
  closeTimeout?: number
}

// Set on the raw upgrade request: the consumer's runtime, the chosen subprotocol,
// and the close code a refused consumer gave (read by the in-process test communicator).

type RawUpgrade = FastifyRequest['raw'] & { [kUpgradeConnection]?: Connection, [kSubprotocol]?: string | null, [kCloseCode]?: number, [kUpgradeHeaders]?: string[], [kUpgradeCookies]?: string[] }

type EarlySocket = NonNullable<FastifyRequest['raw']['socket']> & { [kEarly]?: Connection }

/** The live consumers of an app (from the start of their handshake), for app.close() and the ping sweep. */
export class WebsocketRuntime {
  readonly connections = new Set<Connection>()
  readonly closeTimeout: number
  readonly #log: FastifyBaseLogger
  #timer: NodeJS.Timeout | undefined

  constructor (log: FastifyBaseLogger, closeTimeout = 10000) {
    this.#log = log
    this.closeTimeout = closeTimeout
  }

  startPings (interval: number): void {
    if (interval <= 0) return
    this.#timer = setInterval(() => { for (const connection of this.connections) connection.ping() }, interval)
    this.#timer.unref()
  }

  /**
   * app.close(): every consumer closes with 1001 (one still in connect() has its
   * handshake refused) and its disconnect() is awaited. A peer that does not
   * answer the close frame within `grace` ms is cut off; consumers not done
   * after `closeTimeout` ms are logged and left behind, their sockets destroyed.
   */
  async closeAll (grace = 2000): Promise<void> {
    clearInterval(this.#timer)
    const started = Date.now()
    const pending: Array<Promise<void>> = []
    for (const connection of this.connections) {
      pending.push(connection.finished)
      connection.shutdown()
    }
    const all = Promise.all(pending)
    if (await settles(all, Math.min(grace, this.closeTimeout))) return
    for (const connection of this.connections) connection.socket?.terminate()
    if (await settles(all, this.closeTimeout - (Date.now() - started))) return
    const left = [...this.connections].filter((connection) => !connection.done)
    if (left.length === 0) return
    this.#log.warn(`fastify-async-views: app.close() gave up after ${this.closeTimeout} ms (websocket.closeTimeout) waiting for ${left.length} consumer(s): ${left.map((c) => c.describe()).join(', ')}`)
    for (const connection of left) connection.abandon()
  }
}

/** True when `promise` settles within `ms`. */
async function settles (promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => { timer = setTimeout(resolve, Math.max(ms, 0), false) })
  try {
    return await Promise.race([promise.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}

// accept()'s extra headers go on the 101 through ws's public 'headers' event.
function addAcceptHeaders (headers: string[], request: RawUpgrade): void {
  const extra = request[kUpgradeHeaders]
  if (extra !== undefined) headers.push(...extra)
  const cookies = request[kUpgradeCookies]
  if (cookies !== undefined) for (const line of cookies) headers.push(`Set-Cookie: ${line}`)
}

/**
 * A session cookie set during connect() rides on the 101; once accept() was
 * called the handshake's headers are fixed (TRAPS 39): a SessionError, where
 * Channels loses the change silently.
 */
function allowSessionCookie (req: FastifyRequest, raw: RawUpgrade, connection: () => Connection | undefined): void {
  (req as { [kSocketCookie]?: (line: string | null) => void })[kSocketCookie] = (line) => {
    if (connection()?.state !== 'connecting') throw new SessionError('This session change needs a new cookie, and the WebSocket was accepted (its 101 is sent): log in or change a cookie-store session before accept()')
    if (line === null) return
    const lines = raw[kUpgradeCookies] ??= []
    // One session cookie: the last one set wins.
    const name = line.slice(0, line.indexOf('='))
    const i = lines.findIndex((l) => l.startsWith(name + '='))
    if (i === -1) lines.push(line)
    else lines[i] = line
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
    app.websocketServer.on('headers', addAcceptHeaders)
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
  app.websocketServer.on('headers', addAcceptHeaders)
}

/** Refuses a consumer mounted among the HTTP patterns: it would answer 426 or time out, never connect. */
export function checkHttpPatterns (patterns: readonly FlatPattern[]): void {
  for (const flat of patterns) {
    const consumer = (flat.view as Partial<ConsumerHandler>).consumerClass
    if (typeof consumer === 'function') {
      throw new ImproperlyConfigured(`URL pattern '${flat.route}' mounts the consumer ${consumer.name} (${consumer.name}.asHandler()) among the HTTP urlpatterns; consumers belong in websocket.urlpatterns`)
    }
  }
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
// Most WebSocket URLs capture nothing: they share one (frozen) urlRoute instead of three objects per connection.
const NO_ROUTE_ARGS = Object.freeze({ args: Object.freeze([]) as unknown as string[], kwargs: Object.freeze({}) })
function urlRouteOf (args: string[], kwargs: Record<string, unknown>): Scope['urlRoute'] {
  return args.length === 0 && Object.keys(kwargs).length === 0 ? NO_ROUTE_ARGS : { args, kwargs }
}

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
    const malformed = malformedHandshake(headers)
    if (malformed !== undefined) {
      refuse(reply, 400, `Malformed WebSocket handshake: ${malformed}`)
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

  const forget = (connection: Connection): void => { runtime.connections.delete(connection) }

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
    if ((req as { [kSession]?: unknown })[kSession] !== undefined) allowSessionCookie(req, raw, () => connection)
    // (Its end always comes later: the start awaits the layer first.)
    const connection = Connection.start(found.handler, req, urlRouteOf(found.args, found.kwargs), layer(), forget)
    runtime.connections.add(connection)
    // From now on, a client that goes away (during connect() too) still gets its disconnect().
    const socket = raw.socket as EarlySocket | null
    if (socket !== null) {
      socket[kEarly] = connection
      if (socket.destroyed) connection.abortHandshake()
      else socket.once('close', onEarlyClose)
    }
    connection.takeDecision().then((decision) => {
      if (!decision.accept) {
        // The consumer's own close code (close() / DenyConnection); a crash reports the HTTP status.
        if (decision.status === 403) raw[kCloseCode] = decision.closeCode
        refuse(reply, decision.status, REFUSALS[decision.status] ?? 'Internal Server Error')
        return
      }
      raw[kSubprotocol] = decision.subprotocol
      raw[kUpgradeHeaders] = decision.headers
      raw[kUpgradeConnection] = connection
      done()
    }).catch((error: unknown) => {
      // Nothing from here may become an unhandled rejection.
      try {
        req.log.error({ err: error }, 'WebSocket handshake failed')
        refuse(reply, 500, 'Internal Server Error')
      } catch {}
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
    if (req.raw.headers.upgrade !== undefined && (req.raw as RawUpgrade)[kUpgradeConnection]?.socket === undefined) req.raw.socket?.destroy()
    done()
  }

  const handler = function (socket: WebSocket, req: FastifyRequest): void {
    const raw = req.raw as RawUpgrade
    const connection = raw[kUpgradeConnection]
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

const REFUSALS: Record<number, string> = { 400: 'The client went away during the handshake', 403: 'WebSocket connection denied', 503: 'Server shutting down' }

function refuse (reply: FastifyReply, status: number, message: string): void {
  if (reply.sent) return
  reply.code(status).type(PROBLEM_TYPE).send(problemBody(status, message))
}
