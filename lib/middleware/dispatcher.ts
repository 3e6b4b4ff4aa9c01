import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpRequest, type RequestContext } from '../http/request.js'
import { HttpResponse, type SendContext } from '../http/response.js'
import type { ErrorPolicy } from '../http/error-policy.js'
import { sendResponse, toResponse } from '../http/send.js'
import { messageOf } from '../http/problems.js'
import type { ViewFunction } from '../http/view-types.js'
import type { RouteMatch } from '../urls/router.js'
import { kExchange, kMatchData, kReply } from '../symbols.js'
import { buildChain, type Chain } from './chain.js'
import { Exchange } from './exchange.js'
import type { Middleware } from './types.js'
import { ERR_NON_ERROR_THROWN } from '../errors.js'
import { contexts, runInContext } from '../sync/context.js'

export interface DispatcherOptions {
  policy: ErrorPolicy
  context: RequestContext & SendContext
  /** Django-style middleware, outermost first. */
  middleware?: readonly Middleware[]
  /** Told about a middleware whose factory threw MiddlewareNotUsed. */
  onNotUsed?: (name: string, error: Error) => void
  /** APPEND_SLASH: the redirect for a request no pattern resolves, if `path + '/'` does. */
  appendSlash?: (req: FastifyRequest) => HttpResponse | undefined
  /** With debug: warn when a view's or middleware's synchronous part blocks the loop this long (ms). */
  blockingWarnMs?: number
}

type Marked = FastifyRequest & { [kExchange]?: Exchange | typeof VIEW | null }

// Marks a view request that runs through the chain, so onSend lets its response pass.
const VIEW = Symbol('fastify-async-views.viewRequest')

/**
 * Django's BaseHandler, built once at registration: the middleware onion with
 * the view at its centre, and what errors become. A request flows one way:
 * route -> dispatcher -> (middleware -> view) -> response -> reply.
 */
export class Dispatcher {
  readonly policy: ErrorPolicy
  readonly context: RequestContext & SendContext
  /** The built onion; undefined when there is no middleware. */
  readonly chain: Chain | undefined
  readonly #appendSlash: DispatcherOptions['appendSlash']
  readonly #blockingWarnMs: number | undefined

