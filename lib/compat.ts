import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import * as ws from 'ws'

// Every place the package reaches past a dependency's public API lives here,
// each with the public way it falls back to when the shape it expects is gone
// (slower or less exact, never broken). `compatProblems()` says which reaches
// no longer hold: the plugin logs it once at start-up, and test/compat.test.ts
// fails on it, so a dependency upgrade that moves one is seen at once.

const problems = new Set<string>()
let log: FastifyBaseLogger | undefined

function lost (what: string): void {
  if (problems.has(what)) return
  problems.add(what)
  warn([what])
}

function warn (fallbacks: string[]): void {
  log?.warn({ fallbacks }, 'fastify-async-views: a dependency changed a private shape this package uses; it falls back to the public API')
}

// --- Fastify --------------------------------------------------------------

/**
 * Whether `handler` is Fastify's own default error handler (so the user set
 * none). Fastify exposes no flag for it; its default is a function of that name.
 */
export function isFastifyDefaultErrorHandler (handler: unknown): boolean {
  return typeof handler === 'function' && handler.name === 'defaultErrorHandler'
}

// `request.routeOptions` builds a new object on every read: too dear per
// request. Fastify keeps the route's context (with its `config`) under a
// private symbol; found once, with routeOptions as the fallback.
let kRouteContext: symbol | null | undefined

const kPruned = Symbol('fastify-async-views.hooksPruned')

/**
 * Drops the hooks named `names` from the route context `req` runs in, once per
 * context (after that, two property reads a request). Fastify gives a context
 * every hook of its ancestors, added before or after it; a view route's handler
 * does the work of the plugin's plain-route hooks itself, so on a view route
 * they only pass the request on, at ~1k instructions a request (a third of what
 * three middlewares cost). Fastify binds hooks ("bound name"). When the context
 * is not found (Fastify changed), nothing is dropped: the hooks still pass.
 */
export function pruneRouteHooks (req: FastifyRequest, names: ReadonlySet<string>): void {
  if (kRouteContext === undefined) routeConfig(req)
  if (kRouteContext === null) return
  const context = (req as unknown as Record<symbol, Record<PropertyKey, unknown> | undefined>)[kRouteContext as symbol]
  if (context === undefined || context[kPruned] === true) return
  context[kPruned] = true
  for (const kind of ['onRequest', 'preHandler']) {
    const hooks = context[kind]
    if (!Array.isArray(hooks)) continue
    const kept = hooks.filter((hook: { name?: string }) => !names.has(String(hook.name).replace(/^bound /, '')))
    if (kept.length !== hooks.length) context[kind] = kept.length === 0 ? null : kept
  }
}

/** The route's `config` (what was given in its options), read cheaply. */
export function routeConfig (req: FastifyRequest): Record<PropertyKey, unknown> | undefined {
  if (kRouteContext === undefined) {
    kRouteContext = Object.getOwnPropertySymbols(req).find((s) => s.description === 'fastify.context') ?? null
    if (kRouteContext === null) lost("Fastify's route context symbol (request.routeOptions is read instead)")
  }
  if (kRouteContext !== null) {
    const context = (req as unknown as Record<symbol, { config?: Record<PropertyKey, unknown> } | undefined>)[kRouteContext]
    if (context !== undefined) return context.config
  }
  return req.routeOptions.config as unknown as Record<PropertyKey, unknown> | undefined
}

/**
 * Whether Fastify's `trustProxy` takes X-Forwarded-Proto from this peer.
 * Fastify exposes only the result (`request.protocol`, from the rightmost
 * value; Django reads the leftmost), so its own getter is asked about a probe.
 */
export function trustsForwardedProto (req: FastifyRequest, own: string): boolean {
  let proto: object | null = Object.getPrototypeOf(req)
  let getter: (() => unknown) | undefined
  while (proto !== null && getter === undefined) {
    getter = Object.getOwnPropertyDescriptor(proto, 'protocol')?.get
    proto = Object.getPrototypeOf(proto)
  }
  if (getter === undefined) {
    lost("Fastify's request.protocol getter (X-Forwarded-Proto is not trusted)")
    return false
  }
  const probe = own === 'https' ? 'http' : 'https'
  try {
    return getter.call({ headers: { 'x-forwarded-proto': probe }, raw: req.raw, socket: req.raw.socket }) === probe
  } catch {
    return false
  }
}

/** A content-type parser as Fastify calls it (callback style, or returning a promise). */
export type ContentTypeParserFn = (req: FastifyRequest, payload: unknown, done: (error: Error | null, body?: unknown) => void) => unknown