  constructor (options: DispatcherOptions) {
    this.policy = options.policy
    this.context = options.context
    this.#appendSlash = options.appendSlash
    this.#blockingWarnMs = options.blockingWarnMs
    let chain: Chain | undefined
    if (options.middleware !== undefined && options.middleware.length > 0) {
      const watch = options.blockingWarnMs === undefined ? undefined : (name: string, ms: number, request: HttpRequest) => this.#warnIfSlow(`middleware ${name}`, ms, request)
      chain = buildChain(options.middleware, this.#inner, this.#convert, options.onNotUsed, watch)
    }
    this.chain = chain !== undefined && chain.names.length > 0 ? chain : undefined
  }

  /**
   * A view route matched a pattern: run it (through the middleware) and send
   * its response. Returns nothing: the reply is always sent by us (or, for the
   * user's error handler, by `reply.send(error)`), so Fastify waits on no promise.
   */
  serveView (req: FastifyRequest, reply: FastifyReply, match: RouteMatch): void {
    // One thread-sensitive context per request, once the app uses the bridge (one boolean until then).
    if (contexts.on) runInContext(() => { this.#serveView(req, reply, match) })
    else this.#serveView(req, reply, match)
  }

  #serveView (req: FastifyRequest, reply: FastifyReply, match: RouteMatch): void {
    const request = new HttpRequest(req, reply, this.context, match)
    if (this.chain !== undefined) {
      this.#runChain(request, req)
      return
    }
    const view = match.pattern.view as ViewFunction<any>
    let result: unknown
    try {
      result = this.#blockingWarnMs === undefined ? view(request, match.kwargs) : this.#timedView(request, view, match.kwargs)
    } catch (error) {
      this.#fail(request, reply, error)
      return
    }
    if (result instanceof HttpResponse) {
      sendResponse(reply, result, this.context, this.policy.debug, request)
    } else if (result !== null && typeof (result as Promise<unknown>)?.then === 'function') {
      (result as Promise<unknown>).then(
        (value) => { this.#finish(request, reply, value, view) },
        (error) => { this.#fail(request, reply, error) }
      )
    } else {
      this.#finish(request, reply, result, view)
    }
  }

  /** A view route took the request but no pattern matched: APPEND_SLASH, else the 404. */
  serveNotFound (req: FastifyRequest, reply: FastifyReply, makeError: (request: HttpRequest) => unknown): void {
    const redirect = this.#appendSlash?.(req)
    if (redirect !== undefined) sendResponse(reply, redirect, this.context, this.policy.debug)
    else this.serveError(req, reply, makeError)
  }

  /** Answers a request with the response for an error raised before any view ran (a 404, a bad Host). */
  serveError (req: FastifyRequest, reply: FastifyReply, makeError: (request: HttpRequest) => unknown): void {
    if (contexts.on) runInContext(() => { this.#serveError(req, reply, makeError) })
    else this.#serveError(req, reply, makeError)
  }

  #serveError (req: FastifyRequest, reply: FastifyReply, makeError: (request: HttpRequest) => unknown): void {
    const match = { pattern: undefined, error: undefined as unknown }
    const request = new HttpRequest(req, reply, this.context, match)
    match.error = makeError(request)
    if (this.chain !== undefined) this.#runChain(request, req)
    else this.#fail(request, reply, match.error)
  }

  /** The APPEND_SLASH redirect for a request Fastify found no route for, if any. */
  appendSlashFor (req: FastifyRequest): HttpResponse | undefined {
    return this.#appendSlash?.(req)
  }

  /**
   * A plain Fastify route's request enters the chain (from preHandler);
   * `done` lets Fastify run the route when the innermost layer is reached.
   */
  servePlain (req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const exchange = new Exchange(reply, done)
    ;(req as Marked)[kExchange] = exchange
    this.#enter(new HttpRequest(req, reply, this.context))
  }

  /**
   * onSend: a response Fastify made. It is what a waiting chain captures, or
   * passes (the chain already ran), or enters the chain late (Fastify rejected
   * the request before any handler: 404 from a hook, 413, 415, schema 400).
   */
  serveSend (req: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload?: unknown) => void): void {
    const exchange = (req as Marked)[kExchange]
    if (exchange === VIEW) {
      done(null, payload)
      return
    }
    if (exchange != null) {
      if (exchange.waiting) exchange.captureFrom(payload, done)
      else done(null, payload)
      return
    }
    // WebSocket upgrades bypass middleware, as in Django.
    if (req.ws) {
      done(null, payload)
      return
    }
    const late = Exchange.late(reply, payload, done)
    ;(req as Marked)[kExchange] = late
    this.#enter(new HttpRequest(req, reply, this.context))
  }

  // The request's exchange is already under kExchange: #deliver finds it there.
  // One thread-sensitive context per request, once the app uses the bridge.
  #enter (request: HttpRequest): void {
    if (contexts.on) runInContext(() => { (this.chain as Chain).run(request, this.#deliver) })
    else (this.chain as Chain).run(request, this.#deliver)
  }

  #runChain (request: HttpRequest, req: FastifyRequest): void {
    (req as Marked)[kExchange] = VIEW
    // The chain never rejects (every layer converts its errors).
    ;(this.chain as Chain).run(request, this.#deliver)
  }

  // The chain's final response: sent, or handed to the exchange (a plain route's
  // onSend, or the user's error handler made the response the chain worked on).
  readonly #deliver = (request: HttpRequest, final: HttpResponse): void => {
    const exchange = (request.fastify as Marked)[kExchange]
    if (exchange !== VIEW && exchange != null) exchange.deliver(final, this.context, this.policy.debug)
    else sendResponse(request[kReply], final, this.context, this.policy.debug, request)
  }

  /** The innermost layer of the onion: the view, a routing error, or the plain route's handler. */
  readonly #inner = (request: HttpRequest): Promise<HttpResponse> => {
    const match = request[kMatchData]
    if (match === undefined) return this.#plain(request)
    if (match.pattern === undefined) return this.#convert(request, match.error)
    return this.#view(request, match)
  }

  // Django's `_get_response`: processView, the view, processException.
  #view (request: HttpRequest, match: RouteMatch): Promise<HttpResponse> {
    const chain = this.chain as Chain
    if (chain.processView.length > 0 || chain.processException.length > 0) {
      return this.#viewWithHooks(request, match, chain).then(undefined, (error) => this.#convert(request, error))
    }
    const view = match.pattern.view as ViewFunction<any>
    let result: unknown
    try {
      result = this.#blockingWarnMs === undefined ? view(request, match.kwargs) : this.#timedView(request, view, match.kwargs)
    } catch (error) {
      return this.#convert(request, error)
    }
    if (result instanceof HttpResponse) return Promise.resolve(result)
    if (result === null || typeof (result as Promise<unknown>)?.then !== 'function') return this.#respond(request, result, view)
    return Promise.resolve(result).then((value) => value instanceof HttpResponse ? value : this.#respond(request, value, view), (error) => this.#convert(request, error))
  }

  // A view's non-response result as a response (JSON), or the error it is.
  #respond (request: HttpRequest, result: unknown, view: ViewFunction<any>): Promise<HttpResponse> {
    try {
      return Promise.resolve(toResponse(result, view))
    } catch (error) {
      return this.#convert(request, error)
    }
  }

  async #viewWithHooks (request: HttpRequest, match: RouteMatch, chain: Chain): Promise<HttpResponse> {
    const view = match.pattern.view as ViewFunction<any>
    for (const processView of chain.processView) {
      const response = await processView(request, view, match.args, match.kwargs)
      if (response instanceof HttpResponse) return response
    }
    let result: unknown
    try {
      result = await (this.#blockingWarnMs === undefined ? view(request, match.kwargs) : this.#timedView(request, view, match.kwargs))
    } catch (error) {
      for (const processException of chain.processException) {
        const response = await processException(request, error)
        if (response instanceof HttpResponse) return response
      }
      throw error
    }
    return toResponse(result, view)
  }

  // A plain Fastify route: processView (not for 404s, as Django), then the route's own handler.
  #plain (request: HttpRequest): Promise<HttpResponse> {
    const req = request.fastify as Marked
    const exchange = req[kExchange] as Exchange
    if (exchange.captured !== undefined) return Promise.resolve(exchange.captured)
    const chain = this.chain as Chain
    if (chain.processView.length > 0 && !req.is404) return this.#plainWithHooks(request, exchange, chain).then(undefined, (error) => this.#convert(request, error))
    return continueToFastify(request, exchange)
  }

  async #plainWithHooks (request: HttpRequest, exchange: Exchange, chain: Chain): Promise<HttpResponse> {
    const req = request.fastify
    const view = req.routeOptions.handler
    const params = { ...(req.params as Record<string, unknown> ?? {}) }
    for (const processView of chain.processView) {
      const response = await processView(request, view, [], params)
      if (response != null) return response
    }
    return await continueToFastify(request, exchange)
  }

  /** How the chain turns an error into a response: the user's Fastify error handler, or the policy's. */
  readonly #convert = (request: HttpRequest, error: unknown): Promise<HttpResponse> => {
    if (this.policy.escalates(error)) {
      const req = request.fastify as Marked
      let exchange = req[kExchange]
      if (exchange === VIEW || exchange == null) {
        exchange = new Exchange(request[kReply])
        req[kExchange] = exchange
      }
      if (!exchange.busy) {
        const reply = exchange.reply
        return exchange.capture(() => { reply.send(asError(error)) })
      }
    }
    return this.policy.responseFor(request, error)
  }

  #finish (request: HttpRequest, reply: FastifyReply, result: unknown, view: ViewFunction<any>): void {
    let response: HttpResponse
    try {
      response = toResponse(result, view)
    } catch (error) {
      this.#fail(request, reply, error)
      return
    }
    sendResponse(reply, response, this.context, this.policy.debug, request)
  }