/**
 * The parser an instance has for one content type. Fastify has no getter, and
 * the view routes reset their parsers (raw bytes for views), so a plugin's
 * parser that marks requests (@fastify/multipart's) must be copied into them.
 * Undefined when the shape is gone: the caller then falls back.
 */
export function contentTypeParserOf (instance: FastifyInstance, type: string): ContentTypeParserFn | undefined {
  const symbol = Object.getOwnPropertySymbols(instance).find((s) => s.description === 'fastify.contentTypeParser')
  const parsers = symbol === undefined ? undefined : (instance as unknown as Record<symbol, { customParsers?: unknown } | undefined>)[symbol]?.customParsers
  const fn = parsers instanceof Map ? (parsers.get(type) as { fn?: unknown } | undefined)?.fn : undefined
  if (typeof fn === 'function') return fn as ContentTypeParserFn
  if (!(parsers instanceof Map)) lost("Fastify's content-type parser table (multipart requests of the view routes answer isMultipart() through an own property)")
  return undefined
}

// --- ws -------------------------------------------------------------------

interface WsParsers { subprotocol?: { parse: (header: string) => Set<string> }, extension?: { parse: (header: string) => unknown } }
// Named exports of ws's ESM entry (its CommonJS one hangs them on the class).
const parsers = ws as unknown as WsParsers

/** ws's own Sec-WebSocket-Protocol parser (exported, not typed), if it has one. */
export const parseSubprotocols = typeof parsers.subprotocol?.parse === 'function' ? parsers.subprotocol.parse : undefined
/** ws's own Sec-WebSocket-Extensions parser (exported, not typed), if it has one. */
export const parseExtensions = typeof parsers.extension?.parse === 'function' ? parsers.extension.parse : undefined
if (parseSubprotocols === undefined) lost("ws's subprotocol parser (our own token-list parser is used)")
if (parseExtensions === undefined) lost("ws's extension parser (Sec-WebSocket-Extensions is not checked)")

/** ws's close code for a protocol error: under a private symbol, else from its error code. */
export function wsErrorCloseCode (error: Error): number | undefined {
  for (const symbol of Object.getOwnPropertySymbols(error)) {
    if (symbol.description === 'status-code') {
      const code = (error as unknown as Record<symbol, unknown>)[symbol]
      if (typeof code === 'number') return code
    }
  }
  return undefined
}

interface FramingSender { _state: number, _queue: unknown[], sendFrame: (list: Buffer[], cb?: () => void) => void }
type FrameFn = (data: Buffer, options: { fin: boolean, rsv1: boolean, opcode: number, mask: boolean, readOnly: boolean }) => Buffer[]
const frameFn = (ws as unknown as { Sender?: { frame?: FrameFn } }).Sender?.frame
if (typeof frameFn !== 'function') lost("ws's Sender.frame (every text is framed by socket.send)")

/** One text frame (header and payload in one buffer), to send to many sockets; undefined when ws cannot. */
export function textFrame (text: string): Buffer[] | undefined {
  if (typeof frameFn !== 'function') return undefined
  return [Buffer.concat(frameFn(Buffer.from(text), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }))]
}

let senderChecked = false

/**
 * Writes a frame made by textFrame() on a socket whose sender is idle and has
 * no extension (so the frame needs no compression); false when it cannot, and
 * the caller sends the text the public way.
 */
export function sendFrame (socket: WebSocket, frame: Buffer[]): boolean {
  const sender = (socket as unknown as { _sender?: FramingSender })._sender
  if (!senderChecked) {
    senderChecked = true
    if (sender === undefined || typeof sender.sendFrame !== 'function' || typeof sender._state !== 'number' || !Array.isArray(sender._queue)) {
      lost("ws's Sender internals (_sender, _state, _queue, sendFrame): each frame is built per socket")
    }
  }
  const extensions = (socket as unknown as { _extensions?: Record<string, unknown> })._extensions
  if (sender === undefined || typeof sender.sendFrame !== 'function' || sender._state !== 0 || !Array.isArray(sender._queue) ||
      sender._queue.length !== 0 || (extensions !== undefined && Object.keys(extensions).length > 0)) {
    return false
  }
  sender.sendFrame(frame)
  return true
}

// --- the check ------------------------------------------------------------

/** The reaches that no longer hold on the installed dependencies (empty when all do). */
export function compatProblems (): string[] {
  return [...problems]
}

/** Logs, once per process, the reaches that fell back (and any found later). */
export function reportCompat (logger: FastifyBaseLogger): void {
  if (log !== undefined) return
  log = logger
  if (problems.size > 0) warn(compatProblems())
}