  // A view error with no middleware: the user's error handler (Fastify runs it:
  // see the view routes' errorHandler), or the policy's response.
  #fail (request: HttpRequest, reply: FastifyReply, error: unknown): void {
    if (this.policy.escalates(error)) reply.send(asError(error))
    else this.policy.responseFor(request, error).then((response) => { sendResponse(reply, response, this.context, this.policy.debug, request) })
  }

  /** Calls a view, warning when its synchronous part held the event loop (debug only). */
  #timedView (request: HttpRequest, view: ViewFunction<any>, kwargs: Record<string, unknown>): unknown {
    const started = performance.now()
    try {
      return view(request, kwargs)
    } finally {
      this.#warnIfSlow(`view ${view.name === '' ? '<anonymous>' : view.name}`, performance.now() - started, request)
    }
  }

  /** Logs the classic mistake: blocking work on the event loop. */
  #warnIfSlow (what: string, ms: number, request: HttpRequest): void {
    const limit = this.#blockingWarnMs
    if (limit === undefined || ms < limit) return
    try {
      request.fastify.log.warn({ blockedMs: Math.round(ms) }, `${what} blocked the event loop for ${Math.round(ms)} ms (over ${limit} ms): move blocking work to syncToAsync() or syncView()`)
    } catch {}
  }
}

// Fastify's reply.send() takes the error path only for an Error.
function asError (error: unknown): Error {
  return error instanceof Error ? error : new ERR_NON_ERROR_THROWN(messageOf(error), { cause: error })
}

/** Lets Fastify run a plain route's handler and waits for the response it makes. */
function continueToFastify (request: HttpRequest, exchange: Exchange): Promise<HttpResponse> {
  const req = request.fastify as unknown as Record<string, unknown>
  // Attributes middleware set (`request.session`...) are seen by the Fastify handler too
  // (for...in: no array per request; class members are not enumerable).
  for (const key in request) {
    if (key !== 'fastify' && key !== 'method') req[key] = (request as unknown as Record<string, unknown>)[key]
  }
  return exchange.capture(() => {
    const res = exchange.reply.raw as FastifyReply['raw'] & { [kExchange]?: Exchange }
    res[kExchange] = exchange
    res.on('close', releaseOnClose)
    ;(exchange.continueFastify as () => void)()
  })
}

// Shared (no closure per request): a reply that never reached onSend (hijacked) lets its chain finish.
function releaseOnClose (this: { [kExchange]?: Exchange }): void {
  this[kExchange]?.release()
}
